"""Anomaly detectors on anomalies built from real datasets, the way anomaly benchmarks build theirs.

Each dataset that scikit-learn ships (no download) becomes a detection problem as ADBench and ODDS build
theirs: one class is normal, a rare sample of another class (or classes) are the anomalies. The table goes to
``torchworks train anomaly-detection`` with ``label=`` naming the anomaly column, which the detectors never
read; the task splits it, trains unsupervised on the training rows (anomalies included, as in practice), and
measures AUROC and average precision on the test rows for its own detector and for its baselines on the very
same rows: z-score, IsolationForest, HBOS and ECOD. Each problem is drawn with several seeds (the anomaly sample
and the split change); the tables show the mean and the spread.

    .venv/bin/python benchmarks/anomaly_quality.py                    # 5 seeds, both deep detectors
    .venv/bin/python benchmarks/anomaly_quality.py --seeds 3 --models autoencoder

Writes ``benchmarks/results/anomaly_quality.json`` and ``benchmarks/results/anomaly_quality.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
BASELINES = ("zscore", "isolation_forest", "hbos", "ecod")
MODELS = ("autoencoder", "deep_svdd")


def _breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    return data.data, data.target == 0  # malignant


def _wine() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    return data.data, data.target


def _digits() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_digits

    data = load_digits(as_frame=True)
    return data.data, data.target


# name: (loader, what is normal, what the anomalies are drawn from, share of anomalies, how it is built)
PROBLEMS = {
    "breast_cancer": (_breast_cancer, False, True, 0.05, "benign normal; 5% malignant (as ODDS' breastw)"),
    "wine": (_wine, (0, 2), 1, 0.08, "cultivars 0 and 2 normal; 8% of cultivar 1 (as ODDS' wine)"),
    "digits": (_digits, tuple(range(1, 10)), 0, 0.03, "digits 1-9 normal; 3% zeros (as ODDS' optdigits)"),
}


def build(name: str, seed: int) -> pd.DataFrame:
    """The problem ``name`` drawn with ``seed``: every normal row and a random rare sample of the anomalous
    class, shuffled, with the column ``anomaly`` (1 for the planted anomalies)."""
    load, normal, anomalous, share, _ = PROBLEMS[name]
    features, classes = load()
    normal_rows = features[classes.isin(normal if isinstance(normal, tuple) else (normal,))]
    candidates = features[classes.isin(anomalous if isinstance(anomalous, tuple) else (anomalous,))]
    count = max(3, round(share * len(normal_rows) / (1 - share)))
    chosen = candidates.sample(n=min(count, len(candidates)), random_state=seed)
    table = pd.concat([normal_rows.assign(anomaly=0), chosen.assign(anomaly=1)])
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--models", default=",".join(MODELS))
    arguments = parser.parse_args()
    import torchworks

    results = {"seeds": arguments.seeds, "cpus": os.cpu_count(), "problems": {}}
    with tempfile.TemporaryDirectory(prefix="anomaly-quality-") as folder:
        for name in arguments.problems.split(","):
            runs = []
            for seed in range(arguments.seeds):
                table = build(name, seed)
                path = Path(folder) / f"{name}-{seed}.csv"
                table.to_csv(path, index=False)
                scores: dict[str, dict] = {}
                for model in arguments.models.split(","):
                    started = time.perf_counter()
                    result = torchworks.train("anomaly-detection", data=str(path), label="anomaly", model=model,
                                              seed=seed, val_fraction=0.1, test_fraction=0.3,
                                              output=str(Path(folder) / "runs"), name=f"{name}-{seed}-{model}",
                                              mlflow=False, progress=False, baselines=model == MODELS[0])
                    metrics = result.metrics
                    scores[model] = {"auroc": metrics["auroc"], "average_precision": metrics["average_precision"],
                                     "seconds": round(time.perf_counter() - started, 1)}
                    for baseline, judged in metrics.get("baselines", {}).items():
                        scores[baseline] = {key: judged[key] for key in ("auroc", "average_precision")}
                runs.append({"seed": seed, "rows": len(table), "anomalies": int(table.anomaly.sum()), "scores": scores})
                print(f"{name} seed {seed}: " + ", ".join(f"{k} {v['auroc']:.3f}" for k, v in scores.items()),
                      flush=True)
            results["problems"][name] = {"built": PROBLEMS[name][4], "runs": runs}
    _write(results)


def _summary(runs: list[dict], contender: str, key: str) -> str:
    values = [run["scores"][contender][key] for run in runs if contender in run["scores"]]
    if not values:
        return "-"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def _write(results: dict) -> None:
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "anomaly_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    contenders = [*MODELS, *BASELINES]
    lines = [f"# Anomaly detectors on anomalies built from real datasets ({results['seeds']} seeds, "
             f"{results['cpus']} CPUs)", "",
             "Test rows of each draw; mean ± standard deviation over the seeds. The detectors never see the "
             "label; they train on the training rows, anomalies included.", ""]
    for key, title in (("auroc", "AUROC"), ("average_precision", "Average precision")):
        lines += [f"## {title}", "", "| problem | rows | anomalies | " + " | ".join(contenders) + " |",
                  "|---|---:|---:|" + "---:|" * len(contenders)]
        for name, problem in results["problems"].items():
            runs = problem["runs"]
            lines.append(f"| {name} | {runs[0]['rows']} | {runs[0]['anomalies']} | "
                         + " | ".join(_summary(runs, contender, key) for contender in contenders) + " |")
        lines.append("")
    lines += ["## How each problem is built", ""]
    lines += [f"- `{name}`: {problem['built']}" for name, problem in results["problems"].items()]
    (out / "anomaly_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
