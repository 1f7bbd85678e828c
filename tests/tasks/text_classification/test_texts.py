"""Reading texts and labels: columns found or named, bad rows skipped or refused by row, splits."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from torchworks.errors import DataError
from torchworks.tasks.text_classification.texts import read_texts


def test_columns_are_found_by_name(tickets_csv):
    table = read_texts(tickets_csv)
    assert table.text_column == "message" and len(table.texts) == 72
    assert {names[0] for names in table.labels} == {"billing", "shipping", "account"}


def test_a_missing_text_column_lists_the_columns_that_exist(tickets_csv):
    with pytest.raises(DataError) as info:
        read_texts(tickets_csv, text="review")
    assert "'review'" in info.value.what and "message, category" in info.value.expected


def test_no_recognisable_text_column_says_how_to_name_it(tmp_path, write_table):
    path = write_table(tmp_path / "x.csv", [{"a": "hello there", "b": "x"}])
    with pytest.raises(DataError) as info:
        read_texts(path)
    assert "text=COLUMN" in info.value.hint and "a, b" in info.value.got


def test_empty_texts_and_missing_labels_are_skipped_and_named(tmp_path, write_table):
    rows = [{"text": "fine", "label": "a"}, {"text": "  ", "label": "a"}, {"text": "no label", "label": ""},
            {"text": "ok", "label": "b"}]
    table = read_texts(write_table(tmp_path / "x.csv", rows))
    assert table.texts == ["fine", "ok"] and table.numbers == [2, 5]
    assert any("empty text (line 3)" in n for n in table.notes)
    assert any("no label (line 4)" in n for n in table.notes)


def test_bad_rows_fail_names_the_rows(tmp_path, write_table):
    rows = [{"text": "fine", "label": "a"}, {"text": "", "label": "a"}]
    with pytest.raises(DataError) as info:
        read_texts(write_table(tmp_path / "x.csv", rows), bad_rows="fail")
    assert "line 3" in info.value.what


def test_multi_label_cells_are_split_and_deduplicated(tmp_path, write_table):
    rows = [{"text": "a", "tags": "x; y;x"}, {"text": "b", "tags": "y"}]
    table = read_texts(write_table(tmp_path / "x.csv", rows), label_sep=";")
    assert table.labels == [["x", "y"], ["y"]]


def test_tsv_and_json_lines_and_parquet(tmp_path, write_table):
    write_table(tmp_path / "x.tsv", [{"review": "good, really", "sentiment": "pos"}], delimiter="\t")
    assert read_texts(tmp_path / "x.tsv").texts == ["good, really"]
    (tmp_path / "x.jsonl").write_text(json.dumps({"text": "hi", "label": 1}) + "\n", encoding="utf-8")
    assert read_texts(tmp_path / "x.jsonl").labels == [["1"]]
    pd.DataFrame({"text": ["a", "b"], "label": [0.0, 1.0]}).to_parquet(tmp_path / "x.parquet")
    assert read_texts(tmp_path / "x.parquet").labels == [["0"], ["1"]]


def test_split_column_is_honoured_and_checked(tmp_path, write_table):
    rows = [{"text": "a", "label": "x", "split": "Train"}, {"text": "b", "label": "x", "split": "test"},
            {"text": "c", "label": "y", "split": ""}]
    assert read_texts(write_table(tmp_path / "x.csv", rows)).splits == ["train", "test", None]
    rows[2]["split"] = "later"
    with pytest.raises(DataError) as info:
        read_texts(write_table(tmp_path / "y.csv", rows))
    assert "'later' on line 4" in info.value.got


def test_an_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError) as info:
        read_texts(tmp_path / "empty.csv")
    assert "empty" in info.value.what


def test_a_header_only_file_has_no_rows(tmp_path):
    (tmp_path / "h.csv").write_text("text,label\n")
    with pytest.raises(DataError) as info:
        read_texts(tmp_path / "h.csv")
    assert "no data rows" in info.value.what
