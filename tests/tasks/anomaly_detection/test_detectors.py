"""The classical anomaly detectors on data built the way anomaly benchmarks build theirs from real datasets
(breast cancer with the malignant class thinned to ~5% of rows as the anomalies): one finite score per test
row, useful rankings, the z-score as specified, determinism, training subsampling, and PyOD's absence met with
a warning instead of a failure."""

from __future__ import annotations

import importlib.util
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from torchworks.errors import ConfigError
from torchworks.families.tabular.encoding import Encoded
from torchworks.tasks.anomaly_detection import detectors
from torchworks.tasks.anomaly_detection.detectors import (
    DETECTORS,
    INSTALL_HINT,
    ZScore,
    detection_metrics,
    fit_detectors,
    training_rows,
)

SEED = 0
ANOMALY_SHARE = 0.05
HAS_PYOD = importlib.util.find_spec("pyod") is not None
# measured on this split: zscore 0.952, isolation_forest 0.975, hbos 0.989, ecod 0.944 (seeds 1 and 2 within
# 0.93-0.99); the floors sit a little below so that a broken detector fails, not a reshuffled split
AUROC_FLOORS = {"zscore": 0.9, "isolation_forest": 0.93, "hbos": 0.95, "ecod": 0.9}


def robust_standardised(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values`` centred on the reference median and scaled by its interquartile range (as a normal's std)."""
    low, high = np.percentile(reference, [25, 75], axis=0)
    scale = np.where(high > low, (high - low) / 1.349, 1.0)
    return ((values - np.median(reference, axis=0)) / scale).astype(np.float32)


def no_categories(rows: int) -> np.ndarray:
    return np.zeros((rows, 0), dtype=np.int64)


@pytest.fixture(scope="module")
def breast_cancer():
    """Benign tumours as normal rows, ~5% malignant ones as anomalies, split in halves: (train, test, labels)."""
    data = load_breast_cancer()
    rng = np.random.default_rng(SEED)
    normal, malignant = np.flatnonzero(data.target == 1), np.flatnonzero(data.target == 0)
    anomalies = rng.choice(malignant, size=round(ANOMALY_SHARE * len(normal) / (1 - ANOMALY_SHARE)), replace=False)
    rows = rng.permutation(np.concatenate([normal, anomalies]))
    values, labels = data.data[rows], (data.target[rows] == 0).astype(np.int64)
    half = len(rows) // 2
    train, test = values[:half], values[half:]
    return (Encoded(robust_standardised(train, train), no_categories(half)),
            Encoded(robust_standardised(test, train), no_categories(len(test))), labels[half:])


@pytest.fixture(scope="module")
def detected(breast_cancer):
    train, test, _ = breast_cancer
    return fit_detectors(train, test, seed=SEED)


def test_every_detector_gives_one_finite_score_per_test_row(breast_cancer, detected):
    _, test, _ = breast_cancer
    assert list(detected) == (list(DETECTORS) if HAS_PYOD else ["zscore", "isolation_forest"])
    for result in detected.values():
        assert result.scores.dtype == np.float64 and result.scores.shape == (len(test),)
        assert np.isfinite(result.scores).all()
        assert result.fit_seconds >= 0 and result.score_seconds >= 0


@pytest.mark.parametrize("name", DETECTORS)
def test_detectors_rank_malignant_tumours_first(breast_cancer, detected, name):
    if name in detectors.PYOD_DETECTORS and not HAS_PYOD:
        pytest.skip("PyOD (the anomaly extra) is not installed")
    metrics = detection_metrics(detected[name].scores, breast_cancer[2])
    assert metrics["auroc"] > AUROC_FLOORS[name]
    assert metrics["average_precision"] > 0.2  # against 0.05 for a random ranking


def test_fitted_detectors_score_new_rows_batch_by_batch(breast_cancer, detected):
    _, test, _ = breast_cancer
    for name in ("zscore", "isolation_forest", "hbos"):  # ECOD ranks a batch against itself too: not batch-free
        if name in detected:
            batches = [detected[name].detector.score(test.numeric[start:start + 50], test.categorical[start:start + 50])
                       for start in range(0, len(test), 50)]
            np.testing.assert_allclose(np.concatenate(batches), detected[name].scores, rtol=1e-12)


def test_zscore_is_the_largest_absolute_z_with_training_mean_and_std():
    # feature 0: mean 0, population std 1; feature 1: mean 5, std 2; feature 2 constant, so measured in its units
    numeric = np.array([[-1, 3, 7], [1, 7, 7], [-1, 3, 7], [1, 7, 7]], dtype=np.float32)
    categorical = np.array([[2], [3], [2], [3]])
    detector = ZScore().fit(numeric, categorical)
    new = np.array([[10, 5, 7], [0, -1, 7], [0.5, 5, 9], [0, 5, 7]], dtype=np.float32)
    np.testing.assert_allclose(detector.score(new, np.array([[2], [2], [2], [0]])), [10, 3, 2, 0])
    # categories are ignored, as a pandas + scipy z-score script ignores them
    np.testing.assert_array_equal(detector.score(new, np.full((4, 1), 0)), detector.score(new, np.full((4, 1), 9)))


def test_a_categorical_column_is_read_as_an_ordinal_feature(breast_cancer):
    train, test, labels = breast_cancer
    rng = np.random.default_rng(SEED)
    categories = [rng.integers(2, 5, size=(len(part), 1)) for part in (train, test)]
    categories[1][labels == 1] = 0  # the anomalies' category was never seen in training
    with_category = fit_detectors(Encoded(train.numeric, categories[0]), Encoded(test.numeric, categories[1]),
                                  seed=SEED, names=["zscore", "isolation_forest"])
    without = fit_detectors(train, test, seed=SEED, names=["zscore", "isolation_forest"])
    np.testing.assert_array_equal(with_category["zscore"].scores, without["zscore"].scores)
    assert np.isfinite(with_category["isolation_forest"].scores).all()
    forest = [detection_metrics(result["isolation_forest"].scores, labels)["auroc"]
              for result in (with_category, without)]
    assert forest[0] > forest[1]  # the unseen category is one more way the anomalies stand apart


@pytest.mark.skipif(not HAS_PYOD, reason="PyOD (the anomaly extra) is not installed")
def test_pyod_detectors_take_a_categorical_column(breast_cancer):
    train, test, _ = breast_cancer
    constant = [np.full((len(part), 1), 2) for part in (train, test)]  # one value only: no spread to measure
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ECOD's skewness of the constant column must not warn the user
        result = fit_detectors(Encoded(train.numeric, constant[0]), Encoded(test.numeric, constant[1]), seed=SEED,
                               names=["hbos", "ecod"])
    assert all(np.isfinite(each.scores).all() and each.scores.shape == (len(test),) for each in result.values())


def test_scores_are_deterministic_for_a_seed(breast_cancer, detected):
    train, test, _ = breast_cancer
    again = fit_detectors(train, test, seed=SEED)
    for name, result in detected.items():
        np.testing.assert_array_equal(again[name].scores, result.scores)
    other_seed = fit_detectors(train, test, seed=SEED + 1, names=["isolation_forest"])
    assert not np.array_equal(other_seed["isolation_forest"].scores, detected["isolation_forest"].scores)


def test_training_rows_above_the_limit_are_a_seeded_subsample(breast_cancer):
    train, test, _ = breast_cancer
    rows = training_rows(len(train), 100, SEED)
    assert len(np.unique(rows)) == 100 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, training_rows(len(train), 100, SEED))
    np.testing.assert_array_equal(training_rows(50, 100, SEED), np.arange(50))
    first, second = (fit_detectors(train, test, seed=SEED, max_train_rows=100, names=["zscore"]) for _ in range(2))
    np.testing.assert_array_equal(first["zscore"].scores, second["zscore"].scores)
    full = fit_detectors(train, test, seed=SEED, names=["zscore"])
    assert not np.array_equal(first["zscore"].scores, full["zscore"].scores)


def test_missing_pyod_skips_its_detectors_with_one_warning(breast_cancer, monkeypatch, capsys):
    for module in ("pyod", "pyod.models", "pyod.models.hbos", "pyod.models.ecod"):
        monkeypatch.setitem(sys.modules, module, None)  # makes `import pyod...` raise ImportError
    train, test, _ = breast_cancer
    result = fit_detectors(train, test, seed=SEED)
    assert list(result) == ["zscore", "isolation_forest"]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "hbos and ecod skipped" in lines[0] and INSTALL_HINT in lines[0]  # the extra's name survives rich markup
    assert list(fit_detectors(train, test, seed=SEED, names=["zscore"])) == ["zscore"]
    assert capsys.readouterr().err == ""  # no warning when no PyOD detector was asked for


def test_an_unknown_detector_name_is_refused_with_a_suggestion(breast_cancer):
    train, test, _ = breast_cancer
    with pytest.raises(ConfigError, match="unknown anomaly detector 'isolation_forrest'") as raised:
        fit_detectors(train, test, seed=SEED, names=["isolation_forrest"])
    assert "did you mean 'isolation_forest'" in raised.value.hint


def test_detection_metrics_need_both_classes():
    assert detection_metrics(np.array([0.1, 0.9, 0.2]), np.array([0, 0, 0])) == {"auroc": None,
                                                                                "average_precision": None}
    metrics = detection_metrics(np.array([0.1, 0.9, 0.2, 0.8]), np.array([0, 1, 0, 1]))
    assert metrics == {"auroc": 1.0, "average_precision": 1.0}
    assert detection_metrics(np.array([0.9, 0.1, 0.8, 0.2]), np.array([0, 1, 0, 1]))["auroc"] == 0.0
