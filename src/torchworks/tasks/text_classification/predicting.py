"""What to predict on: texts given directly, lists of them, or files of texts (CSV/TSV/JSON lines/
Parquet with a text column, or .txt with one text per line); and the JSON records that come out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict

from torchworks.bad_inputs import pass_over
from torchworks.console import say
from torchworks.errors import DataError
from torchworks.families.classification import top_k_scores
from torchworks.tables import counted, decode_text
from torchworks.tasks.records import LabelScore
from torchworks.tasks.text_classification.data import TokenDataset
from torchworks.tasks.text_classification.texts import read_texts
from torchworks.tasks.text_classification.tokenizing import shared_encoder
from torchworks.uploads import Upload

TABLE_FILES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".parquet", ".pq")
TEXT_FILES = (".txt",)
_OUTPUT_FIELDS = {"input", "source", "row", "label", "labels", "probability", "probabilities", "top_k"}


def text_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[TokenDataset, list[dict[str, Any]]]:
    """Token ids of every text in ``inputs``, and per text where it came from."""
    found: list[dict[str, Any]] = []
    for item in inputs:
        try:
            found += _expand(item, state)
        except DataError as error:  # recorded and skipped while predict collects bad inputs; else raised
            pass_over(_name(item), error, len(found))
    if not found:
        raise DataError("nothing to predict", expected="texts, or files of texts", got="no texts in the inputs")
    encoder = shared_encoder(state["tokenizer"], state["max_length"])
    ids, truncated = encoder.encode([origin["input"] for origin in found])
    if truncated:
        say(f"[yellow]warning:[/yellow] {counted(truncated, 'text')} longer than {state['max_length']} tokens "
            "were truncated")
    return TokenDataset(ids, None), found


class TextPrediction(BaseModel):
    """One text's prediction: its label (or, multi-label, labels), the top k and every probability;
    texts from an uploaded table also carry their file, row and the row's other cells."""

    model_config = ConfigDict(extra="allow")

    input: str
    label: str | None = None
    labels: list[str] | None = None
    probability: float | None = None
    top_k: list[LabelScore]
    probabilities: dict[str, float]
    source: str | None = None
    row: int | None = None


def _name(item: Any) -> str:
    if isinstance(item, Upload):
        return item.name
    if isinstance(item, (str, Path)):
        return str(item)
    return f"<{type(item).__name__}>"


class InlineText(str):
    """A text given as such (in a request): never read as a file name, whatever it looks like."""


def _expand(item: Any, state: dict[str, Any]) -> list[dict[str, Any]]:
    import pandas as pd

    if isinstance(item, Upload):
        return _from_upload(item, state)
    if isinstance(item, pd.DataFrame):
        return _from_table(item, "<dataframe>", state)
    if isinstance(item, pd.Series):
        return [origin for text in item.astype(str) for origin in _expand(text, state)]
    if isinstance(item, Path) or (isinstance(item, str) and not isinstance(item, InlineText) and _names_a_file(item)):
        return _from_file(Path(item).expanduser(), state)
    if isinstance(item, str):
        if not item.strip():
            raise DataError("an empty text was given", expected="a text to classify", got="''",
                            hint="leave empty texts out")
        return [{"input": item}]
    if isinstance(item, (list, tuple)):
        return [origin for inner in item for origin in _expand(inner, state)]
    raise DataError("cannot predict on this input", expected="a text, a list of texts, or a file of texts",
                    got=type(item).__name__)


def _names_a_file(text: str) -> bool:
    """A single word ending in a file extension we read is a file name (and an error if missing)."""
    return not any(c.isspace() for c in text.strip()) and Path(text).suffix.lower() in TABLE_FILES + TEXT_FILES


def _from_file(path: Path, state: dict[str, Any]) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(f"input file '{path}' does not exist", expected="a file of texts (CSV, TSV, JSON lines, "
                        "Parquet or .txt)", got="no such file", hint="check the path")
    if path.suffix.lower() in TEXT_FILES:
        return _text_lines(path.read_bytes(), str(path))
    return _from_table(path, str(path), state)


def _from_upload(upload: Upload, state: dict[str, Any]) -> list[dict[str, Any]]:
    if upload.suffix in TABLE_FILES:
        return _from_table(upload, upload.name, state)
    return _text_lines(upload.data, upload.name)


def _text_lines(data: bytes, name: str) -> list[dict[str, Any]]:
    """One text per non-blank line, numbered as in the file."""
    lines = decode_text(data, name).splitlines()
    return [{"input": line, "source": name, "row": number}
            for number, line in enumerate(lines, start=1) if line.strip()]


def _from_table(source: Any, name: str, state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every text of a table, with the file, the row and the row's other cells (ids, dates...) so
    that predictions can be joined back; a cell named like an output field is left out."""
    table = read_texts(source, with_labels=False, preferred_text=state.get("text_column"), keep_other_columns=True)
    for note in table.notes:
        say(f"[yellow]warning:[/yellow] {note}")
    return [{"input": text, "source": name, "row": number,
             **{k: v for k, v in others.items() if k not in _OUTPUT_FIELDS}}
            for text, number, others in zip(table.texts, table.numbers, table.other_columns)]


def prediction_records(logits: torch.Tensor, origins: list[dict[str, Any]], state: dict[str, Any],
                       top_k: int) -> list[dict[str, Any]]:
    """One record per text: the label (or, multi-label, every label over the threshold), the top-k
    classes, and every class's probability."""
    labels = state["labels"]
    multi = state["multi_label"]
    probabilities = logits.sigmoid() if multi else logits.softmax(dim=1)
    records = []
    for row, (origin, best) in enumerate(zip(origins, top_k_scores(probabilities, labels, top_k))):
        every = {n: round(float(p), 6) for n, p in zip(labels, probabilities[row])}
        if multi:
            chosen = [labels[i] for i in torch.nonzero(probabilities[row] >= state["threshold"]).flatten().tolist()]
            outcome = {"labels": chosen}
        else:
            outcome = {"label": best[0]["label"], "probability": best[0]["probability"]}
        records.append({**origin, **outcome, "top_k": best, "probabilities": every})
    return records
