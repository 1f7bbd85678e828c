"""Why a forecast came out as it did: integrated gradients (default) or gradient SHAP (Captum) over
the input window, per lag and per feature (the target's own past and each covariate).

What is explained is one number per series: the point forecast (the 0.5 quantile when the model
forecasts quantiles) averaged over the horizon, or at one step with ``target=STEP``. Contributions
are in the target's units: with integrated gradients they add up (within ``convergence_delta``) to
the forecast minus the forecast for the reference window, in which every feature sits at its
training mean; gradient SHAP averages over random reference windows drawn like scaled training
data. Lag 1 is the latest observation. The level-relative wrapper of every forecaster passes the
latest target value straight into the forecast, so that lag usually carries much of the level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from torchworks.errors import ConfigError
from torchworks.attribution.gradients import fixed_randomness
from torchworks.attribution.values import positive_int, rounded
from torchworks.tasks.protocol import Explanation

DEFAULT_STEPS = 50
DEFAULT_SAMPLES = 64
REFERENCE_WINDOWS = 16


def explain_windows(model: nn.Module, windows: torch.Tensor, ids: list[dict[str, Any]], state: dict[str, Any],
                    method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per scaled input window (batch x lookback x features)."""
    from torchworks.tasks.forecasting.frequency import moment_text
    from torchworks.tasks.forecasting.windows import Scaler

    steps, described = _target_steps(target, state["horizon"])
    explained = _explained(model, steps, state)
    features = [state["target_column"], *state["covariate_columns"]]
    lags = list(range(windows.shape[1], 0, -1))
    explanations = []
    for row, identity in enumerate(ids):
        window = windows[row : row + 1]
        scaler = Scaler.from_state(state["scalers"][identity["series"]])
        unit = float(scaler.std[0])
        contributions, details = _ATTRIBUTORS[method](explained, window, options)
        values = contributions * unit  # scaled target -> the target's units
        by_lag, by_feature = np.abs(values).sum(axis=1), np.abs(values).sum(axis=0)
        with torch.no_grad():
            forecast = scaler.inverse_target(_point_forecast(model, window, state)[0].cpu().numpy())
            value = float(scaler.inverse_target(explained(window).cpu().numpy())[0])
            if method == "integrated_gradients":  # what the contributions add up from
                reference = scaler.inverse_target(explained(torch.zeros_like(window)).cpu().numpy())[0]
                details["reference_value"] = float(f"{float(reference):.6g}")
        record = {
            "input": identity["source"],
            **({"series": identity["series"]} if state["series_column"] else {}),
            "last_time": moment_text(identity["last_time"]),
            "prediction": {"forecast": rounded(forecast, 6)},
            "method": method,
            "target": described,
            "attributions": {"units": state["target_column"], "explained_value": float(f"{value:.6g}"), **details,
                             "features": features, "lags": lags, "by_lag": rounded(by_lag), "by_feature":
                             rounded(by_feature), "values": rounded(values)},
        }
        title = f"{identity['series'] or identity['source']}: {described} ({method}), |contribution| in " \
                f"{state['target_column']}"
        figure = _bars(lags, by_lag, features, by_feature, title)
        order = np.argsort(-by_feature)[:3]
        summary = f"forecast {forecast[0]:.4g} .. {forecast[-1]:.4g}; {described}: " + \
                  ", ".join(f"{features[i]} {by_feature[i]:.3g}" for i in order) + \
                  f" (|contribution| in {state['target_column']}); lag 1 carries {by_lag[-1] / max(by_lag.sum(), 1e-12):.0%}"
        explanations.append(Explanation(record, {"attributions": figure}, summary=summary))
    return explanations


def _target_steps(target: str | None, horizon: int) -> tuple[list[int], str]:
    """The forecast steps (0-based) to explain and how to name them."""
    if target is None or target == "":
        return list(range(horizon)), f"mean forecast of steps 1-{horizon}" if horizon > 1 else "forecast of step 1"
    try:
        step = int(str(target).removeprefix("step").strip())
    except ValueError:
        step = 0
    if not 1 <= step <= horizon:
        raise ConfigError(f"invalid forecast target '{target}'", expected=f"a forecast step from 1 to {horizon}",
                          got=str(target), hint="target=1 explains the next step; leave target out for the mean")
    return [step - 1], f"forecast of step {step}"


def _point_forecast(model: nn.Module, windows: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
    quantiles = state["quantiles"]
    return model(windows)[:, :, quantiles.index(0.5) if quantiles else 0].float()


def _explained(model: nn.Module, steps: list[int], state: dict[str, Any]):
    """The scalar (per window) that is explained: the point forecast, averaged over ``steps``."""

    def forward(windows: torch.Tensor) -> torch.Tensor:
        return _point_forecast(model, windows, state)[:, steps].mean(dim=1)

    return forward


def _integrated_gradients(explained, window: torch.Tensor, options: dict[str, str]):
    from captum.attr import IntegratedGradients

    steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
    reference = torch.zeros_like(window)
    attributions, delta = IntegratedGradients(explained).attribute(
        window, baselines=reference, n_steps=steps, return_convergence_delta=True)
    return attributions[0].detach().cpu().numpy(), {
        "reference": "every feature at its training mean", "steps": steps,
        "convergence_delta": float(f"{float(delta[0]):.4g}")}


def _gradient_shap(explained, window: torch.Tensor, options: dict[str, str]):
    from captum.attr import GradientShap

    samples = positive_int(options, "samples", DEFAULT_SAMPLES, largest=10_000)
    with fixed_randomness():  # the same explanation every time
        references = torch.randn((REFERENCE_WINDOWS, *window.shape[1:])).to(window.device)
        attributions = GradientShap(explained).attribute(window, baselines=references, n_samples=samples,
                                                          stdevs=0.1)
    return attributions[0].detach().cpu().numpy(), {
        "reference": f"{REFERENCE_WINDOWS} random windows drawn like scaled training data", "samples": samples}


_ATTRIBUTORS = {"integrated_gradients": _integrated_gradients, "gradient_shap": _gradient_shap}


def _bars(lags: list[int], by_lag: np.ndarray, features: list[str], by_feature: np.ndarray, title: str):
    from torchworks.attribution.figures import importance_bars

    return importance_bars({f"lag {lag}": float(v) for lag, v in zip(lags, by_lag)},
                           {name: float(v) for name, v in zip(features, by_feature)}, title, "|contribution|")
