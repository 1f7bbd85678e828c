"""Anomaly scan of 4,000,000 ticket-sales rows: the case study's scripts against torchworks, side by side.

The same generated file (``torchworks data make ticket-sales``, planted anomalies in known rows) is scored by

- ``pandas_zscore``: pandas reads the file, scipy's ``zscore`` standardises the numeric columns, a row's score
  is its largest |z| (the case study's first script);
- ``pandas_isolation_forest``: pandas reads the file, scikit-learn's IsolationForest (100 trees) is fitted on
  the numeric columns and the channel, payment method and country as category codes, and scores every row
  (the case study's second script);
- ``torchworks``: ``torchworks train anomaly-detection`` (the default autoencoder; training reads a uniform
  sample of 200,000 rows) and ``torchworks predict RUN sales.parquet --output scores.parquet`` (every row,
  streamed in record batches).

Each runs in its own process, so its peak resident memory is its own; wall time and peak RSS are measured
from outside. Every contender's scores are judged against the planted anomalies (AUROC, average precision)
over all rows. The scan goals: torchworks' predict over all rows in 60 s or less on 2 cores, peak RSS 3 GB or
less, and a higher average precision than both scripts.

    .venv/bin/python benchmarks/anomaly_scan.py                   # 4,000,000 rows (about 5 minutes)
    .venv/bin/python benchmarks/anomaly_scan.py --rows 500000     # quicker

Writes ``benchmarks/results/anomaly_scan.json`` and ``benchmarks/results/anomaly_scan.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
NUMERIC = ["price", "quantity", "total", "checkout_seconds"]
CODED = ["channel", "payment_method", "country"]
LABELS = ["is_anomaly", "anomaly_kind", "is_ok"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step", help=argparse.SUPPRESS)  # one contender, run in a child process
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.step:
        STEPS[arguments.step](Path(arguments.data), Path(arguments.out))
        return
    with tempfile.TemporaryDirectory(prefix="anomaly-scan-") as folder:
        work = Path(folder)
        data = work / "sales.parquet"
        made = _measured([sys.executable, "-m", "torchworks", "data", "make", "ticket-sales", f"out={data}",
                          f"rows={arguments.rows}", f"seed={arguments.seed}"])
        results = {"rows": arguments.rows, "seed": arguments.seed, "cpus": os.cpu_count(),
                   "generate_seconds": made["seconds"]}
        for step in ("pandas_zscore", "pandas_isolation_forest"):
            scores = work / f"{step}.npy"
            results[step] = {**_measured([sys.executable, __file__, "--step", step, "--data", str(data),
                                          "--out", str(scores)]), **_judged(data, scores)}
        results["torchworks"] = _torchworks(data, work)
    _write(results)


def _torchworks(data: Path, work: Path) -> dict:
    torchworks = [sys.executable, "-m", "torchworks"]
    train = _measured([*torchworks, "train", "anomaly-detection", f"data={data}", "drop=" + ",".join(LABELS),
                       "id=order_id", f"output={work / 'runs'}", "name=scan", "mlflow=false", "progress=false",
                       "baselines=false"])
    run = work / "runs" / "anomaly-detection" / "scan"
    scores = work / "scores.parquet"
    scan = _measured([*torchworks, "predict", str(run), str(data), "--output", str(scores)])
    return {"train_seconds": train["seconds"], "train_peak_rss_gb": train["peak_rss_gb"],
            "seconds": scan["seconds"], "peak_rss_gb": scan["peak_rss_gb"], **_judged(data, scores)}


def _pandas_zscore(data: Path, out: Path) -> None:
    import numpy as np
    import pandas as pd
    from scipy import stats

    frame = pd.read_parquet(data)
    z = np.abs(stats.zscore(frame[NUMERIC].to_numpy(dtype=float), axis=0, nan_policy="omit"))
    np.save(out, np.nan_to_num(z).max(axis=1))


def _pandas_isolation_forest(data: Path, out: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import IsolationForest

    frame = pd.read_parquet(data)
    features = frame[NUMERIC].astype(float)
    for column in CODED:
        features[column] = frame[column].astype("category").cat.codes
    forest = IsolationForest(n_estimators=100, random_state=0, n_jobs=-1).fit(features)
    np.save(out, -forest.score_samples(features))


STEPS = {"pandas_zscore": _pandas_zscore, "pandas_isolation_forest": _pandas_isolation_forest}


def _measured(command: list[str]) -> dict:
    """Run ``command``; its wall time and the peak resident memory of its process tree (sampled every 50 ms)."""
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)]))
        except psutil.Error:
            pass
        time.sleep(0.05)
    output = process.stdout.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} failed:\n{output[-3000:]}")
    return {"seconds": round(time.perf_counter() - started, 2), "peak_rss_gb": round(peak / 2**30, 3),
            "last_line": output.strip().splitlines()[-1] if output.strip() else ""}


def _judged(data: Path, scores: Path) -> dict:
    """AUROC and average precision of a contender's scores (a .npy, or torchworks' scores file) over all rows."""
    import numpy as np
    import pyarrow.parquet as pq
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = pq.read_table(data, columns=["is_anomaly"]).column(0).to_numpy()
    values = np.load(scores) if scores.suffix == ".npy" else \
        pq.read_table(scores, columns=["anomaly_score"]).column(0).to_numpy()
    if len(values) != len(truth):
        raise SystemExit(f"{scores.name}: {len(values)} scores for {len(truth)} rows")
    return {"auroc": round(float(roc_auc_score(truth, values)), 4),
            "average_precision": round(float(average_precision_score(truth, values)), 4)}


def _write(results: dict) -> None:
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "anomaly_scan.json").write_text(json.dumps(results, indent=2) + "\n")
    ours = results["torchworks"]
    lines = [f"# Anomaly scan: {results['rows']:,} ticket-sales rows, {results['cpus']} CPUs", "",
             "| contender | wall s | peak RSS GB | AUROC | average precision |", "|---|---:|---:|---:|---:|"]
    for name in ("pandas_zscore", "pandas_isolation_forest", "torchworks"):
        row = results[name]
        label = "torchworks predict (scan)" if name == "torchworks" else name
        lines.append(f"| {label} | {row['seconds']} | {row['peak_rss_gb']} | {row['auroc']} | "
                     f"{row['average_precision']} |")
    lines += ["", f"torchworks train (sample of 200,000 rows): {ours['train_seconds']} s, peak RSS "
              f"{ours['train_peak_rss_gb']} GB.", "",
              "Ratios (scan against each script): " + ", ".join(
                  f"{name}: {results[name]['seconds'] / ours['seconds']:.2f}x the time, average precision "
                  f"{ours['average_precision'] / max(results[name]['average_precision'], 1e-9):.2f}x"
                  for name in ("pandas_zscore", "pandas_isolation_forest"))]
    (out / "anomaly_scan.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
