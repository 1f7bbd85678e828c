"""Text-classification quality on ``tickets``: torchworks recipes against TF-IDF + logistic regression.

Each recipe trains with ``torchworks.train("text-classification", data="tickets", ...)``. Two test
sets score every model and the baseline, which is fitted on exactly the run's training split:

* the fixed test split of ``tickets`` (168 tickets, the ``split`` column), and
* ``benchmarks/data/tickets_independent.jsonl``: 150 tickets in the same six classes written
  separately, by another writer, for another imagined shop, never used for training or tuning.

    .venv/bin/python benchmarks/text_quality.py [--recipes finetune frozen embeddingbag bigru]

Writes ``benchmarks/results/text_quality.json`` and ``benchmarks/results/text_quality.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import torchworks
from torchworks.tasks import get_task
from torchworks.tasks.text_classification.baseline import tfidf_baseline
from torchworks.tasks.text_classification.data import encode_targets
from torchworks.tasks.text_classification.evaluation import text_metrics

HERE = Path(__file__).parent
INDEPENDENT = HERE / "data" / "tickets_independent.jsonl"
RECIPES = {
    "finetune": {"model": "minilm"},
    "frozen": {"model": "minilm", "freeze": "encoder"},
    "embeddingbag": {"model": "embeddingbag"},
    "bigru": {"model": "bigru"},
    "transformer": {"model": "transformer"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["finetune", "frozen", "embeddingbag", "bigru"],
                        choices=sorted(RECIPES))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    independent = [json.loads(line) for line in INDEPENDENT.read_text(encoding="utf-8").splitlines() if line]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.recipes:
            started = time.perf_counter()
            run = torchworks.train("text-classification", data="tickets", output=workdir, mlflow=False,
                                   progress=False, **RECIPES[name])
            seconds = time.perf_counter() - started
            rows.append(_score(name, run, independent, seconds))
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "text_quality.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "text_quality.md").write_text(_table(rows))
    print(_table(rows))


def _score(name: str, run, independent: list[dict], seconds: float) -> dict:
    """Macro-F1 and accuracy of the run and of TF-IDF + LR, on the fixed test split and the independent set."""
    task = get_task("text-classification")
    predictor = torchworks.load(run.path)
    data = task.prepare_data(predictor.config, state=predictor.bundle.state)  # the run's own split
    data.texts["test"] = [item["text"] for item in independent]
    data.label_sets["test"] = [[item["label"]] for item in independent]
    baseline = tfidf_baseline(data, predictor.config.seed, balanced=False)["tfidf_logreg"]
    labels = predictor.bundle.state["labels"]
    records = predictor.predict(data.texts["test"], top_k=len(labels))  # every class's probability
    probabilities = torch.tensor([[{p["label"]: p["probability"] for p in r["top_k"]}[label] for label in labels]
                                  for r in records])
    model = text_metrics(probabilities, encode_targets(data.label_sets["test"], data.state), data.state)
    base_test = run.metrics["baselines"]["tfidf_logreg"]
    return {
        "recipe": name, **RECIPES[name], "train_seconds": round(seconds, 1),
        "test_macro_f1": round(run.metrics["macro_f1"], 4), "test_accuracy": round(run.metrics["accuracy"], 4),
        "tfidf_test_macro_f1": round(base_test["macro_f1"], 4),
        "independent_macro_f1": round(model["macro_f1"], 4), "independent_accuracy": round(model["accuracy"], 4),
        "tfidf_independent_macro_f1": round(baseline["macro_f1"], 4),
    }


def _table(rows: list[dict]) -> str:
    lines = ["| recipe | model | test macro-F1 | TF-IDF+LR test | independent macro-F1 | TF-IDF+LR independent "
             "| train time |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        model = row["model"] + (" freeze=encoder" if row.get("freeze") else "")
        lines.append(f"| {row['recipe']} | {model} | {row['test_macro_f1']:.3f} | {row['tfidf_test_macro_f1']:.3f} | "
                     f"{row['independent_macro_f1']:.3f} | {row['tfidf_independent_macro_f1']:.3f} | "
                     f"{row['train_seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
