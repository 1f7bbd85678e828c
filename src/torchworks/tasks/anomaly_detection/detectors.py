"""Classical anomaly detectors, fitted on the same training rows as the deep model and scored on the same test
rows, so that an anomaly-detection run always reports what it would have found without a network. For every
detector a higher score means a more anomalous row.

- ``zscore``: the case study's method, as a pandas + scipy script does it: each numeric feature's ``|z|`` with
  the training mean and (population, ``ddof=0``, like ``scipy.stats.zscore``) standard deviation, and a row's
  score is its largest ``|z|``. Categorical features are ignored, as such a script ignores them.
- ``isolation_forest``: scikit-learn's ``IsolationForest`` (100 trees); score ``-score_samples``.
- ``hbos`` and ``ecod``: PyOD's histogram-based and empirical-CDF detectors; score ``decision_function``.
  PyOD is the optional ``anomaly`` extra: without it these two are skipped with one warning naming the install
  command, and the others still run.

The last three read the numeric features beside the category indices taken as ordinal numbers: an index order
means nothing, but a rare category still lands in a sparse part of its axis, which is what these detectors find.

Each detector is a small class with ``fit(numeric, categorical)`` and ``score(numeric, categorical)``, so a
fitted one scores new rows batch by batch. PyOD's ECOD is transductive: it ranks each batch against the training
rows *and the batch itself*, so its scores shift slightly with how rows are batched.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

from torchworks.console import say
from torchworks.errors import ConfigError, did_you_mean
from torchworks.families.tabular.encoding import Encoded

#: What to run when PyOD (the ``anomaly`` extra) is missing.
INSTALL_HINT = 'pip install "torchworks[anomaly]"'
#: Most training rows a detector is fitted on; more are subsampled (the detectors' cost grows with them, their
#: quality hardly does).
MAX_TRAIN_ROWS = 200_000
#: Threads IsolationForest builds and walks its trees with: a second thread measured no faster at scoring.
ISOLATION_FOREST_JOBS = 1
#: The detectors PyOD provides, skipped when it is missing.
PYOD_DETECTORS = ("hbos", "ecod")
#: Every detector, in the order results are reported.
DETECTORS = ("zscore", "isolation_forest", *PYOD_DETECTORS)


class Detector(Protocol):
    """A detector fitted on training rows, then asked for one score per row of any batch (higher: stranger)."""

    name: str

    def fit(self, numeric: np.ndarray, categorical: np.ndarray) -> Detector: ...

    def score(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray: ...


@dataclass
class Detected:
    """One detector's result on the test rows.

    Attributes:
        scores: One float64 score per test row, higher for more anomalous rows.
        fit_seconds: Wall time of fitting on the training rows.
        score_seconds: Wall time of scoring the test rows.
        detector: The fitted detector, to score further rows with.
    """

    scores: np.ndarray
    fit_seconds: float
    score_seconds: float
    detector: Detector


def ordinal_matrix(numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Numbers and category indices side by side, ``[rows, numeric + categorical]`` float32; float32 holds every
    index exactly and is the dtype IsolationForest works in, so it makes no converted copy of its own."""
    return np.hstack([numeric.astype(np.float32, copy=False), categorical.astype(np.float32)])


