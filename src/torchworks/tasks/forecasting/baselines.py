"""Baselines scored on the same test windows as the model: naive, seasonal naive, ARIMA and ETS.

ARIMA and ETS are statsmodels state-space models whose parameters are fitted on the training part of
each series only. The fitted model is then run (filtered, never refitted) over the whole series once,
and the forecasts from every origin are read off the Kalman filter's one-step predicted state
``a[origin + 1 | origin]`` by iterating the transition ``a <- T a + c`` with ``y_hat = Z a + d``,
vectorised over the origins. This equals ``fitted.apply(y[:origin + 1]).forecast(horizon)`` per
origin (see the tests) at the cost of a single filtering pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from torchworks.progress import track

#: The ARIMA orders tried on each training part, chosen by AIC: ``(order, trend)``.
ARIMA_CANDIDATES: tuple[tuple[tuple[int, int, int], str], ...] = (
    ((1, 1, 1), "n"),
    ((2, 1, 2), "n"),
    ((2, 1, 0), "n"),
    ((1, 0, 1), "c"),
    ((2, 0, 2), "c"),
    ((3, 0, 0), "c"),
)
#: Training parts shorter than this are not fitted with ARIMA or ETS.
MIN_TRAIN_LENGTH = 10


def naive_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Last seen value repeated: ``(len(origins), horizon)`` filled with ``y[origin]``."""
    y = np.asarray(y, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    return np.repeat(y[origins][:, None], horizon, axis=1)


def seasonal_naive_forecasts(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Value one season back: ``y_hat[origin + k] = y[origin + k - season * ceil(k / season)]``, k = 1..horizon.

    Raises ``ValueError`` when an origin has seen less than one full season (``origin + 1 < season``).
    """
    if season < 1:
        raise ValueError(f"season must be >= 1, got {season}")
    y = np.asarray(y, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    if origins.size and origins.min() + 1 < season:
        raise ValueError(f"seasonal naive needs one full season ({season} values) before every origin")
    steps = np.arange(1, horizon + 1)
    back = steps - season * np.ceil(steps / season).astype(np.int64)  # in (-season, 0]
    return y[origins[:, None] + back[None, :]]


@contextmanager
def _quiet_single_threaded() -> Iterator[None]:
    """Silence statsmodels' warnings and run BLAS on one thread.

    The Kalman filter works on tiny matrices; a multi-threaded BLAS makes its stationary
    initialisation ~20x slower on 2 cores, so fitting is forced single-threaded.
    """
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        yield


def _converged(results: Any) -> bool:
    """Whether a statsmodels fit reported convergence (true when it reports nothing)."""
    retvals = getattr(results, "mle_retvals", None) or {}
    return bool(retvals.get("converged", True))


def fit_arima(y_train: np.ndarray) -> Any:
    """Non-seasonal SARIMAX fitted on ``y_train``, the order chosen by AIC among :data:`ARIMA_CANDIDATES`.

    No seasonal ARIMA terms: long seasons (weekly data, season 52) make them far too slow, and with
    seasonal differencing the AIC is not comparable across candidates (statsmodels leaves the diffuse
    start, one season longer, out of the likelihood). The ETS baseline carries the seasonality.
    Differencing stays inside the state (``simple_differencing=False``) so that forecasts come back in
    original units. Fits that fail or do not converge are skipped; ``ValueError`` when none is left.
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = np.asarray(y_train, dtype=np.float64)
    best, failures = None, []
    with _quiet_single_threaded():
        for order, trend in ARIMA_CANDIDATES:
            try:
                model = SARIMAX(y, order=order, trend=trend, simple_differencing=False)
                results = model.fit(disp=False)
            except Exception as error:  # noqa: BLE001 - statsmodels raises many kinds; skip the candidate
                failures.append(f"{order}: {error}")
                continue
            if not _converged(results) or not np.isfinite(results.aic):
                failures.append(f"{order}: did not converge")
                continue
            if best is None or results.aic < best.aic:
                best = results
    if best is None:
        raise ValueError("no ARIMA order could be fitted (" + "; ".join(failures) + ")")
    return best


def fit_ets(y_train: np.ndarray, season: int) -> Any:
    """Additive damped-trend ETS (state-space form) fitted on ``y_train``.

    Seasonal (additive, period ``season``) when ``season > 1`` and the training part holds more than two
    seasons. The initial states come from statsmodels' heuristic (Hyndman & Athanasopoulos) on the
    training part; the returned results are re-expressed with those initial states as known values so
    that ``apply`` to a longer series keeps them instead of recomputing them from the new data. When the
    heuristic cannot be computed the initial states are estimated with the parameters instead.
    Raises ``ValueError`` when the fit does not converge.
    """
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    y = np.asarray(y_train, dtype=np.float64)
    options: dict[str, Any] = {"trend": True, "damped_trend": True}
    if season > 1 and len(y) > 2 * season:
        options["seasonal"] = season
    with _quiet_single_threaded():
        try:
            model = ExponentialSmoothing(y, initialization_method="heuristic", **options)
        except ValueError:
            model = ExponentialSmoothing(y, initialization_method="estimated", **options)
        results = model.fit(disp=False)
        if not _converged(results):
            raise ValueError("ETS fit did not converge")
        if model.initialization_method == "heuristic":
            known = ExponentialSmoothing(
                y, initialization_method="known", initial_level=model._initial_level,
                initial_trend=model._initial_trend, initial_seasonal=model._initial_seasonal, **options,
            )
            # statsmodels' clone (used by apply) reads the init arguments back as attributes of the same
            # name, which this model does not keep for known initial states: set them.
            known.initial_level, known.initial_trend = model._initial_level, model._initial_trend
            known.initial_seasonal = model._initial_seasonal
            results = known.filter(results.params)
    return results


def _time_invariant(ssm: Any, name: str, ndim: int) -> np.ndarray:
    """A state-space matrix without its time dimension (statsmodels drops it when it has length 1).

    ``ValueError`` when the matrix really varies in time (forecasting would need its future values).
    """
    matrix = np.asarray(ssm[name])
    if matrix.ndim == ndim:
        return matrix
    if not np.allclose(matrix, matrix[..., :1]):
        raise ValueError(f"time-varying {name} is not supported")
    return matrix[..., 0]


def state_space_forecasts(fitted: Any, y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Forecasts ``(len(origins), horizon)`` of a fitted statsmodels state-space model from every origin.

    The model is filtered once over the whole of ``y`` with its parameters fixed; from the one-step
    predicted state at each origin, ``a[o + 1 | o]``, steps ``y_hat = Z a + d`` then ``a <- T a + c``.
    Equal to ``fitted.apply(y[:origin + 1]).forecast(horizon)`` for each origin.
    """
    with _quiet_single_threaded():
        full = fitted.apply(np.asarray(y, dtype=np.float64))
    ssm = full.model.ssm
    design = _time_invariant(ssm, "design", 2)
    obs_intercept = _time_invariant(ssm, "obs_intercept", 1)
    transition = _time_invariant(ssm, "transition", 2)
    state_intercept = _time_invariant(ssm, "state_intercept", 1)
    origins = np.asarray(origins, dtype=np.int64)
    state = np.asarray(full.predicted_state)[:, origins + 1]  # (k_states, n): a[o + 1 | o]
    out = np.empty((len(origins), horizon))
    for step in range(horizon):
        out[:, step] = design[0] @ state + obs_intercept[0]
        state = transition @ state + state_intercept[:, None]
    return out


def classical_forecasts(
    series: list[np.ndarray],
    train_ends: list[int],
    windows: np.ndarray,
    horizon: int,
    season: int,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Forecasts of naive, seasonal naive, ARIMA and ETS on the test windows ``(series_index, origin)``.

    Returns ``({"naive", "seasonal_naive", "arima", "ets"}: (n_windows, horizon) arrays, notes)``. ARIMA
    and ETS are fitted on ``series[i][:train_ends[i]]`` only (see :func:`fit_arima`, :func:`fit_ets`). A
    baseline that cannot produce forecasts for some series (too short, statsmodels fails, no
    convergence, non-finite forecasts) is left out altogether, with a note saying why; this function
    never raises because a baseline failed.
    """
    windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    n = len(windows)
    forecasts = {name: np.full((n, horizon), np.nan) for name in ("naive", "seasonal_naive", "arima", "ets")}
    failed: dict[str, str] = {}
    used = sorted({int(s) for s in windows[:, 0]})

    def run(name: str, index: int, mask: np.ndarray, compute: Any) -> None:
        if name in failed:
            return
        try:
            values = compute()
            if not np.all(np.isfinite(values)):
                raise ValueError("non-finite forecasts")
            forecasts[name][mask] = values
        except Exception as error:  # noqa: BLE001 - a failed baseline must never stop the run
            failed[name] = f"{name} baseline left out: series {index}: {error}"

    for index in track(used, "fitting baselines", total=len(used), enabled=progress):
        y = np.asarray(series[index], dtype=np.float64)
        train = y[: int(train_ends[index])]
        mask = windows[:, 0] == index
        origins = windows[mask, 1]
        run("naive", index, mask, lambda: naive_forecasts(y, origins, horizon))
        run("seasonal_naive", index, mask, lambda: seasonal_naive_forecasts(y, origins, horizon, season))
        fits = {"arima": lambda: fit_arima(train), "ets": lambda: fit_ets(train, season)}
        for name, fit in fits.items():
            if len(train) < MIN_TRAIN_LENGTH:
                failed.setdefault(name, f"{name} baseline left out: series {index}: training part too short "
                                        f"({len(train)} < {MIN_TRAIN_LENGTH} values)")
                continue
            run(name, index, mask, lambda fit=fit: state_space_forecasts(fit(), y, origins, horizon))
    return {name: f for name, f in forecasts.items() if name not in failed}, list(failed.values())
