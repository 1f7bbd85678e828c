"""Tiny labelled texts for the text-classification tests: each class has its own words, mixed
with shared filler, so a model can learn them in a few steps and a broken one cannot."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

WORDS = {
    "billing": ["charged", "invoice", "refund", "payment", "card", "twice", "receipt", "fee"],
    "shipping": ["parcel", "courier", "tracking", "delivery", "arrived", "late", "address", "package"],
    "account": ["password", "login", "email", "locked", "profile", "username", "verify", "reset"],
}
FILLER = ["please", "help", "my", "the", "it", "again", "today", "still", "why", "thanks", "order", "hello"]


def tiny_texts(per_class: int = 24, seed: int = 0) -> list[tuple[str, str]]:
    """``(text, label)`` pairs, shuffled."""
    rng = random.Random(seed)
    rows = []
    for label, words in WORDS.items():
        for _ in range(per_class):
            chosen = rng.sample(words, 2) + rng.sample(FILLER, rng.randint(2, 6))
            rng.shuffle(chosen)
            rows.append((" ".join(chosen).capitalize(), label))
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def write_table():
    """``write_table(path, rows, delimiter=",")``: write row dicts as CSV/TSV, return the path."""
    return write_csv


@pytest.fixture
def tickets_csv(tmp_path: Path) -> Path:
    """A CSV with columns message, category (names a user might choose)."""
    return write_csv(tmp_path / "tickets.csv", [{"message": t, "category": c} for t, c in tiny_texts()])
