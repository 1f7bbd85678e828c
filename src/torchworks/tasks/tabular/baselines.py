"""Classical baselines on the model's own split (scikit-learn): histogram gradient boosting, which splits on
the category indices as categories, and a linear model (logistic or ridge regression) over the numbers and
one-hot categories. Both read the same encoded rows as the network and are scored by the functions that
score it, so their metrics sit next to the model's."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from torchworks.families.tabular.encoding import UNKNOWN, Encoded
from torchworks.progress import track
from torchworks.tasks.tabular.evaluation import classification_scores, positive_index, regression_scores

if TYPE_CHECKING:
    from torchworks.tasks.tabular.data import TabularData

BASELINE_ROWS = 200_000  # training rows the baselines fit on, at most: a million-row table stays quick
BOOSTING_CATEGORIES = 255  # scikit-learn's gradient boosting takes at most max_bins distinct values per category
BASELINE_THRESHOLD = 0.5  # binary baselines decide at this probability of the positive class
RIDGE_ALPHA = 1.0  # numbers are already standardised: a light penalty that only steadies collinear columns
# Up to this many training rows a fit takes about a second on one core, while OpenMP's threads, which spin as they
# wait for each other, were seen to make it ten times slower on a machine whose other cores are busy
ONE_THREAD_ROWS = 50_000

Features = Callable[[Encoded], np.ndarray]


def fit_baselines(data: TabularData, config: Any) -> dict[str, dict[str, Any]]:
    """Fit each baseline on the training rows (a seeded sample of ``BASELINE_ROWS`` at most) and score it on
    the test rows.

    Returns:
        ``{"hist_gradient_boosting": metrics, "logistic_regression" | "linear_regression": metrics}``, each
        with the model's metric keys (accuracy, macro_f1, auroc, average_precision, log_loss, score and, for
        two classes, threshold, precision, recall and ``decision``; or rmse, mae, r2, score in the target's
        units) and ``fit_seconds``. Empty when the split has no training or no test rows.
    """
    from sklearn.exceptions import ConvergenceWarning

    state = data.state
    train, test = data.encoded["train"], data.encoded["test"]
    if len(train) == 0 or len(test) == 0:
        return {}
    rows = _training_sample(len(train), config.seed)
    train = Encoded(train.numeric[rows], train.categorical[rows])
    train_targets, test_targets = data.targets["train"][rows], data.targets["test"]
    results = {}
    baselines = _baselines(state, train, config)
    with warnings.catch_warnings(), _threads(len(rows)):
        warnings.simplefilter("ignore", ConvergenceWarning)  # an unconverged linear fit is still a fair yardstick
        for name, (model, features) in track(baselines.items(), "fitting baselines", total=len(baselines)):
            started = time.perf_counter()
            model.fit(features(train), train_targets)
            seconds = time.perf_counter() - started
            results[name] = {**_scores(model, features(test), test_targets, state), "fit_seconds": round(seconds, 3)}
    return results


def _training_sample(rows: int, seed: int) -> np.ndarray:
    """All training rows, or ``BASELINE_ROWS`` of them drawn with ``seed``, in table order."""
    if rows <= BASELINE_ROWS:
        return np.arange(rows)
    from torchworks.console import say

    say(f"baselines fit on {BASELINE_ROWS:,} of the {rows:,} training rows (drawn at random)")
    return np.sort(np.random.default_rng(seed).choice(rows, BASELINE_ROWS, replace=False))


def _threads(rows: int) -> AbstractContextManager:
    """One thread for small fits, every core for large ones."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1) if rows <= ONE_THREAD_ROWS else nullcontext()


def _baselines(state: dict[str, Any], train: Encoded, config: Any) -> dict[str, tuple[Any, Features]]:
    """The unfitted models by name, each with the features it reads."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric, categorical = train.numeric.shape[1], train.categorical.shape[1]
    category_columns = list(range(numeric, numeric + categorical))
    one_hot = ColumnTransformer([("categories", OneHotEncoder(handle_unknown="ignore"), category_columns)],
                                remainder="passthrough")
    boosting_options = {"categorical_features": category_columns or None, "random_state": config.seed}
    if state["task_type"] == "regression":
        return {"hist_gradient_boosting": (HistGradientBoostingRegressor(**boosting_options), _boosting_features),
                "linear_regression": (make_pipeline(one_hot, Ridge(alpha=RIDGE_ALPHA)), _linear_features)}
    balanced = "balanced" if getattr(config, "class_weights", "none") == "auto" else None  # as the network's loss
    logistic = LogisticRegression(max_iter=1000, class_weight=balanced, random_state=config.seed)
    return {"hist_gradient_boosting": (HistGradientBoostingClassifier(class_weight=balanced, **boosting_options),
                                       _boosting_features),
            "logistic_regression": (make_pipeline(one_hot, logistic), _linear_features)}


def _linear_features(encoded: Encoded) -> np.ndarray:
    """The numbers, then the category indices (one-hot encoded inside the pipeline)."""
    return np.hstack([encoded.numeric, encoded.categorical.astype(np.float32)])


def _boosting_features(encoded: Encoded) -> np.ndarray:
    """The numbers, then the category indices, the rarest values past ``BOOSTING_CATEGORIES`` as unknown
    (vocabularies are ordered by frequency, so those are the values with the fewest rows)."""
    categories = np.where(encoded.categorical < BOOSTING_CATEGORIES, encoded.categorical, UNKNOWN)
    return np.hstack([encoded.numeric, categories.astype(np.float32)])


def _scores(model: Any, features: np.ndarray, targets: np.ndarray, state: dict[str, Any]) -> dict[str, Any]:
    if state["task_type"] == "regression":
        return regression_scores(model.predict(features), targets, state)
    labels = state["labels"]
    probabilities = np.zeros((len(features), len(labels)), dtype=np.float32)
    probabilities[:, model.classes_] = model.predict_proba(features)  # a class absent from training stays at 0
    scores = classification_scores(probabilities, targets, state, threshold=BASELINE_THRESHOLD)
    if len(labels) == 2:
        scores["decision"] = f"{labels[positive_index(state)]} when its probability >= {BASELINE_THRESHOLD}"
    return scores
