"""The classical baseline: TF-IDF over word and character n-grams + logistic regression (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torchworks.tasks.text_classification.data import TextData, encode_targets
from torchworks.tasks.text_classification.evaluation import text_metrics


def tfidf_baseline(data: TextData, seed: int, balanced: bool) -> dict[str, Any]:
    """Fit on the train split, score on the test split; multi-label fits one model per label."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.feature_extraction.text import TfidfVectorizer

    state = data.state
    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, strip_accents="unicode"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
    )
    classifier = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced" if balanced else None,
                                    random_state=seed)
    train_y = encode_targets(data.label_sets["train"], state).numpy()
    if state["multi_label"]:
        classifier = OneVsRestClassifier(classifier)
        present = train_y.sum(axis=0) > 0  # a label never on in training cannot be fitted
        model = make_pipeline(features, classifier).fit(data.texts["train"], train_y[:, present])
        probabilities = np.zeros((len(data.texts["test"]), len(state["labels"])))
        probabilities[:, present] = model.predict_proba(data.texts["test"])
    else:
        model = make_pipeline(features, classifier).fit(data.texts["train"], train_y)
        probabilities = np.zeros((len(data.texts["test"]), len(state["labels"])))
        probabilities[:, model.classes_] = model.predict_proba(data.texts["test"])
    test_y = encode_targets(data.label_sets["test"], state)
    metrics = text_metrics(torch.as_tensor(probabilities, dtype=torch.float32), test_y, state)
    return {"tfidf_logreg": metrics}
