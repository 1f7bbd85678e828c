"""Encoded rows as a dataset: the model inputs ``{"numeric", "categorical"}`` of each row and, when labelled,
its target, held as whole tensors (a few bytes per feature and row, whatever the file held as text)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from torchworks.families.tabular.encoding import Encoded


class EncodedRows(Dataset):
    """Rows of encoded inputs (and targets when labelled); ``rows[i]`` is one row, ``rows[[i, j]]`` a batch."""

    def __init__(self, encoded: Encoded, targets: np.ndarray | None = None):
        self.numeric = torch.from_numpy(np.ascontiguousarray(encoded.numeric, dtype=np.float32))
        self.categorical = torch.from_numpy(np.ascontiguousarray(encoded.categorical, dtype=np.int64))
        self.targets = None if targets is None else torch.from_numpy(np.ascontiguousarray(targets))

    def __len__(self) -> int:
        return len(self.numeric)

    def __getitem__(self, index: Any) -> Any:
        inputs = {"numeric": self.numeric[index], "categorical": self.categorical[index]}
        return inputs if self.targets is None else (inputs, self.targets[index])


def collate_rows(items: list[Any]) -> Any:
    """Stack rows (``(inputs, target)`` pairs, or inputs alone) into a batch."""
    if isinstance(items[0], tuple):
        inputs, targets = zip(*items)
        return collate_rows(list(inputs)), torch.stack(list(targets))
    return {"numeric": torch.stack([item["numeric"] for item in items]),
            "categorical": torch.stack([item["categorical"] for item in items])}


def concatenated(parts: list[Encoded]) -> Encoded:
    """Encoded batches joined in order."""
    return Encoded(np.concatenate([part.numeric for part in parts]),
                   np.concatenate([part.categorical for part in parts]))


def model_outputs(model: torch.nn.Module, rows: EncodedRows, batch: int = 4096) -> torch.Tensor:
    """The model's outputs (float, CPU) for every row of ``rows``, in order, without gradients."""
    parts = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch):
            parts.append(model(rows[start:start + batch] if rows.targets is None else
                               rows[start:start + batch][0]).float())
    return torch.cat(parts) if parts else torch.zeros(0)
