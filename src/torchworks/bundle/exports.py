"""Exported copies of a bundle's model (ONNX, TorchScript), recorded in ``bundle.json`` with their hash.

An export is only ever loaded from the run's own ``exports/`` folder, under its fixed file name, and
only when its bytes hash to what ``bundle.json`` recorded when torchworks wrote it: a foreign or
edited TorchScript or ONNX file (either can run arbitrary operators) is refused. ONNX files must carry
their weights inside: a reference to external data, which could point anywhere, is refused before
any runtime session opens it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from torchworks.bundle.atomic import atomic_write_json
from torchworks.bundle.io import MANIFEST, Bundle
from torchworks.errors import BundleError

EXPORTS = "exports"
EXPORT_FILES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}


def export_path(run: Path, fmt: str) -> Path:
    """Where the ``fmt`` export of the run at ``run`` lives."""
    return run / EXPORTS / EXPORT_FILES[fmt]


def record_export(bundle: Bundle, fmt: str, entry: dict[str, Any]) -> None:
    """Add (or replace) the ``fmt`` entry of ``bundle.json``'s ``exports``, atomically. The entry gets
    the file's name and sha256 here, from the bytes on disk."""
    path = export_path(bundle.path, fmt)
    manifest = json.loads((bundle.path / MANIFEST).read_text(encoding="utf-8"))
    exports = dict(manifest.get("exports") or {})
    exports[fmt] = {"file": f"{EXPORTS}/{EXPORT_FILES[fmt]}", "sha256": _sha256(path), **entry}
    manifest["exports"] = exports
    atomic_write_json(bundle.path / MANIFEST, manifest)
    bundle.manifest = manifest


def available_exports(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """The export entries ``bundle.json`` records, by format (unverified)."""
    exports = bundle.manifest.get("exports") or {}
    return {fmt: entry for fmt, entry in exports.items() if fmt in EXPORT_FILES and isinstance(entry, dict)}


def verified_export(bundle: Bundle, fmt: str) -> tuple[Path, dict[str, Any]]:
    """The ``fmt`` export's path and entry, after checking name, place, hash and (ONNX) external data.

    Raises:
        BundleError: No such export, or a file that is not the one torchworks wrote.
    """
    entry = available_exports(bundle).get(fmt)
    if entry is None:
        raise BundleError(f"run '{bundle.path}' has no {fmt} export", expected=f"an {fmt} entry in {MANIFEST}",
                          got="none", hint=f"create it with `torchworks export {bundle.path} format={fmt}`")
    path = export_path(bundle.path, fmt)
    if entry.get("file") != f"{EXPORTS}/{EXPORT_FILES[fmt]}" or path.is_symlink() or not path.is_file() \
            or not os.path.realpath(path).startswith(os.path.realpath(bundle.path) + os.sep):
        raise BundleError(f"the {fmt} export of '{bundle.path}' is not where torchworks writes it",
                          expected=f"a regular file {EXPORTS}/{EXPORT_FILES[fmt]} inside the run",
                          got=repr(entry.get("file")), hint=f"export again: torchworks export {bundle.path} format={fmt}")
    digest = _sha256(path)
    if digest != entry.get("sha256"):
        raise BundleError(f"the {fmt} export '{path}' was changed after it was written",
                          expected=f"sha256 {entry.get('sha256')}", got=f"sha256 {digest}",
                          hint=f"never load model files from elsewhere; export again with `torchworks export "
                               f"{bundle.path} format={fmt}`")
    if fmt == "onnx":
        _refuse_external_data(path)
    return path, entry


def _refuse_external_data(path: Path) -> None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors += [attribute.t for attribute in node.attribute if attribute.HasField("t")]
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            where = next((item.value for item in tensor.external_data if item.key == "location"), "?")
            raise BundleError(f"the ONNX export '{path}' keeps tensor '{tensor.name}' in an outside file",
                              expected="every weight inside the .onnx file", got=f"external data at {where!r}",
                              hint="export again with torchworks; external data is never followed")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
