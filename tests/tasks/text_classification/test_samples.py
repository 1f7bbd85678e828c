"""The shipped ``tickets`` sample: big enough, balanced, varied, with its own test split."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from torchworks.engine.catalog import get_sample

CLASSES = {"billing", "shipping", "account", "technical", "returns", "product"}


def _tickets() -> pd.DataFrame:
    sample = get_sample("tickets")
    assert sample is not None and sample.task == "text-classification"
    return pd.read_csv(sample.path(), dtype=str, keep_default_na=False)


def test_tickets_cover_six_classes_with_a_fixed_test_split():
    frame = _tickets()
    assert len(frame) >= 600 and set(frame["label"]) == CLASSES
    counts = Counter(zip(frame["label"], frame["split"]))
    for label in CLASSES:
        assert counts[(label, "test")] >= 20 and counts[(label, "train")] >= 80
    assert set(frame["split"]) == {"train", "test"}


def test_tickets_are_unique_and_varied_in_length():
    frame = _tickets()
    texts = frame["text"].str.strip()
    assert texts.str.len().min() > 0
    assert texts.str.lower().nunique() == len(texts)
    words = texts.str.split().str.len()
    assert (words <= 12).mean() > 0.1 and (words >= 60).mean() > 0.1
    openings = Counter(t.split()[0].lower() for t in texts)
    assert openings.most_common(1)[0][1] < 0.1 * len(texts)  # no template opening
