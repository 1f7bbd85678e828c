"""The forecasting task end to end on tiny CSVs: leakage, metrics and baselines, predict, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import torchworks
from torchworks.errors import DataError
from torchworks.tasks.forecasting.config import ForecastingConfig
from torchworks.tasks.forecasting.data import prepare_forecast_data

SETTINGS = {"time": "week", "target": "sales", "lookback": 16, "horizon": 4, "season": 13,
            "epochs": 2, "batch_size": 16, "mlflow": False, "progress": False}
METRIC_KEYS = {"rmse", "mae", "mape", "smape", "mase"}


def _weekly(path: Path, n: int = 140, stores: tuple[str, ...] = ("", )) -> Path:
    steps = np.arange(n)
    frames = []
    for number, store in enumerate(stores):
        frame = pd.DataFrame({
            "week": pd.date_range("2020-01-04", periods=n, freq="W-SAT"),
            "sales": 100 + 10 * number + 8 * np.sin(2 * np.pi * steps / 13) + 0.2 * steps,
            "promo": (steps % 4 == 0).astype(int),
        })
        if store:
            frame.insert(1, "store", store)
        frames.append(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(path, index=False)
    return path


def _training_tensors(path: Path) -> list[torch.Tensor]:
    config = ForecastingConfig(data=str(path), **{k: v for k, v in SETTINGS.items() if k not in ("mlflow", "progress")},
                               covariates=["promo"])
    data = prepare_forecast_data(config)
    return [tensor for pair in data.train for tensor in pair]


def test_changing_a_future_value_in_the_file_changes_no_training_input(tmp_path):
    path = _weekly(tmp_path / "sales.csv")
    before = _training_tensors(path)
    frame = pd.read_csv(path)
    frame.loc[len(frame) - 10 :, "sales"] *= 50  # the test period, wildly changed
    frame.loc[len(frame) - 10 :, "promo"] = 7
    frame.to_csv(path, index=False)
    after = _training_tensors(path)
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after))


def test_train_reports_every_metric_for_the_model_and_each_baseline_then_predicts(tmp_path):
    data = _weekly(tmp_path / "sales.csv", stores=("north", "south"))
    run = torchworks.train("forecasting", data=str(data), series_id="store", covariates="promo",
                           quantiles="0.1,0.5,0.9", output=str(tmp_path / "runs"), **SETTINGS)
    assert METRIC_KEYS <= set(run.metrics)
    per = run.metrics["per_horizon"]
    assert all(len(per[key]) == 4 for key in METRIC_KEYS)
    # every step has the same number of forecasts, so the overall errors follow from the per-step ones
    assert run.metrics["mae"] == pytest.approx(np.mean(per["mae"]), rel=1e-5)
    assert run.metrics["rmse"] == pytest.approx(np.sqrt(np.mean(np.square(per["rmse"]))), rel=1e-5)
    assert run.metrics["smape"] == pytest.approx(np.mean(per["smape"]), rel=1e-5)
    assert run.metrics["mae"] <= run.metrics["rmse"]
    assert all(m <= r + 1e-9 for m, r in zip(per["mae"], per["rmse"]))
    assert set(run.metrics["baselines"]) == {"naive", "seasonal_naive", "arima", "ets"}
    for values in run.metrics["baselines"].values():
        assert METRIC_KEYS <= set(values)
    # a sine of period 13 is exactly repeated by the seasonal naive forecast, up to the trend
    assert run.metrics["baselines"]["seasonal_naive"]["mase"] < run.metrics["baselines"]["naive"]["mase"]
    for plot in ("forecast_vs_actual", "error_by_horizon", "residuals"):
        assert (run.path / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot

    recent = pd.read_csv(data).groupby("store").tail(20)
    records = torchworks.load(run.path).predict(recent)
    assert len(records) == 2 * 4
    north = [r for r in records if r["store"] == "north"]
    last = pd.Timestamp(recent[recent.store == "north"].week.max())
    assert [r["week"] for r in north] == [str((last + pd.Timedelta(weeks=k)).date()) for k in range(1, 5)]
    assert all(r["q0.1"] <= r["forecast"] <= r["q0.9"] for r in records)


def test_predict_needs_lookback_rows_and_known_series(tmp_path):
    data = _weekly(tmp_path / "sales.csv", stores=("north", "south"))
    run = torchworks.train("forecasting", data=str(data), series_id="store", output=str(tmp_path / "runs"),
                           baselines=False, **SETTINGS)
    predictor = torchworks.load(run.path)
    frame = pd.read_csv(data)
    with pytest.raises(DataError, match="16"):
        predictor.predict(frame.groupby("store").tail(5))
    stranger = frame[frame.store == "north"].tail(20).assign(store="mars")
    with pytest.raises(DataError, match="mars"):
        predictor.predict(stranger)



def _broken(kind: str, path: Path) -> Path:
    frame = pd.read_csv(_weekly(path))
    if kind == "duplicate":
        frame.loc[30, "week"] = frame.loc[29, "week"]
    elif kind == "text":
        frame = frame.astype({"sales": object})
        frame.loc[40, "sales"] = "twelve"
    elif kind == "short":
        frame = frame.head(15)
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("kind", "extra", "needles"),
    [
        ("duplicate", [], ["duplicate timestamps", "lines 31 and 32"]),
        ("text", [], ["text where numbers belong", "'twelve'", "line 42"]),
        ("short", [], ["too short", "20"]),
        ("fine", ["horizon=30"], ["horizon is longer than the test period"]),
        ("fine", ["target=Sales"], ["did you mean 'sales'"]),
        ("fine", ["model=arima"], ["'model'"]),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, kind, extra, needles, cli):
    path = _broken(kind, tmp_path / "sales.csv")
    settings = {**SETTINGS, **dict(e.split("=") for e in extra)}
    code, _, err = cli("train", "forecasting", f"data={path}", f"output={tmp_path / 'runs'}",
                     *(f"{k}={v}" for k, v in settings.items()))
    assert code == 2, err
    assert "Traceback" not in err
    error = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error) == 1, err
    for needle in needles:
        assert needle in error[0]
    assert not list((tmp_path / "runs").rglob("bundle.json"))


def test_unsorted_rows_are_sorted_with_a_warning(tmp_path, capsys):
    path = _weekly(tmp_path / "sales.csv")
    pd.read_csv(path).sample(frac=1.0, random_state=3).to_csv(path, index=False)
    config = ForecastingConfig(data=str(path), time="week", target="sales", lookback=16, horizon=4)
    data = prepare_forecast_data(config)
    assert "warning: sorted" in capsys.readouterr().err
    assert data.table.series[0].time.is_monotonic_increasing
