"""M3: hand-written hostile safetensors files are refused before anything big is allocated."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save

from torchworks.bundle.safetensors_check import read_safetensors_header
from torchworks.errors import BundleError


def write_raw(path: Path, header: bytes, data: bytes = b"", header_len: int | None = None) -> Path:
    """A safetensors file from raw header bytes (the length prefix can lie)."""
    length = len(header) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", length) + header + data)
    return path


def write_st(path: Path, header: dict, data: bytes) -> Path:
    return write_raw(path, json.dumps(header).encode("utf-8"), data)


def f32(n: int) -> bytes:
    return np.arange(n, dtype=np.float32).tobytes()


def refused(path: Path, *needles: str) -> BundleError:
    with pytest.raises(BundleError) as info:
        read_safetensors_header(path)
    message = info.value.render()
    assert str(path) in message, "the error must name the file"
    for needle in needles:
        assert needle in message
    return info.value


def test_a_real_safetensors_file_passes(tmp_path):
    path = tmp_path / "ok.safetensors"
    path.write_bytes(save({"w": torch.ones(2, 3), "b": torch.zeros(3, dtype=torch.int64)}))
    header = read_safetensors_header(path)
    assert header["w"]["shape"] == [2, 3] and header["w"]["dtype"] == "F32"
    assert header["b"]["shape"] == [3] and header["b"]["dtype"] == "I64"
    assert "__metadata__" not in header


def test_metadata_entry_is_allowed_and_dropped(tmp_path):
    path = write_st(tmp_path / "m.safetensors",
                    {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                    f32(2))
    assert list(read_safetensors_header(path)) == ["w"]


def test_header_length_of_2_to_the_40_is_refused_without_allocating_it(tmp_path):
    path = write_raw(tmp_path / "huge.safetensors", b"{}", header_len=2**40)
    tracemalloc.start()
    try:
        refused(path, str(2**40))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_header_length_past_the_end_of_the_file_is_refused(tmp_path):
    refused(write_raw(tmp_path / "short.safetensors", b'{"w": 1}', header_len=5000), "5000")


def test_fewer_than_8_bytes_is_refused(tmp_path):
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(b"\x01\x02")
    refused(path, "fewer than 8 bytes")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    refused(path)


@pytest.mark.parametrize("header", [b"not json at all", b"\xff\xfe\x00garbage", b'{"w": ', b"[1, 2, 3]", b'"text"'])
def test_non_json_or_non_object_header_is_refused(tmp_path, header):
    refused(write_raw(tmp_path / "bad.safetensors", header, f32(2)))


def test_pickle_bytes_are_not_a_safetensors_file(tmp_path):
    import pickle

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    refused(path)


def test_duplicate_keys_are_refused(tmp_path):
    entry = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
    header = f'{{"w": {entry}, "w": {entry}}}'.encode()
    refused(write_raw(tmp_path / "dup.safetensors", header, f32(2)), "duplicate key 'w'")


def test_overlapping_offsets_are_refused(tmp_path):
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    refused(write_st(tmp_path / "overlap.safetensors", header, f32(3)), "overlap")


def test_shape_not_matching_the_byte_length_is_refused(tmp_path):
    header = {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 8]}}
    refused(write_st(tmp_path / "shape.safetensors", header, f32(2)), "'w'", "[1000, 1000]")


def test_offsets_past_the_end_of_the_data_are_refused(tmp_path):
    header = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    refused(write_st(tmp_path / "past.safetensors", header, f32(2)), "outside")


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]},
        {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]},
        {"dtype": "F32", "shape": [2], "data_offsets": [0]},
        {"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]},
        {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]},
        {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]},
        {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]},
        {"dtype": "OBJECT", "shape": [2], "data_offsets": [0, 8]},
        {"shape": [2], "data_offsets": [0, 8]},
        "not an entry",
    ],
)
def test_malformed_entries_are_refused(tmp_path, entry):
    refused(write_st(tmp_path / "entry.safetensors", {"w": entry}, f32(2)), "'w'")


@pytest.mark.parametrize("layout", ["gap", "trailing"])
def test_data_not_fully_covered_by_tensors_is_refused(tmp_path, layout):
    if layout == "gap":
        header = {
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]},
        }
        data = f32(4)
    else:
        header = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
        data = f32(3)
    path = write_st(tmp_path / f"{layout}.safetensors", header, data)
    from safetensors.torch import load

    with pytest.raises(Exception):  # noqa: B017 - the reference reader refuses this file
        load(path.read_bytes())
    refused(path)
