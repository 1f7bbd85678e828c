"""Save and load model bundles: ``model.safetensors`` + ``bundle.json``, never a pickle.

``bundle.json`` is written last, atomically: a folder without it is an unfinished run and never
loads. Loading checks the manifest, the weights' hash, the safetensors header, the tensor names and
shapes against the freshly built model, and that every weight is finite.

A task may keep further files beside the weights (a recommender's nearest-neighbour index of its items):
``bundle.json`` lists each under ``files`` with its size and hash, and they are read back only through
:func:`read_bundle_files`, which checks both. They are data a task parses itself, never pickles.

A state too large for ``bundle.json`` (over ``STATE_INLINE_BYTES`` as JSON: a recommender of a million
items) keeps the keys its class names in ``file_fields`` in Arrow IPC files beside it, one per key,
listed under ``state_files`` with size and hash; :func:`read_bundle` puts them back, so every reader
sees the whole state.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchworks.bundle.atomic import atomic_write_bytes, atomic_write_json
from torchworks.bundle.safetensors_check import read_safetensors_header
from torchworks.errors import BundleError

if TYPE_CHECKING:
    from torch import nn

FORMAT = "torchworks-bundle"
FORMAT_VERSION = 1
MANIFEST = "bundle.json"
WEIGHTS = "model.safetensors"
MAX_MANIFEST_BYTES = 20 * 1024 * 1024
#: What a task's extra bundle file may be called: a plain lower-case name with a suffix, in the run folder itself.
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.[a-z0-9]{1,12}$")
#: A state larger than this as JSON keeps its ``file_fields`` in files of their own.
STATE_INLINE_BYTES = 8 * 1024 * 1024
#: Names the run folder already uses for other things.
RESERVED_NAMES = frozenset({MANIFEST, WEIGHTS, "metrics.json", "config.json", "report.html", "history.csv",
                            "tracking.json"})


@dataclass
class Bundle:
    """A finished run on disk: its folder and its parsed ``bundle.json``."""

    path: Path
    manifest: dict[str, Any]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]

    @property
    def state(self) -> dict[str, Any]:
        return self.manifest["state"]

    @property
    def weights_path(self) -> Path:
        return self.path / self.manifest["weights"]["file"]


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's numbers, stored in every bundle."""
    versions = {"python": platform.python_version()}
    for package in ("torchworks", "torch", "torchvision", "lightning", "torchmetrics", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def save_weights(path: Path, model: nn.Module) -> dict[str, Any]:
    """Write the model's state dict as safetensors atomically; return its manifest entry."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    data = save(tensors)
    atomic_write_bytes(path / WEIGHTS, data)
    return {
        "file": WEIGHTS,
        "sha256": hashlib.sha256(data).hexdigest(),
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }


def save_files(path: Path, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Write a task's extra bundle files atomically; their manifest entries (``{"bytes", "sha256"}`` by name).

    Raises:
        ValueError: A name that is not a plain file name of :data:`FILE_NAME`'s form, or one the run folder
            uses for something else (a bug in the task).
    """
    entries = {}
    for name, data in files.items():
        if not FILE_NAME.match(name) or name in RESERVED_NAMES:
            raise ValueError(f"a task's bundle file cannot be called {name!r}: use a plain lower-case file name "
                             f"with a suffix, other than {sorted(RESERVED_NAMES)}")
        atomic_write_bytes(path / name, data)
        entries[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return entries


def read_bundle_files(bundle: Bundle) -> dict[str, bytes]:
    """The task's extra files the manifest lists (none for bundles without any), each checked.

    Raises:
        BundleError: A listed file is missing, a link, outside the run folder, badly named, or changed since
            training (its size or hash differs).
    """
    listed = bundle.manifest.get("files") or {}
    manifest_path = bundle.path / MANIFEST
    if not isinstance(listed, dict):
        raise BundleError(f"'{manifest_path}' has a malformed files entry", expected="a mapping of file names to "
                          "their size and sha256", got=type(listed).__name__, hint="restore the bundle or train again")
    return {name: _checked_file(bundle.path, name, entry) for name, entry in listed.items()}


def _checked_file(folder: Path, name: Any, entry: Any) -> bytes:
    """The bytes of a file ``bundle.json`` lists, after checking its name, kind, size and hash."""
    manifest_path = folder / MANIFEST
    if not isinstance(name, str) or not FILE_NAME.match(name) or name in RESERVED_NAMES or not isinstance(entry, dict):
        raise BundleError(f"'{manifest_path}' lists a bundle file {name!r}", expected="a plain file name inside "
                          "the run folder with its size and sha256", got=repr(name)[:80],
                          hint="this bundle was tampered with; do not load it")
    candidate = folder / name
    if candidate.is_symlink() or not candidate.is_file():
        raise BundleError(f"bundle file '{candidate}' is missing", expected="a regular file",
                          got="a symlink" if candidate.is_symlink() else "nothing",
                          hint="restore the bundle from a backup or train again")
    data = candidate.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != entry.get("bytes") or digest != entry.get("sha256"):
        raise BundleError(f"bundle file '{candidate}' was changed after training",
                          expected=f"{entry.get('bytes')} bytes with sha256 {entry.get('sha256')}",
                          got=f"{len(data)} bytes with sha256 {digest}", hint="restore the original file or train again")
    return data


def split_state(state: dict[str, Any], file_fields: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``state`` as ``bundle.json`` keeps it, and the files of the keys kept apart (``{key: Arrow IPC bytes}``):
    none unless its JSON is over ``STATE_INLINE_BYTES`` and its class names ``file_fields``."""
    if not file_fields or len(json.dumps(state, default=str)) <= STATE_INLINE_BYTES:
        return state, {}
    apart = {key: _arrow_bytes(state[key]) for key in file_fields if key in state}
    return {key: value for key, value in state.items() if key not in apart}, apart


def save_state_files(path: Path, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Write the state's keys kept apart (:func:`split_state`) as ``state_KEY.arrow``; their manifest entries."""
    entries = {}
    for key, data in files.items():
        name = f"state_{key}.arrow"
        entries[key] = {"file": name, **save_files(path, {name: data})[name]}
    return entries


def _arrow_bytes(values: list[Any]) -> bytes:
    import pyarrow as pa

    table = pa.table({"values": pa.array(values)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _merge_state_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Put the state's keys kept in files back into ``manifest["state"]``."""
    listed = manifest.get("state_files") or {}
    if not listed:
        return
    import pyarrow as pa

    manifest_path = folder / MANIFEST
    if not isinstance(listed, dict) or not isinstance(manifest["state"], dict):
        raise BundleError(f"'{manifest_path}' has a malformed state_files entry", expected="a mapping of state keys "
                          "to files", got=type(listed).__name__, hint="restore the bundle or train again")
    for key, entry in listed.items():
        data = _checked_file(folder, entry.get("file") if isinstance(entry, dict) else None, entry)
        try:
            values = pa.ipc.open_stream(data).read_all().column("values").to_pylist()
        except (pa.ArrowException, KeyError) as error:
            raise BundleError(f"state file '{folder / entry['file']}' cannot be read", expected="an Arrow IPC stream "
                              "with a values column", got=str(error)[:200], hint="restore the bundle or train again"
                              ) from None
        manifest["state"][key] = values


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write ``bundle.json`` (the commit point of a bundle) atomically."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        **manifest,
    }
    atomic_write_json(path / MANIFEST, manifest)


def read_bundle(path: str | Path) -> Bundle:
    """Read and check ``bundle.json`` of the run folder ``path`` (weights are checked on load)."""
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise BundleError(
            f"run '{folder}' does not exist",
            expected="a run folder such as runs/<task>/<name>",
            got="no such folder",
            hint="the last line of `torchworks train` names the run folder",
        )
    if not manifest_path.is_file():
        resumable = (folder / "checkpoints").is_dir()
        raise BundleError(
            f"run '{folder}' is not a finished bundle (no {MANIFEST})",
            expected="a folder written by a completed `torchworks train`",
            got="an unfinished run" if resumable else "a folder without a bundle",
            hint="continue it with resume=true name=" + folder.name if resumable else "train a model first",
        )
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"'{manifest_path}' is too large", expected="a bundle manifest", got="over 20 MB")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"'{manifest_path}' is not valid JSON", expected="a bundle manifest", got=str(exc)) from None
    _check_manifest(manifest_path, manifest)
    _check_weights_file(folder, manifest["weights"]["file"])
    _merge_state_files(folder, manifest)
    return Bundle(folder, manifest)


def load_weights(bundle: Bundle, model: nn.Module) -> None:
    """Fill ``model`` with the bundle's weights after checking hash, header, names, shapes, values."""
    import torch
    from safetensors.torch import load

    path = bundle.weights_path
    header = read_safetensors_header(path)
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    declared = bundle.manifest["weights"].get("tensors", {})
    actual = {k: v["shape"] for k, v in header.items()}
    for label, shapes in (("model", expected), ("bundle.json", declared)):
        if shapes != actual:
            raise BundleError(
                f"weights in '{path}' do not match the {label}",
                expected="the same tensor names and shapes",
                got=_shape_diff(shapes, actual),
                hint="the bundle was edited or mixed with another run; use an untouched bundle",
            )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != bundle.manifest["weights"].get("sha256"):
        raise BundleError(
            f"weights in '{path}' were changed after training",
            expected=f"sha256 {bundle.manifest['weights'].get('sha256')}",
            got=f"sha256 {digest}",
            hint="restore the original model.safetensors or train again",
        )
    tensors = load(data)
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise BundleError(
                f"weights in '{path}' contain NaN or infinite values",
                expected="finite weights",
                got=f"non-finite values in '{name}'",
                hint="the model diverged; train again with a lower lr=",
            )
    model.load_state_dict(tensors, strict=True)


def _shape_diff(expected: dict[str, list[int]], actual: dict[str, list[int]]) -> str:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    wrong = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    parts = []
    if missing:
        parts.append(f"missing {missing[:3]}")
    if extra:
        parts.append(f"unexpected {extra[:3]}")
    if wrong:
        k = wrong[0]
        parts.append(f"'{k}' shaped {actual[k]} instead of {expected[k]}")
    return "; ".join(parts)


def _check_manifest(manifest_path: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(
            f"'{manifest_path}' is not a torchworks bundle manifest",
            expected=f"format '{FORMAT}'",
            got=repr(manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__),
        )
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BundleError(
            f"'{manifest_path}' was written by a newer torchworks",
            expected=f"bundle format {FORMAT_VERSION} or older",
            got=str(manifest.get("format_version")),
            hint="upgrade torchworks",
        )
    for key in ("task", "config", "state", "weights"):
        if key not in manifest:
            raise BundleError(f"'{manifest_path}' lacks '{key}'", expected="a complete manifest", got="no such key")
    if not isinstance(manifest["weights"], dict) or not isinstance(manifest["weights"].get("file"), str):
        raise BundleError(f"'{manifest_path}' has no weights file entry", expected="weights.file", got="nothing")


def _check_weights_file(folder: Path, name: str) -> None:
    candidate = folder / name
    inside = os.path.realpath(candidate).startswith(os.path.realpath(folder) + os.sep)
    if name != WEIGHTS or os.path.basename(name) != name or not inside:
        raise BundleError(
            f"bundle '{folder}' points at weights '{name}'",
            expected=f"'{WEIGHTS}' inside the run folder (bundles never load pickles or outside files)",
            got=repr(name),
            hint="this bundle was tampered with; do not load it",
        )
    if candidate.is_symlink() or not candidate.is_file():
        raise BundleError(
            f"weights file '{candidate}' is missing",
            expected="a regular file",
            got="a symlink" if candidate.is_symlink() else "nothing",
            hint="restore the bundle from a backup or train again",
        )
