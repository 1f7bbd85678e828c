"""Preparing a run's data: labels, splits without leaks, tokenizer fitted on training texts only."""

from __future__ import annotations

import pytest
import torch

from torchworks.errors import DataError
from torchworks.tasks.text_classification.config import TextClassificationConfig
from torchworks.tasks.text_classification.data import collate_tokens, prepare_text_data
from torchworks.tasks.text_classification.tokenizing import TextEncoder



def _config(path, **settings):
    return TextClassificationConfig.model_validate({"data": str(path), "model": "bigru", **settings})


def test_labels_splits_and_state(tickets_csv):
    data = prepare_text_data(_config(tickets_csv))
    assert data.state["labels"] == ["account", "billing", "shipping"]
    assert (len(data.train), len(data.val), len(data.test)) == (48, 12, 12)
    assert data.state["multi_label"] is False and data.state["text_column"] == "message"
    tokens, target = data.train[0]
    assert tokens.dtype == torch.long and target.dtype == torch.long


def test_the_tokenizer_never_sees_test_texts(tmp_path, write_table):
    rows = [{"text": f"ordinary words here {i}", "label": "ab"[i % 2], "split": "train"} for i in range(20)]
    rows += [{"text": "zyxwvutsrq zyxwvutsrq zyxwvutsrq", "label": "a", "split": "test"}] * 3
    rows += [{"text": "plain words", "label": "b", "split": "test"}]
    data = prepare_text_data(_config(write_table(tmp_path / "t.csv", rows)))
    vocabulary = TextEncoder(data.state["tokenizer"], 64).tokenizer.get_vocab()
    assert not any("zyx" in token for token in vocabulary)


def test_copies_of_a_text_stay_in_one_split(tmp_path, write_table):
    rows = [{"text": f"text number {i}", "label": "ab"[i % 2]} for i in range(40)]
    rows += [{"text": "Text   NUMBER 3", "label": "b"}, {"text": "text number 3", "label": "b"}]
    data = prepare_text_data(_config(write_table(tmp_path / "t.csv", rows)))
    where = [split for split, texts in data.texts.items() for t in texts if " ".join(t.lower().split()) == "text number 3"]
    assert len(where) == 3 and len(set(where)) == 1
    assert any("repeat an earlier text" in str(v) for v in data.summary.values())


def test_a_label_seen_once_is_trained_on_and_reported(tmp_path, write_table):
    rows = [{"text": f"text number {i}", "label": "ab"[i % 2]} for i in range(40)]
    rows.append({"text": "the odd one", "label": "rare"})
    data = prepare_text_data(_config(write_table(tmp_path / "t.csv", rows)))
    assert "the odd one" in data.texts["train"]
    assert any("single example" in str(v) and "line 42" in str(v) for v in data.summary.values())


def test_one_class_only_is_refused(tmp_path, write_table):
    path = write_table(tmp_path / "t.csv", [{"text": f"t {i}", "label": "same"} for i in range(10)])
    with pytest.raises(DataError) as info:
        prepare_text_data(_config(path))
    assert "single label 'same'" in info.value.what


def test_multi_label_targets_and_weights(tmp_path, write_table):
    rows = [{"text": f"text {i}", "tags": ["x", "y", "x;y"][i % 3]} for i in range(30)]
    data = prepare_text_data(_config(write_table(tmp_path / "t.csv", rows), label_sep=";", class_weights="auto"))
    assert data.state["multi_label"] and data.state["labels"] == ["x", "y"]
    targets = torch.stack([data.train[i][1] for i in range(len(data.train))])
    assert targets.shape[1] == 2 and set(targets.sum(1).tolist()) <= {1.0, 2.0}
    # negatives per positive of each label, counted here over the training targets
    rows, positives = len(targets), targets.sum(0)
    expected = [round(float((rows - p) / p), 5) for p in positives]
    assert data.state["class_weights"] == pytest.approx(expected) and len(expected) == 2


def test_balanced_weights_for_imbalanced_classes(tmp_path, write_table):
    rows = [{"text": f"text {i}", "label": "common" if i % 10 else "rare"} for i in range(100)]
    state = prepare_text_data(_config(write_table(tmp_path / "t.csv", rows), class_weights="auto")).state
    weights = dict(zip(state["labels"], state["class_weights"]))
    assert weights["rare"] > 4 * weights["common"]


def test_bundle_state_is_reused_and_unknown_labels_refused(tickets_csv, tmp_path, write_table):
    config = _config(tickets_csv)
    first = prepare_text_data(config)
    again = prepare_text_data(config, state=first.state)
    assert again.state is first.state and again.fingerprint == first.fingerprint
    other = write_table(tmp_path / "o.csv", [{"text": "x", "label": "new"}, {"text": "y", "label": "billing"}])
    with pytest.raises(DataError) as info:
        prepare_text_data(_config(other), state=first.state)
    assert "new" in info.value.got


def test_collate_pads_and_masks():
    inputs, targets = collate_tokens([(torch.tensor([4, 5, 6]), torch.tensor(1)), (torch.tensor([7]), torch.tensor(0))], labelled=True)
    assert inputs["input_ids"].tolist() == [[4, 5, 6], [7, 0, 0]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert targets.tolist() == [1, 0]
