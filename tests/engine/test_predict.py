"""Partial prediction in the engine, for any task: bad inputs become error rows in input order, whether the
task passes them over while listing (up front), its dataset raises while decoding (lazily), or a whole input
fails; CSV output gets plain columns."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from torchworks.bad_inputs import pass_over
from torchworks.engine.predict import flat_record, predict_items, write_predictions
from torchworks.errors import DataError
from torchworks.tasks.values import InputKinds


class _Items(torch.utils.data.Dataset):
    """Item ``i`` is its number as a tensor; a name starting with ``lazy-bad`` raises when read."""

    def __init__(self, names: list[str]):
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.names[index].startswith("lazy-bad"):
            raise DataError(f"cannot decode '{self.names[index]}'", got="garbage")
        return torch.tensor([float(self.names[index].split(":")[-1])])


class _Task:
    """Inputs: ``"N"`` (a readable item), ``"up-bad"`` (passed over while listing), ``"lazy-bad"``
    (fails in the dataset), ``"explode"`` (the whole call fails), ``"many:N"`` (N items)."""

    name = "fake"
    input_kinds = InputKinds(files=(".num",), description="numbers")

    def __init__(self):
        self.calls: list[list[str]] = []
        self.formatted: list[list[str]] = []

    def predict_inputs(self, items, state):
        self.calls.append(list(items))
        names: list[str] = []
        for item in items:
            if item == "explode":
                raise DataError("cannot read 'explode'", got="a broken table")
            if item == "up-bad":
                pass_over(item, DataError("cannot read 'up-bad'", got="truncated"), len(names))
                continue
            if item.startswith("many:"):
                names += [f"{item}#{i}:{i}" for i in range(int(item.split(":")[1]))]
                continue
            names.append(item)
        if not names:
            raise DataError("nothing to predict", got="no inputs")
        return _Items(names), names

    def collate_fn(self, *, labelled):
        return torch.stack

    def format_predictions(self, outputs, ids, state, top_k):
        self.formatted.append(list(ids))
        return [{"input": name, "value": float(row[0])} for name, row in zip(ids, outputs)]


def _double(inputs):
    return inputs * 2


def _predict(task, items, **kwargs):
    return predict_items(task, _double, items, {}, top_k=1, batch_size=kwargs.pop("batch_size", 2), **kwargs)


def test_up_front_and_lazy_failures_become_rows_in_input_order():
    task = _Task()
    result = _predict(task, ["1", "up-bad", "2", "lazy-bad:3", "4", "5"])
    assert [r["input"] for r in result.records] == ["1", "up-bad", "2", "lazy-bad:3", "4", "5"]
    assert [r.get("value") for r in result.records] == [2.0, None, 4.0, None, 8.0, 10.0]
    assert result.records[1] == {"input": "up-bad", "error": "cannot read 'up-bad': got truncated"}
    assert result.records[3]["error"] == "cannot decode 'lazy-bad:3': got garbage"
    assert task.calls == [["1", "up-bad", "2", "lazy-bad:3", "4", "5"]], "read together, once"
    assert task.formatted == [["1"], ["2"], ["4", "5"]], "one format call per run between error rows"
    assert [b.input for b in result.bad] == ["up-bad", "lazy-bad:3"] and result.inputs == 6
    assert result.summary() == ("2 of 6 inputs could not be read (first: up-bad: truncated; lazy-bad:3: garbage); "
                                "their rows carry an error")


def test_an_input_whose_reading_fails_altogether_is_isolated_from_the_others():
    task = _Task()
    result = _predict(task, ["1", "explode", "many:3"])
    assert [r["input"] for r in result.records] == ["1", "explode", "many:3#0:0", "many:3#1:1", "many:3#2:2"]
    assert result.records[1]["error"] == "cannot read 'explode': got a broken table"
    assert task.calls[1:] == [["1"], ["explode"], ["many:3"]], "after the failed call, one call per input"
    assert [r.get("value") for r in result.records] == [2.0, None, 0.0, 2.0, 4.0]


def test_a_file_of_another_kind_is_an_error_row_and_is_never_read(tmp_path):
    png = tmp_path / "d0.png"
    png.write_bytes(b"")
    task = _Task()
    result = _predict(task, ["1", str(png), "2"])
    assert [r.get("error", "")[:28] for r in result.records] == ["", f"cannot predict from '{png}'"[:28], ""]
    assert str(png) not in sum(task.calls, []), "the PNG never reaches the task"
    assert task.calls == [["1"], ["2"]]


def test_every_input_bad_is_an_error_naming_the_first():
    with pytest.raises(DataError) as info:
        _predict(_Task(), ["up-bad", "lazy-bad:1", "explode"])
    assert info.value.what == "none of the 3 inputs could be read" and "up-bad: truncated" in info.value.got
    with pytest.raises(DataError) as info:
        _predict(_Task(), ["lazy-bad:1"])
    assert info.value.what == "cannot decode 'lazy-bad:1'", "one input: its own error"


def test_fail_stops_at_the_first_bad_input(tmp_path):
    with pytest.raises(DataError, match="up-bad"):
        _predict(_Task(), ["1", "up-bad", "2"], bad_files="fail")
    with pytest.raises(DataError, match="lazy-bad"):
        _predict(_Task(), ["1", "lazy-bad:2"], bad_files="fail")
    png = tmp_path / "d0.png"
    png.write_bytes(b"")
    task = _Task()
    with pytest.raises(DataError, match="cannot predict from"):
        _predict(task, ["1", str(png)], bad_files="fail")
    assert task.calls == [], "checked before anything is read"
    assert [r["value"] for r in _predict(_Task(), ["1", "2", "3"], bad_files="fail").records] == [2.0, 4.0, 6.0]


def test_a_whole_batch_of_failures_is_skipped_and_the_rest_still_batched():
    result = _predict(_Task(), ["lazy-bad:1", "lazy-bad:2", "3", "4", "5"], batch_size=2)
    assert [r.get("value") for r in result.records] == [None, None, 6.0, 8.0, 10.0]


TEXT = {"input": "late parcel", "source": "inbox.csv", "row": 2, "label": "delivery", "probability": 0.9,
        "top_k": [{"label": "delivery", "probability": 0.9}, {"label": "billing", "probability": 0.1}],
        "probabilities": {"delivery": 0.9, "billing": 0.1}}
IMAGE = {"input": "a.png", "label": "cat", "probability": 0.7,
         "top_k": [{"label": "cat", "probability": 0.7}, {"label": "dog", "probability": 0.3}]}


def test_records_flatten_into_plain_columns():
    assert flat_record(TEXT) == {"input": "late parcel", "source": "inbox.csv", "row": 2, "label": "delivery",
                                 "probability": 0.9, "p_delivery": 0.9, "p_billing": 0.1}
    assert flat_record(IMAGE) == {"input": "a.png", "label": "cat", "probability": 0.7, "top_k_1_label": "cat",
                                  "top_k_1_probability": 0.7, "top_k_2_label": "dog", "top_k_2_probability": 0.3}
    assert flat_record({"input": "t", "labels": ["a", "b"], "spans": [[1, 2]]}) == {
        "input": "t", "labels": "a;b", "spans": "[[1, 2]]"}
    assert flat_record({"input": "x", "box": {"x": 1, "y": 2}}) == {"input": "x", "box_x": 1, "box_y": 2}


def test_csv_has_plain_columns_and_the_error_column_last_and_json_stays_nested(tmp_path):
    records = [{"input": "bad.csv", "error": "cannot read 'bad.csv': got garbage"}, TEXT]
    write_predictions(records, tmp_path / "p.csv")
    with (tmp_path / "p.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["input", "source", "row", "label", "probability", "p_delivery", "p_billing", "error"]
    assert rows[0]["label"] == "" and rows[0]["error"].startswith("cannot read")
    assert rows[1]["row"] == "2" and rows[1]["p_billing"] == "0.1" and rows[1]["error"] == ""
    assert "{" not in (tmp_path / "p.csv").read_text(), "no JSON inside cells"
    write_predictions(records, tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text()) == records
