"""From a table of texts to the run's token datasets and the preprocessing state stored in the bundle."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from torchworks.console import say
from torchworks.datasets import get_sample
from torchworks.errors import DataError
from torchworks.splitting import assign_splits
from torchworks.tables import counted, listing
from torchworks.tasks.protocol import PreparedData
from torchworks.tasks.text_classification.config import TextClassificationConfig
from torchworks.tasks.text_classification.texts import TextTable, label_counts, read_texts
from torchworks.tasks.text_classification.tokenizing import TextEncoder, pretrained_tokenizer, train_tokenizer

SPLITS = ("train", "val", "test")


class TokenDataset(Dataset):
    """Token ids per text, with a target each (a class index, or a 0/1 row for multi-label) or none."""

    def __init__(self, ids: list[list[int]], targets: torch.Tensor | None):
        self.ids = ids
        self.targets = targets

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Any:
        tokens = torch.tensor(self.ids[index], dtype=torch.long)
        return tokens if self.targets is None else (tokens, self.targets[index])


def collate_tokens(batch: list[Any], *, labelled: bool) -> Any:
    """Pad a batch to its longest text: ``{"input_ids", "attention_mask"}``, and with ``labelled``
    (items are ``(tokens, target)`` pairs) the stacked targets too."""
    sequences = [item[0] for item in batch] if labelled else batch
    longest = max(len(s) for s in sequences)
    ids = torch.zeros(len(sequences), longest, dtype=torch.long)
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)
    for row, tokens in enumerate(sequences):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    inputs = {"input_ids": ids, "attention_mask": mask}
    return (inputs, torch.stack([item[1] for item in batch])) if labelled else inputs


@dataclass(kw_only=True)
class TextData(PreparedData):
    """PreparedData plus the raw texts and label sets per split, for the baseline and the report."""

    texts: dict[str, list[str]] = field(default_factory=dict)
    label_sets: dict[str, list[list[str]]] = field(default_factory=dict)


def resolve_source(data: str) -> Any:
    """A sample name becomes its file; anything else is a path."""
    sample = get_sample(data)
    return sample.path() if sample is not None else data


def prepare_text_data(config: TextClassificationConfig, state: dict[str, Any] | None = None) -> TextData:
    """Read and check the texts, split them, fit (or reuse) the tokenizer, and build token datasets."""
    table = read_texts(resolve_source(config.data), text=config.text, label=config.label,
                       label_sep=config.label_sep, split_column=config.split_column, encoding=config.encoding,
                       bad_rows=config.bad_rows)
    notes = list(table.notes)
    labels = _known_labels(table, state)
    splits = _splits(config, table, notes)
    parts = {s: [i for i, split in enumerate(splits) if split == s] for s in SPLITS}
    for split, rows in parts.items():
        if not rows:
            raise DataError(f"the {split} split of '{table.rows.source}' is empty",
                            expected=f"some texts in {split}", got="none",
                            hint="add rows to that split, or leave the split column empty to choose for you")
    if state is None:
        state = _fit_state(config, table, labels, [table.texts[i] for i in parts["train"]],
                           [table.labels[i] for i in parts["train"]])
    encoder = TextEncoder(state["tokenizer"], state["max_length"])
    datasets, truncated, lengths = {}, 0, []
    for split, rows in parts.items():
        ids, cut = encoder.encode([table.texts[i] for i in rows])
        truncated += cut
        lengths += [len(x) for x in ids]
        datasets[split] = TokenDataset(ids, encode_targets([table.labels[i] for i in rows], state))
    if truncated:
        notes.append(f"{counted(truncated, 'text')} longer than {state['max_length']} tokens were truncated "
                     "(max_length=)")
    for note in notes:
        say(f"[yellow]warning:[/yellow] {note}")
    texts = {s: [table.texts[i] for i in rows] for s, rows in parts.items()}
    label_sets = {s: [table.labels[i] for i in rows] for s, rows in parts.items()}
    summary = _summary(table, state, datasets, truncated, lengths, notes)
    return TextData(train=datasets["train"], val=datasets["val"], test=datasets["test"], state=state,
                    summary=summary, fingerprint=_fingerprint(table, splits), texts=texts, label_sets=label_sets)


def _known_labels(table: TextTable, state: dict[str, Any] | None) -> list[str]:
    present = sorted(label_counts(table.labels), key=_natural)
    if state is not None:
        unknown = [name for name in present if name not in state["labels"]]
        if unknown:
            raise DataError(f"'{table.rows.source}' has labels this model does not know",
                            expected=", ".join(state["labels"]), got=listing(unknown),
                            hint="evaluate on data with the training labels")
        return state["labels"]
    if len(present) < 2:
        raise DataError(f"'{table.rows.source}' has a single label {present[0]!r}",
                        expected="at least two labels to tell apart", got="1 label on every row",
                        hint="add texts of the other classes (for one class only, anomaly detection fits better)")
    return present


def _splits(config: TextClassificationConfig, table: TextTable, notes: list[str]) -> list[str]:
    counts = label_counts(table.labels)
    # a multi-label row is stratified by its rarest label, so rare labels reach every split
    strata = [min(names, key=lambda n: (counts[n], n)) for names in table.labels]
    groups = [_normalised(text) for text in table.texts]  # copies of a text never straddle splits
    splits = assign_splits(strata, table.splits, config.val_fraction, config.test_fraction, config.seed,
                           groups=groups, noun="text", rare="train")
    once = [name for name, n in counts.items() if n == 1]
    if once:
        rows = [table.numbers[i] for i, names in enumerate(table.labels) if set(names) & set(once)]
        notes.append(f"{counted(len(once), 'label')} with a single example ({listing(once)}, "
                     f"{table.rows.name(rows)}): kept for training only, so never tested")
    repeated = len(groups) - len(set(groups))
    if repeated:
        notes.append(f"{counted(repeated, 'text')} repeat an earlier text (ignoring case and spaces); "
                     "copies were kept in the same split")
    return splits


def _fit_state(config: TextClassificationConfig, table: TextTable, labels: list[str], train_texts: list[str],
               train_labels: list[list[str]]) -> dict[str, Any]:
    state: dict[str, Any] = {"labels": labels, "multi_label": config.label_sep is not None,
                             "label_sep": config.label_sep, "text_column": table.text_column,
                             "pretrained": config.pretrained, "threshold": config.threshold}
    if config.pretrained:
        from torchworks.tasks.text_classification.pretrained import encoder_state, locate_encoder

        folder = locate_encoder(config.model)
        state.update(encoder_state(folder))
        tokenizer_json, max_length = pretrained_tokenizer(folder), min(config.max_length, state["max_positions"])
    else:
        tokenizer_json, max_length = train_tokenizer(train_texts, config.vocab_size), config.max_length
    encoder = TextEncoder(tokenizer_json, max_length)
    counts = label_counts(train_labels)
    state.update({
        "tokenizer": tokenizer_json, "max_length": max_length, "pad_id": encoder.pad_id,
        "vocab_size": encoder.vocab_size, "train_label_counts": {n: counts.get(n, 0) for n in labels},
        "class_weights": _class_weights(counts, labels, len(train_labels), state["multi_label"])
        if config.class_weights == "auto" else None,
    })
    return state


def _class_weights(counts: dict[str, int], labels: list[str], rows: int, multi_label: bool) -> list[float]:
    """Single-label: inverse class frequency (mean 1). Multi-label: negatives per positive, capped."""
    if multi_label:
        return [round(min(100.0, (rows - counts.get(n, 0)) / max(1, counts.get(n, 0))), 5) for n in labels]
    return [round(rows / (len(labels) * max(1, counts.get(n, 0))), 5) for n in labels]


def encode_targets(label_sets: list[list[str]], state: dict[str, Any]) -> torch.Tensor:
    index = {name: i for i, name in enumerate(state["labels"])}
    if not state["multi_label"]:
        return torch.tensor([index[names[0]] for names in label_sets], dtype=torch.long)
    targets = torch.zeros(len(label_sets), len(index))
    for row, names in enumerate(label_sets):
        targets[row, [index[n] for n in names]] = 1.0
    return targets


def _summary(table: TextTable, state: dict[str, Any], datasets: dict[str, TokenDataset], truncated: int,
             lengths: list[int], notes: list[str]) -> dict[str, Any]:
    return {
        "source": table.rows.source,
        "text column": table.text_column,
        "label column": table.label_column,
        "labels": len(state["labels"]),
        "multi-label": state["multi_label"],
        **{f"{split} texts": len(ds) for split, ds in datasets.items()},
        "tokens per text (median, 95th percentile)": f"{int(np.median(lengths))}, {int(np.percentile(lengths, 95))}",
        "truncated texts": truncated,
        "vocabulary": state["vocab_size"],
        **{f"note {i + 1}": note for i, note in enumerate(notes)},
    }


def _fingerprint(table: TextTable, splits: list[str]) -> str:
    digest = hashlib.sha256()
    for text, names, split in zip(table.texts, table.labels, splits):
        digest.update(f"{text}\x1f{'|'.join(names)}\x1f{split}\x1e".encode())
    return digest.hexdigest()[:16]


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def _natural(name: str) -> tuple:
    """'class10' after 'class9'; numbers as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))