class ZScore:
    """Largest ``|z|`` over the numeric features, with the training mean and standard deviation."""

    name = "zscore"

    def fit(self, numeric: np.ndarray, categorical: np.ndarray) -> ZScore:
        values = numeric.astype(np.float64)
        self.mean_ = values.mean(axis=0)
        std = values.std(axis=0)
        # a feature constant in training (a missing flag never set) would divide by zero: its deviations are
        # measured in its own units instead, so one unexpected value still stands out
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def score(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        if numeric.shape[1] == 0:
            return np.zeros(len(numeric))
        return np.abs((numeric.astype(np.float64) - self.mean_) / self.std_).max(axis=1)


class IsolationForestDetector:
    """scikit-learn's IsolationForest on :func:`ordinal_matrix`; its ``score_samples`` is higher for normal rows,
    so the score is its negation."""

    name = "isolation_forest"

    def __init__(self, seed: int):
        self.model = IsolationForest(n_estimators=100, random_state=seed, n_jobs=ISOLATION_FOREST_JOBS)

    def fit(self, numeric: np.ndarray, categorical: np.ndarray) -> IsolationForestDetector:
        self.model.fit(ordinal_matrix(numeric, categorical))
        return self

    def score(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        return -self.model.score_samples(ordinal_matrix(numeric, categorical)).astype(np.float64)


class PyODDetector:
    """A PyOD detector (already higher for stranger rows) on :func:`ordinal_matrix`."""

    def __init__(self, name: str, model):
        self.name = name
        self.model = model

    def fit(self, numeric: np.ndarray, categorical: np.ndarray) -> PyODDetector:
        with _constant_columns_quiet():
            self.model.fit(ordinal_matrix(numeric, categorical))
        return self

    def score(self, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
        with _constant_columns_quiet():
            scores = self.model.decision_function(ordinal_matrix(numeric, categorical))
        return np.asarray(scores, dtype=np.float64)


@contextmanager
def _constant_columns_quiet() -> Iterator[None]:
    """Silences scipy's precision-loss warning about the skewness of a constant column, which ECOD computes for
    every feature: encoded tables often hold one (a missing flag never set) and PyOD already takes it as 0."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss occurred in moment calculation",
                                category=RuntimeWarning)
        yield


def pyod_builders() -> dict[str, Callable[[], PyODDetector]] | None:
    """Builders of the PyOD detectors, or None when PyOD is not installed (imported here, on first use, because
    it is optional and pulls in numba)."""
    try:
        from pyod.models.ecod import ECOD
        from pyod.models.hbos import HBOS
    except ImportError:
        return None
    return {"hbos": lambda: PyODDetector("hbos", HBOS()), "ecod": lambda: PyODDetector("ecod", ECOD())}


def build_detectors(names: Iterable[str] | None, seed: int) -> list[Detector]:
    """Unfitted detectors of ``names`` (all of :data:`DETECTORS` when None), in that order; the PyOD ones are
    left out, with one warning, when PyOD is missing.

    Raises:
        ConfigError: A name that is not one of :data:`DETECTORS`.
    """
    names = list(DETECTORS if names is None else names)
    for name in names:
        if name not in DETECTORS:
            raise ConfigError(f"unknown anomaly detector '{name}'", expected="one of " + ", ".join(DETECTORS),
                              got=repr(name), hint=did_you_mean(name, DETECTORS))
    builders: dict[str, Callable[[], Detector]] = {"zscore": ZScore,
                                                   "isolation_forest": lambda: IsolationForestDetector(seed)}
    wanted_pyod = [name for name in names if name in PYOD_DETECTORS]
    if wanted_pyod:
        pyod = pyod_builders()
        if pyod is None:
            from rich.markup import escape

            # escaped: rich would read the hint's "[anomaly]" as markup and print it without the extra's name
            say(f"[yellow]warning:[/yellow] {' and '.join(wanted_pyod)} skipped: PyOD is not installed "
                f"(install it with: {escape(INSTALL_HINT)})")
            names = [name for name in names if name not in PYOD_DETECTORS]
        else:
            builders.update(pyod)
    return [builders[name]() for name in names]


def training_rows(count: int, max_rows: int, seed: int) -> np.ndarray:
    """Indices of the training rows to fit on: all of them, or ``max_rows`` drawn with ``seed`` (sorted)."""
    if count <= max_rows:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=max_rows, replace=False))


def fit_detectors(train: Encoded, test: Encoded, seed: int, max_train_rows: int = MAX_TRAIN_ROWS,
                  names: Iterable[str] | None = None) -> dict[str, Detected]:
    """Fit each classical detector on the training rows and score the test rows with it.

    Args:
        train: Encoded training rows (the deep model's training split).
        test: Encoded rows to score, encoded the same way.
        seed: Seed of the training-row subsample and of IsolationForest.
        max_train_rows: Most training rows to fit on; above it a seeded subsample is drawn.
        names: Detectors to run, of :data:`DETECTORS`; all when None.

    Returns:
        ``{name: Detected}`` in the order asked for; PyOD's detectors are absent when PyOD is missing.

    Raises:
        ConfigError: An unknown detector name.
    """
    rows = training_rows(len(train), max_train_rows, seed)
    numeric, categorical = train.numeric[rows], train.categorical[rows]
    detected = {}
    for detector in build_detectors(names, seed):
        start = time.perf_counter()
        detector.fit(numeric, categorical)
        fitted = time.perf_counter()
        scores = detector.score(test.numeric, test.categorical)
        detected[detector.name] = Detected(scores=scores, fit_seconds=fitted - start,
                                           score_seconds=time.perf_counter() - fitted, detector=detector)
    return detected


def detection_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """AUROC and average precision of ``scores`` against ``labels`` (1: anomaly, 0: normal).

    Both are None when the labels hold one class only: neither is defined without a row of each class.
    """
    labels = np.asarray(labels).astype(np.int64)
    if len(np.unique(labels)) < 2:
        return {"auroc": None, "average_precision": None}
    return {"auroc": float(roc_auc_score(labels, scores)),
            "average_precision": float(average_precision_score(labels, scores))}
