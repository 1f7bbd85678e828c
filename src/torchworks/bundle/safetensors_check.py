"""Validate a safetensors file's header before anything is allocated or loaded.

The format is: 8 bytes little-endian header length N, N bytes of JSON, then the raw tensor data.
A hostile file can claim a 2**40-byte header, overlapping or out-of-range offsets, duplicate keys or
shapes that do not match its byte ranges; each is refused here with the file named.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

from torchworks.errors import BundleError

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}


def read_safetensors_header(path: str | Path) -> dict[str, dict[str, Any]]:
    """Return ``{name: {"dtype", "shape", "data_offsets"}}`` after checking every entry.

    Raises:
        BundleError: The file is not a well-formed safetensors file.
    """
    file = Path(path)
    size = file.stat().st_size
    with open(file, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise _bad(file, "fewer than 8 bytes")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
            raise _bad(file, f"a header length of {header_len} bytes in a {size}-byte file")
        raw = handle.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(file, f"a header that is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad(file, "a header that is not a JSON object")
    header.pop("__metadata__", None)
    _check_entries(file, header, size - 8 - header_len)
    return header


def _check_entries(file: Path, header: dict[str, Any], data_len: int) -> None:
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or entry.get("dtype") not in DTYPE_BYTES:
            raise _bad(file, f"tensor '{name}' with an unknown dtype")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise _bad(file, f"tensor '{name}' with an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise _bad(file, f"tensor '{name}' with invalid data offsets {offsets!r}")
        start, end = offsets
        if not 0 <= start <= end <= data_len:
            raise _bad(file, f"tensor '{name}' whose bytes {start}..{end} fall outside the {data_len}-byte data")
        if (end - start) != math.prod(shape) * DTYPE_BYTES[entry["dtype"]]:
            raise _bad(file, f"tensor '{name}' whose shape {shape} does not match its {end - start} bytes")
        spans.append((start, end, name))
    spans.sort()
    position, previous = 0, "the header"
    for start, end, name in spans:
        if start < position:
            raise _bad(file, f"tensors '{previous}' and '{name}' whose bytes overlap")
        if start > position:
            raise _bad(file, f"{start - position} unaccounted bytes before tensor '{name}'")
        position, previous = end, name
    if position != data_len:
        raise _bad(file, f"{data_len - position} unaccounted bytes after the last tensor")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{key}'")
        result[key] = value
    return result


def _bad(file: Path, got: str) -> BundleError:
    return BundleError(
        f"weights file '{file}' is not a valid safetensors file",
        expected="a safetensors file written by torchworks",
        got=got,
        hint="the file is corrupt or was replaced; train again or restore the bundle from a backup",
    )
