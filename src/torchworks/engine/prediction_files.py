"""Where predictions go: the output file checked before any work (nothing of the user's replaced
without ``--force``), then written atomically as JSON (records as they are) or CSV (plain columns,
one row per record or per item a task lists, such as a detection's boxes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def check_output_file(output: Path, force: bool, companions: Sequence[Path] = ()) -> None:
    """Refuse, before any work, to replace an existing file or to write an unknown format;
    ``companions`` (``Task.companion_paths``) are checked like the file itself."""
    from torchworks.errors import OutputError

    if output.suffix.lower() not in (".csv", ".json", ".parquet"):
        raise OutputError(f"cannot write predictions to '{output}'", expected="a .csv, .json or .parquet file",
                          got=output.suffix or "no extension", hint="use --output preds.csv or --output preds.json")
    if output.exists() and not force:
        raise OutputError(f"'{output}' already exists", expected="a new file name", got="an existing file",
                          hint="choose another --output, or add --force to replace it")
    if not output.parent.is_dir():
        raise OutputError(f"cannot write '{output}'", expected="an existing folder", got="no such folder",
                          hint=f"create {output.parent} first")
    for path in companions:
        if (path.exists() or path.is_symlink()) and not force:
            raise OutputError(f"'{path}' already exists", expected=f"a free name for what is written beside {output}",
                              got="an existing " + ("folder" if path.is_dir() else "file"),
                              hint="choose another --output, or add --force to replace it")


def write_predictions(records: list[dict], output: Path,
                      rows_of: Callable[[dict[str, Any]], list[dict[str, Any]] | None] | None = None) -> Path:
    """Save predictions as JSON (records as they are), CSV or Parquet (plain columns, see
    :func:`flat_record`), by the file's extension, atomically. Error rows leave the other columns empty; the ``error``
    column comes last. ``rows_of`` (``Task.csv_rows``) may turn a readable record into several CSV
    rows (one per box of a detection), or None for the generic one."""
    import csv
    import io

    from torchworks.bundle.atomic import atomic_write_bytes, atomic_write_json

    if output.suffix.lower() == ".json":
        return atomic_write_json(output, records)
    rows = []
    for record in records:
        own = rows_of(record) if rows_of is not None and "error" not in record else None
        rows += [flat_record(row) for row in own] if own is not None else [flat_record(record)]
    columns: dict[str, None] = {}
    for row in sorted(rows, key=lambda row: "error" in row):  # readable rows set the column order
        columns.update(dict.fromkeys(key for key in row if key != "error"))
    if any("error" in row for row in rows):
        columns["error"] = None
    if output.suffix.lower() == ".parquet":
        return atomic_write_bytes(output, _parquet_bytes(rows, list(columns)))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_bytes(output, text.getvalue().encode("utf-8"))


def flat_record(record: dict[str, Any]) -> dict[str, Any]:
    """One record as plain CSV cells, for any task's records:

    - a mapping of scalars becomes one column per key: ``probabilities`` -> ``p_<key>``, any other
      ``field`` -> ``field_<key>``;
    - a list of label/probability pairs (``top_k``) becomes ``top_k_1_label``,
      ``top_k_1_probability``, ... -- or is left out when the record already has a column per
      class for every label it names (a text model's ``probabilities``);
    - a list of scalars (multi-label ``labels``) becomes one cell joined by ``;``;
    - anything deeper stays JSON text.
    """
    import json

    mappings = [value for value in record.values() if isinstance(value, dict)]
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and all(_scalar(v) for v in value.values()):
            prefix = "p_" if key == "probabilities" else f"{key}_"
            flat.update({f"{prefix}{inner}": cell for inner, cell in value.items()})
        elif isinstance(value, (list, tuple)) and all(_scalar(v) for v in value):
            flat[key] = ";".join("" if v is None else str(v) for v in value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, dict) and all(_scalar(c) for c in v.values())
                                                      for v in value):
            labels = [entry.get("label") for entry in value]
            if labels and all(any(label in mapping for mapping in mappings) for label in labels):
                continue  # the per-class columns carry these numbers already
            for number, entry in enumerate(value, start=1):
                flat.update({f"{key}_{number}_{inner}": cell for inner, cell in entry.items()})
        elif isinstance(value, (list, tuple, dict)):
            flat[key] = json.dumps(value, default=str)
        else:
            flat[key] = value
    return flat


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _parquet_bytes(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    """Rows as one Parquet file; a column mixing kinds of value (numbers and error rows' blanks are fine)
    falls back to text."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name in columns:
        cells = [row.get(name) for row in rows]
        try:
            arrays[name] = pa.array(cells)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array([None if cell is None else str(cell) for cell in cells], pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays), buffer)
    return buffer.getvalue()
