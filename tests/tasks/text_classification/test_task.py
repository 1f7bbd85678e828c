"""The text-classification task end to end: CLI train/predict/evaluate, multi-label, a pretrained
encoder whose bundle needs nothing else, and the bad inputs a new user tries (exit 2, clear words)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import base64

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, hamming_loss

import torchworks

TASK = "text-classification"
QUIET = ["mlflow=false", "progress=false"]
SMALL = ["model=bigru", "embedding_dim=16", "hidden=16", "layers=1", "epochs=3"]



def _test_split_predictions(run: Path):
    """Predicted and true class indices of the bundle's model on its rebuilt test split (argmax of
    its outputs, computed here), as numpy arrays."""
    import torch

    from torchworks.engine.loading import load_model

    bundle, task, config, model = load_model(run)
    data = task.prepare_data(config, state=bundle.state)
    inputs, targets = task.collate_fn(labelled=True)([data.test[i] for i in range(len(data.test))])
    with torch.no_grad():
        predicted = model(inputs).argmax(dim=1)
    return predicted.numpy(), np.asarray(targets)


def _multi_label_test_split(run: Path):
    """Labels switched on (sigmoid >= 0.5, computed here) and the true label sets of the bundle's model
    on its rebuilt test split, as 0/1 numpy arrays."""
    import torch

    from torchworks.engine.loading import load_model

    bundle, task, config, model = load_model(run)
    data = task.prepare_data(config, state=bundle.state)
    inputs, targets = task.collate_fn(labelled=True)([data.test[i] for i in range(len(data.test))])
    with torch.no_grad():
        on = model(inputs).sigmoid() >= 0.5
    return on.int().numpy(), np.asarray(targets).astype(int)


def _error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_train_predict_and_evaluate_from_the_command_line(tickets_csv, tmp_path, cli):
    code, out, err = cli("train", TASK, f"data={tickets_csv}", f"output={tmp_path}/runs",
                          *SMALL, *QUIET)
    assert code == 0, err
    run = Path(out.strip().splitlines()[-1].removeprefix("bundle: "))
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "per_class", "baselines"} <= set(metrics)
    assert "tfidf_logreg" in metrics["baselines"] and set(metrics["per_class"]) == {"account", "billing", "shipping"}
    labels = ["account", "billing", "shipping"]
    predicted, targets = _test_split_predictions(run)
    assert metrics["test_samples"] == len(targets)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(targets, predicted), abs=1e-6)
    assert metrics["macro_f1"] == pytest.approx(f1_score(targets, predicted, labels=[0, 1, 2], average="macro",
                                                         zero_division=0), abs=1e-6)
    support = np.bincount(targets, minlength=3)
    assert [metrics["per_class"][label]["support"] for label in labels] == support.tolist()
    confusion = (run / "plots" / "confusion_matrix.png").read_bytes()
    assert confusion[:8] == b"\x89PNG\r\n\x1a\n"
    page = (run / "report.html").read_text(encoding="utf-8")
    assert f"{metrics['accuracy']:.4f}" in page
    assert f"data:image/png;base64,{base64.b64encode(confusion).decode('ascii')}" in page

    code, out, err = cli("predict", str(run), "my parcel tracking is late",
                          "--output", str(tmp_path / "one.json"))
    assert code == 0, err
    record = json.loads((tmp_path / "one.json").read_text())[0]
    assert record["input"] == "my parcel tracking is late" and len(record["top_k"]) == 3

    inbox = tmp_path / "inbox.csv"
    inbox.write_text("message\nI was charged twice on my card\nforgot my password\n", encoding="utf-8")
    code, out, err = cli("predict", str(run), str(inbox), "--output", str(tmp_path / "routed.csv"))
    assert code == 0, err
    with (tmp_path / "routed.csv").open() as handle:
        routed = list(csv.DictReader(handle))
    assert [r["row"] for r in routed] == ["2", "3"] and all(r["label"] in labels for r in routed)
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in routed)

    code, out, err = cli("evaluate", str(run))
    assert code == 0, err
    evaluated = json.loads((run / "metrics.json").read_text())
    assert evaluated["accuracy"] == pytest.approx(metrics["accuracy"])
    assert evaluated["macro_f1"] == pytest.approx(metrics["macro_f1"])
    for key in ("per_class", "test_samples", "baselines"):
        assert evaluated[key] == metrics[key], key


def test_multi_label_end_to_end(tmp_path, write_table):
    words = {"billing": "refund invoice charged", "shipping": "parcel courier tracking"}
    rows = []
    for i in range(60):
        tags = [["billing"], ["shipping"], ["billing", "shipping"]][i % 3]
        rows.append({"text": " ".join(words[t].split()[i % 3] for t in tags) + f" please {i % 7}", "tags": ";".join(tags)})
    path = write_table(tmp_path / "multi.csv", rows)
    result = torchworks.train(TASK, data=str(path), label_sep=";", model="embeddingbag", epochs=8,
                              output=str(tmp_path / "runs"), mlflow=False, progress=False)
    assert {"subset_accuracy", "hamming_loss", "macro_f1", "micro_f1"} <= set(result.metrics)
    on, truth = _multi_label_test_split(result.path)
    assert result.metrics["subset_accuracy"] == pytest.approx(accuracy_score(truth, on), abs=1e-6)
    assert result.metrics["hamming_loss"] == pytest.approx(hamming_loss(truth, on), abs=1e-6)
    assert result.metrics["micro_f1"] == pytest.approx(f1_score(truth, on, average="micro", zero_division=0), abs=1e-6)
    assert result.metrics["macro_f1"] == pytest.approx(f1_score(truth, on, average="macro", zero_division=0), abs=1e-6)
    predicted = torchworks.load(result.path).predict("refund and a parcel")[0]
    assert set(predicted["probabilities"]) == {"billing", "shipping"}
    assert predicted["labels"] == [label for label in ("billing", "shipping") if predicted["probabilities"][label] >= 0.5]


@pytest.mark.slow
def test_a_frozen_pretrained_encoder_bundle_loads_without_its_source(tickets_csv, tmp_path, monkeypatch):
    result = torchworks.train(TASK, data=str(tickets_csv), model="minilm", freeze="encoder", epochs=2,
                              output=str(tmp_path / "runs"), mlflow=False, progress=False)
    assert result.metrics["macro_f1"] > 0.5

    def unavailable(name):
        raise AssertionError("loading a bundle must not look for the pretrained model")

    monkeypatch.setattr("torchworks.tasks.text_classification.pretrained.locate_encoder", unavailable)
    predictions = torchworks.load(result.path).predict(["please reset my password", "where is my parcel"])
    assert [p["label"] for p in predictions] == ["account", "shipping"]


@pytest.mark.parametrize("case", ["missing_text_column", "empty_file", "one_class", "model_not_offline",
                                  "not_utf8"])
def test_bad_inputs_are_clear_errors(case, tickets_csv, tmp_path, cli):
    args = [f"data={tickets_csv}"]
    if case == "missing_text_column":
        args.append("text=body")
    elif case == "empty_file":
        (tmp_path / "empty.csv").write_text("")
        args = [f"data={tmp_path / 'empty.csv'}"]
    elif case == "one_class":
        (tmp_path / "one.csv").write_text("text,label\n" + "".join(f"text {i},billing\n" for i in range(9)))
        args = [f"data={tmp_path / 'one.csv'}"]
    elif case == "model_not_offline":
        args.append("model=sentence-transformers/all-mpnet-base-v2")
    elif case == "not_utf8":
        (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9,a\nok,b\n".encode("latin-1"))
        args = [f"data={tmp_path / 'latin.csv'}"]
    code, out, err = cli("train", TASK, *args, f"output={tmp_path}/runs", *QUIET)
    assert code == 2 and out == ""
    message = _error(err)
    expected = {
        "missing_text_column": ["'body'", "message, category"],
        "empty_file": ["empty.csv", "empty"],
        "one_class": ["single label 'billing'", "at least two"],
        "model_not_offline": ["all-mpnet-base-v2", "not available on this machine"],
        "not_utf8": ["latin.csv", "line 2", "encoding="],
    }[case]
    for needle in expected:
        assert needle in message, message
    assert not (tmp_path / "runs" / TASK).exists() or not any((tmp_path / "runs" / TASK).iterdir())
