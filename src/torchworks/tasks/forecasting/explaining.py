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

from functools import partial
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.gradients import fixed_randomness
from torchworks.attribution.values import positive_int, rounded
from torchworks.errors import ConfigError

DEFAULT_STEPS = 50
DEFAULT_SAMPLES = 64
REFERENCE_WINDOWS = 16


def explain_windows(model: nn.Module, windows: torch.Tensor, ids: list[dict[str, Any]], state: dict[str, Any],
                    method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per scaled input window (batch x lookback x features)."""
    from torchworks.tasks.forecasting.frequency import moment_text

    features = [state["target_column"], *state["covariate_columns"]]
    lags = list(range(windows.shape[1], 0, -1))

    def describe(identity: dict[str, Any]) -> dict[str, Any]:
        return {"input": identity["source"], **({"series": identity["series"]} if state["series_column"] else {}),
                "last_time": moment_text(identity["last_time"])}

    def predict(model: nn.Module, row: Row) -> tuple[dict[str, Any], Target]:
        return {"forecast": rounded(_forecast(model, row, state), 6)}, _target_steps(None, state["horizon"])

    def present(row: Row, record: dict[str, Any], contributions: Contributions,
                details: dict[str, Any]) -> Presentation:
        values, forecast, described, identity = contributions.values, contributions.forecast, record["target"], \
            row.identifier
        by_lag, by_feature = np.abs(values).sum(axis=1), np.abs(values).sum(axis=0)
        title = f"{identity['series'] or identity['source']}: {described} ({record['method']}), |contribution| " \
                f"in {state['target_column']}"
        order = np.argsort(-by_feature)[:3]
        summary = f"forecast {forecast[0]:.4g} .. {forecast[-1]:.4g}; {described}: " + \
                  ", ".join(f"{features[i]} {by_feature[i]:.3g}" for i in order) + \
                  f" (|contribution| in {state['target_column']}); lag 1 carries {by_lag[-1] / max(by_lag.sum(), 1e-12):.0%}"
        return Presentation({"units": state["target_column"], **details, "features": features, "lags": lags,
                             "by_lag": rounded(by_lag), "by_feature": rounded(by_feature), "values": rounded(values)},
                            {"attributions": _bars(lags, by_lag, features, by_feature, title)}, summary=summary)

    explainer = Explainer(describe=describe, predict=predict,
                          resolve_target=lambda text: _target_steps(text, state["horizon"]),
                          attributors={name: partial(_attribute, contributions_of, state=state)
                                       for name, contributions_of in _ATTRIBUTORS.items()},
                          present=present)
    return explain_rows(explainer, model, windows, ids, method, target, options)


class Contributions(NamedTuple):
    """One window's contributions (lookback x features) in the target's units, and its forecast."""

    values: np.ndarray
    forecast: np.ndarray


def _attribute(contributions_of, model: nn.Module, row: Row, target: Target, options: dict[str, str], *,
               state: dict[str, Any]) -> tuple[Contributions, dict[str, Any]]:
    """``contributions_of`` (a Captum method over the scaled window) as an attributor of the shared
    loop: contributions in the target's units, with the value explained and, for integrated
    gradients, the value of the reference window they add up from."""
    scaler = _scaler(state, row.identifier)
    explained = _explained(model, target.value, state)
    contributions, details = contributions_of(explained, row.inputs, options)
    with torch.no_grad():
        forecast = _forecast(model, row, state)
        value = float(scaler.inverse_target(explained(row.inputs).cpu().numpy())[0])
        if contributions_of is _integrated_gradients:  # what the contributions add up from
            reference = scaler.inverse_target(explained(torch.zeros_like(row.inputs)).cpu().numpy())[0]
            details["reference_value"] = float(f"{float(reference):.6g}")
    values = contributions * float(scaler.std[0])  # scaled target -> the target's units
    return Contributions(values, forecast), {"explained_value": float(f"{value:.6g}"), **details}


def _scaler(state: dict[str, Any], identity: dict[str, Any]):
    from torchworks.tasks.forecasting.windows import Scaler

    return Scaler.from_state(state["scalers"][identity["series"]])


def _forecast(model: nn.Module, row: Row, state: dict[str, Any]) -> np.ndarray:
    """The point forecast of one window, in the target's units."""
    return _scaler(state, row.identifier).inverse_target(_point_forecast(model, row.inputs, state)[0].cpu().numpy())


def _target_steps(target: str | None, horizon: int) -> Target:
    """The forecast steps (0-based) to explain and how to name them."""
    if target is None or target == "":
        return Target(list(range(horizon)), f"mean forecast of steps 1-{horizon}" if horizon > 1 else "forecast of step 1")
    try:
        step = int(str(target).removeprefix("step").strip())
    except ValueError:
        step = 0
    if not 1 <= step <= horizon:
        raise ConfigError(f"invalid forecast target '{target}'", expected=f"a forecast step from 1 to {horizon}",
                          got=str(target), hint="target=1 explains the next step; leave target out for the mean")
    return Target([step - 1], f"forecast of step {step}")


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
