"""Exported copies of a bundle's model (ONNX, TorchScript, each also int8), recorded in ``bundle.json``
with their hash and the result of their parity gate.

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
EXPORT_FILES = {
    "onnx": "model.onnx",
    "torchscript": "model.torchscript.pt",
    "onnx-int8": "model.int8.onnx",
    "torchscript-int8": "model.int8.torchscript.pt",
}
# names that stand for several formats on the command line
FORMAT_GROUPS = {"int8": ("onnx-int8", "torchscript-int8"), "all": tuple(EXPORT_FILES)}
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# bundle.json key: the last outcome of each format's export (passed, failed or skipped, and why); only
# passed exports have a file in exports/ and an entry under "exports"
RESULTS = "export_results"


def runtime_of(fmt: str) -> str:
    """The runtime that runs the ``fmt`` export: ``onnx`` or ``torchscript``."""
    return fmt.split("-")[0]


def expand_formats(choice: str) -> list[str]:
    """The formats named by ``choice``: one format, a group (``int8``, ``all``) or a comma list.

    Raises:
        ConfigError: A name that is neither (with a did-you-mean hint).
    """
    from torchworks.errors import ConfigError, did_you_mean

    formats: list[str] = []
    for name in (part.strip() for part in str(choice).split(",")):
        if name not in EXPORT_FILES and name not in FORMAT_GROUPS:
            known = [*EXPORT_FILES, *FORMAT_GROUPS]
            raise ConfigError(f"unknown export format '{name}'", expected="one of " + ", ".join(known),
                              got=name or "nothing", hint=did_you_mean(name, known))
        formats += [fmt for fmt in FORMAT_GROUPS.get(name, (name,)) if fmt not in formats]
    return formats


def export_path(run: Path, fmt: str) -> Path:
    """Where the ``fmt`` export of the run at ``run`` lives."""
    return run / EXPORTS / EXPORT_FILES[fmt]


def named_formats(choice: str) -> list[str]:
    """The formats ``choice`` names one by one (``onnx,int8`` -> ``onnx``), not through a group."""
    return [part.strip() for part in str(choice).split(",") if part.strip() in EXPORT_FILES]


def record_export(bundle: Bundle, fmt: str, entry: dict[str, Any], outcome: dict[str, Any] | None = None) -> None:
    """Add (or replace) the ``fmt`` entry of ``bundle.json``'s ``exports``, atomically. The entry gets
    the file's name and sha256 here, from the bytes on disk; ``outcome`` (when given) becomes the
    format's ``export_results`` record in the same write."""
    path = export_path(bundle.path, fmt)
    manifest = json.loads((bundle.path / MANIFEST).read_text(encoding="utf-8"))
    exports = dict(manifest.get("exports") or {})
    exports[fmt] = {"file": f"{EXPORTS}/{EXPORT_FILES[fmt]}", "sha256": _sha256(path), **entry}
    manifest["exports"] = exports
    if outcome is not None:
        manifest[RESULTS] = {**(manifest.get(RESULTS) or {}), fmt: outcome}
    atomic_write_json(bundle.path / MANIFEST, manifest)
    bundle.manifest = manifest


def reject_export(bundle: Bundle, fmt: str, outcome: dict[str, Any]) -> None:
    """Record that ``fmt`` failed its parity gate or could not be made: ``outcome`` becomes its
    ``export_results`` record, and an earlier ``fmt`` export (its entry, then its file) is removed, so
    that ``exports/`` only ever holds exports that passed."""
    manifest = json.loads((bundle.path / MANIFEST).read_text(encoding="utf-8"))
    manifest["exports"] = {name: entry for name, entry in (manifest.get("exports") or {}).items() if name != fmt}
    manifest[RESULTS] = {**(manifest.get(RESULTS) or {}), fmt: outcome}
    atomic_write_json(bundle.path / MANIFEST, manifest)
    bundle.manifest = manifest
    export_path(bundle.path, fmt).unlink(missing_ok=True)


def export_results(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """The last outcome of each format's export, by format (empty for bundles exported before they were kept)."""
    results = bundle.manifest.get(RESULTS) or {}
    return {fmt: outcome for fmt, outcome in results.items() if fmt in EXPORT_FILES and isinstance(outcome, dict)}


def available_exports(bundle: Bundle) -> dict[str, dict[str, Any]]:
    """The export entries ``bundle.json`` records, by format (unverified)."""
    exports = bundle.manifest.get("exports") or {}
    return {fmt: entry for fmt, entry in exports.items() if fmt in EXPORT_FILES and isinstance(entry, dict)}


def passed_gate(entry: dict[str, Any]) -> bool:
    """Whether an export passed its parity gate (exports written before the gate existed did not run it)."""
    return entry.get("status") == PASSED


def verified_export(bundle: Bundle, fmt: str, *, allow_failed: bool = False) -> tuple[Path, dict[str, Any]]:
    """The ``fmt`` export's path and entry, after checking its parity gate, name, place, hash and (ONNX)
    external data.

    Args:
        allow_failed: Accept an export that failed (or never ran) its parity gate: for measuring it,
            never for serving it.

    Raises:
        BundleError: No such export, one that failed its parity gate, or a file that is not the one
            torchworks wrote.
    """
    entry = available_exports(bundle).get(fmt)
    if entry is None:
        raise BundleError(f"run '{bundle.path}' has no {fmt} export", expected=f"an {fmt} entry in {MANIFEST}",
                          got="none", hint=f"create it with `torchworks export {bundle.path} format={fmt}`")
    if not allow_failed and not passed_gate(entry):
        parity = entry.get("parity") or {}
        got = (f"{parity.get('metric')} {parity.get('eager'):.4g} eager, {parity.get('export'):.4g} exported"
               if parity.get("export") is not None else "no parity check recorded")
        raise BundleError(f"the {fmt} export of '{bundle.path}' did not pass its parity gate",
                          expected=f"a test metric within {parity.get('tolerance', 'the tolerance')} of the eager model's",
                          got=got, hint="serve another backend, or export again with a larger tolerance if the "
                                        f"drop is acceptable: torchworks export {bundle.path} format={fmt} tolerance=0.05")
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
    if runtime_of(fmt) == "onnx":
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
