"""Targets and options of an explanation: checked, with hints."""

from __future__ import annotations

import pytest

from torchworks.errors import ConfigError
from torchworks.attribution.values import class_target, fraction, positive_int, rounded


def test_the_predicted_class_by_default_or_a_class_by_name():
    assert class_target(None, ["cat", "dog"], 1) == (1, "dog")
    assert class_target("cat", ["cat", "dog"], 1) == (0, "cat")
    with pytest.raises(ConfigError) as info:
        class_target("dgo", ["cat", "dog"], 0)
    assert "did you mean 'dog'?" in info.value.hint and "cat, dog" in info.value.expected


@pytest.mark.parametrize("value", ["0", "-3", "many", "1.5"])
def test_a_step_count_must_be_a_positive_whole_number(value):
    assert positive_int({}, "steps", 32) == 32 and positive_int({"steps": "8"}, "steps", 32) == 8
    with pytest.raises(ConfigError) as info:
        positive_int({"steps": value}, "steps", 32)
    assert "'steps'" in info.value.what


@pytest.mark.parametrize("value", ["0", "1", "-0.2", "1.5", "half"])
def test_a_fraction_lies_strictly_between_0_and_1(value):
    assert fraction({}, "conf", 0.25) == 0.25 and fraction({"conf": "0.4"}, "conf", 0.25) == 0.4
    with pytest.raises(ConfigError) as info:
        fraction({"conf": value}, "conf", 0.25)
    assert "'conf'" in info.value.what and info.value.got == repr(value)


def test_rounded_values_are_plain_finite_floats():
    assert rounded([1.234567, float("nan")], 3) == [1.23, 0.0]
    assert rounded([[0.000123456]], 2) == [[0.00012]]
