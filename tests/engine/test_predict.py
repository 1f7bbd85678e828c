"""Partial prediction in the engine, for any task: bad inputs become error rows in input order, whether the
task passes them over while listing (up front), its dataset raises while decoding (lazily), or a whole input
fails; CSV output gets plain columns."""

from __future__ import annotations


import pytest
import torch

from torchworks.bad_inputs import pass_over
from torchworks.engine.predict import predict_items
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
