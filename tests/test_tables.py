"""Reading user tables: formats, encodings and rows named as the user sees them."""

from __future__ import annotations

import pandas as pd
import pytest

from torchworks.errors import DataError
from torchworks.tables import decode_text, listing, read_source


def test_json_lines_are_read_with_blank_lines_kept_as_rows(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n\n{"text": "b", "label": 1}\n', encoding="utf-8")
    frame, rows = read_source(path)
    assert list(frame["text"]) == ["a", "", "b"] and rows.unit == "line" and rows.first == 1


def test_bad_json_line_is_named(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_source(path)
    assert "line 2" in info.value.what


def test_bytes_outside_the_encoding_are_named_by_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("text,label\nfine,a\ncaf\xe9 cr\xe8me,b\nok,a\n\xff,b\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        read_source(path)
    assert "lines 3 and 5" in info.value.got and "encoding=cp1252" in info.value.hint
    frame, _ = read_source(path, encoding="latin-1")
    assert frame["text"][1] == "café crème"


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufefftext,label\nx,y\n".encode("utf-8"))
    assert list(read_source(path)[0].columns) == ["text", "label"]


def test_unknown_encoding_is_a_clear_error():
    with pytest.raises(DataError) as info:
        decode_text(b"x", "f.csv", "utf-9")
    assert "utf-9" in info.value.what


def test_dataframes_are_numbered_by_row():
    frame, rows = read_source(pd.DataFrame({"text": ["a"]}))
    assert rows.unit == "row" and rows.first == 1 and len(frame) == 1


def test_listing_shortens_long_lists():
    assert listing(["1", "2"]) == "1 and 2"
    assert listing([str(i) for i in range(8)]) == "0, 1, 2, 3, 4 and 3 more"
