"""How the contract suite runs forecasting on tiny data: two weekly series with a season and a covariate."""

from __future__ import annotations

from pathlib import Path

TASK = "forecasting"
SETTINGS = {"time": "week", "target": "sales", "series_id": "store", "covariates": "promo", "lookback": 16,
            "horizon": 4, "season": 13, "model": "gru", "hidden": 16, "quantiles": "0.1,0.5,0.9"}
QUICKSTART = {"epochs": 1, "baselines": False}


def make_data(request, scratch: Path) -> Path:
    import numpy as np
    import pandas as pd

    scratch.mkdir(parents=True, exist_ok=True)
    steps = np.arange(120)
    frames = [
        pd.DataFrame({
            "week": pd.date_range("2020-01-04", periods=120, freq="W-SAT"),
            "store": store,
            "sales": 50 + 10 * store + 5 * np.sin(2 * np.pi * steps / 13) + steps * 0.1,
            "promo": (steps % 5 == 0).astype(int),
        })
        for store in (1, 2)
    ]
    path = scratch / "sales.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def predict_inputs(data: Path) -> list:
    return [str(data)]
