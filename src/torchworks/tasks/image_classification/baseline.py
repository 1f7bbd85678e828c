"""The classical baseline: a scikit-learn SVC on flattened, downsampled grayscale pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from torchworks.metrics.classification import classification_metrics
from torchworks.tasks.protocol import PreparedData

MAX_TRAIN = 5000


def svc_baseline(data: PreparedData, seed: int) -> dict[str, Any]:
    """Fit ``StandardScaler + SVC(rbf)`` on the train split and score it on the test split."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    size = data.state["baseline_size"]
    train_x, train_y = _features(data.train, size), np.asarray(data.train.targets)
    if len(train_y) > MAX_TRAIN:
        keep = np.random.default_rng(seed).choice(len(train_y), MAX_TRAIN, replace=False)
        train_x, train_y = train_x[keep], train_y[keep]
    model = make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale", random_state=seed))
    model.fit(train_x, train_y)
    test_x, test_y = _features(data.test, size), np.asarray(data.test.targets)
    scores = model.decision_function(test_x)
    labels = data.state["labels"]
    if scores.ndim == 1:  # binary: one signed distance for the second class
        scores = np.stack([-scores, scores], axis=1)
    # squash to (0, 1) per score: keeps each class's ranking (so AUROC) and stops torchmetrics
    # from applying a softmax across classes to scores that are not logits
    scores = 1.0 / (1.0 + np.exp(-_full_width(scores, model.classes_, len(labels))))
    metrics = classification_metrics(torch.as_tensor(scores), torch.as_tensor(test_y), labels)
    return {"name": "svc_pixels", **{k: v for k, v in metrics.items() if k != "per_class"}}


def _features(dataset: Any, size: int) -> np.ndarray:
    rows = []
    for index in range(len(dataset)):
        image = Image.fromarray(dataset.raw(index)).convert("L").resize((size, size), Image.Resampling.BILINEAR)
        rows.append(np.asarray(image, dtype=np.float32).ravel() / 255.0)
    return np.stack(rows)


def _full_width(scores: np.ndarray, classes: np.ndarray, n: int) -> np.ndarray:
    """Scores for all ``n`` classes even if the train split lacked some (those get -inf-like scores)."""
    full = np.full((scores.shape[0], n), scores.min() - 1.0, dtype=np.float32)
    full[:, classes] = scores
    return full
