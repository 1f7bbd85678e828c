"""Inputs a prediction cannot read: raised outside a collecting block, recorded (with their place) inside."""

from __future__ import annotations

import pytest

from torchworks.bad_inputs import collecting_bad_inputs, pass_over, short_message
from torchworks.errors import DataError

BROKEN = DataError("cannot read image 'a.png'", expected="a readable image file", got="image file is truncated",
                   hint="fix or remove that file")


def test_outside_a_collecting_block_the_error_is_raised():
    with pytest.raises(DataError) as info:
        pass_over("a.png", BROKEN, 0)
    assert info.value is BROKEN


def test_inside_it_is_recorded_in_order_with_its_position_and_a_one_line_message():
    with collecting_bad_inputs() as bad:
        pass_over("a.png", BROKEN, 0)
        pass_over("b.png", DataError("cannot read image 'b.png'", got="file not found"), 3)
    assert [(b.input, b.position) for b in bad.found] == [("a.png", 0), ("b.png", 3)]
    assert bad.found[0].message == "cannot read image 'a.png': expected a readable image file, got image file is truncated"
    with pytest.raises(DataError):  # the block is over: raised again
        pass_over("c.png", BROKEN, 0)


def test_the_short_message_leaves_the_hint_out():
    assert "Hint" not in short_message(BROKEN) and "truncated" in short_message(BROKEN)
