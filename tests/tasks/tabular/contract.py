"""How the contract suite runs tabular on tiny data: 120 loan applications with numbers, categories, a date,
missing cells and an id, and a binary target that depends on them."""

from __future__ import annotations

from pathlib import Path

TASK = "tabular"
SETTINGS = {"target": "default", "width": 16, "layers": 1, "token_width": 4, "id": "application"}
QUICKSTART = {"epochs": 1, "baselines": False, "width": 16, "layers": 1}


def make_data(request, scratch: Path) -> Path:
    import numpy as np
    import pandas as pd

    scratch.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = 120
    income = rng.lognormal(10.5, 0.4, rows).round(0)
    amount = rng.uniform(1_000, 40_000, rows).round(0)
    purpose = rng.choice(["car", "home", "study", "travel"], rows)
    risk = amount / income + (purpose == "travel") * 0.3 + rng.normal(0, 0.1, rows)
    frame = pd.DataFrame({
        "application": [f"A{i:04d}" for i in range(rows)], "income": income, "amount": amount,
        "purpose": purpose, "applied": pd.date_range("2026-01-01", periods=rows, freq="13h").strftime("%Y-%m-%d %H:%M"),
        "years_employed": np.where(rng.random(rows) < 0.1, np.nan, rng.integers(0, 30, rows)),
        "default": np.where(risk > np.median(risk), "yes", "no"),
    })
    path = scratch / "loans.csv"
    frame.to_csv(path, index=False)
    return path


def predict_inputs(data: Path) -> list:
    return [str(data)]
