"""What predict reads: strings, lists, DataFrames and files; and the records it returns."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from torchworks.errors import DataError
from torchworks.tasks.text_classification.predicting import prediction_records, text_inputs
from torchworks.tasks.text_classification.tokenizing import train_tokenizer

STATE = {"tokenizer": train_tokenizer(["my parcel is late", "refund me"] * 3, 200), "max_length": 4,
         "text_column": "review", "labels": ["a", "b", "c"], "multi_label": False, "threshold": 0.5}


def test_strings_lists_files_and_frames(tmp_path, write_table):
    write_table(tmp_path / "inbox.csv", [{"id": "1", "review": "first"}, {"id": "2", "review": ""},
                                         {"id": "3", "review": "third"}])
    (tmp_path / "notes.txt").write_text("one\n\ntwo\n", encoding="utf-8")
    frame = pd.DataFrame({"text": ["from a frame"]})
    assert [o["input"] for o in text_inputs([pd.Series(["s1", "s2"])], STATE)[1]] == ["s1", "s2"]
    dataset, origins = text_inputs(["a text", ["x", "y"], str(tmp_path / "inbox.csv"), tmp_path / "notes.txt",
                                    frame], STATE)
    assert [o["input"] for o in origins] == ["a text", "x", "y", "first", "third", "one", "two", "from a frame"]
    assert origins[4] == {"input": "third", "source": str(tmp_path / "inbox.csv"), "row": 4, "id": "3"}
    assert origins[6]["row"] == 3 and len(dataset) == 8


def test_a_missing_file_is_named_not_classified():
    with pytest.raises(DataError) as info:
        text_inputs(["inbox.csv"], STATE)
    assert "inbox.csv" in info.value.what


def test_nothing_to_predict_and_empty_text_are_errors():
    with pytest.raises(DataError):
        text_inputs([], STATE)
    with pytest.raises(DataError):
        text_inputs(["   "], STATE)


def test_single_label_records_have_label_probability_and_top_k():
    records = prediction_records(torch.tensor([[0.0, 2.0, 1.0]]), [{"input": "t"}], STATE, top_k=2)
    assert records[0]["label"] == "b" and [c["label"] for c in records[0]["top_k"]] == ["b", "c"]
    assert records[0]["probability"] == pytest.approx(float(torch.tensor([0.0, 2.0, 1.0]).softmax(0)[1]), abs=1e-6)
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_multi_label_records_list_every_label_over_the_threshold():
    state = {**STATE, "multi_label": True}
    record = prediction_records(torch.tensor([[3.0, -3.0, 1.0]]), [{"input": "t"}], state, top_k=3)[0]
    assert record["labels"] == ["a", "c"] and set(record["probabilities"]) == {"a", "b", "c"}
    # independent sigmoids, one per label (they need not sum to 1)
    expected = torch.tensor([3.0, -3.0, 1.0]).sigmoid().tolist()
    assert [record["probabilities"][k] for k in "abc"] == pytest.approx(expected, abs=1e-4)


def test_while_predict_collects_bad_inputs_a_missing_file_is_passed_over_in_its_place():
    from torchworks.bad_inputs import collecting_bad_inputs

    with collecting_bad_inputs() as bad:
        _, origins = text_inputs(["first", "inbox.csv", "   ", "second"], STATE)
    assert [o["input"] for o in origins] == ["first", "second"]
    assert [(b.input, b.position) for b in bad.found] == [("inbox.csv", 1), ("   ", 1)]
    assert "does not exist" in bad.found[0].message
