"""The registry's own copy of a bundle: checked before it is taken, written whole or not at all.

A registered version must not change when its run folder is edited or deleted, so ``add`` copies the
bundle's files (never its training checkpoints) into the registry. A ``.tar.gz``/``.zip`` of a run is
unpacked only after every entry is checked: no absolute paths, no ``..``, no links or devices.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from torchworks.bundle.io import MANIFEST
from torchworks.errors import BundleError

SKIPPED = frozenset({"checkpoints", "tracking.json"})
ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def check_bundle(run: Path) -> dict:
    """The manifest of a complete, untampered bundle (weights hashed and loaded into its model)."""
    from torchworks.engine.loading import load_model

    bundle, *_ = load_model(run)
    return bundle.manifest


def copy_bundle(source: Path, target: Path) -> dict:
    """Copy the bundle at ``source`` (a run folder or an archive of one) to ``target``; its manifest.

    Raises:
        BundleError: Not a bundle, a tampered one, or an archive with unsafe entries.
    """
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".incoming-") as scratch:
        run = unpack(source, Path(scratch) / "unpacked") if source.name.endswith(ARCHIVES) else source
        manifest = check_bundle(run)
        staged = Path(scratch) / "copy"
        shutil.copytree(run, staged, ignore=lambda folder, names: [n for n in names if n in SKIPPED or n.startswith(".")],
                        symlinks=False)
        os.replace(staged, target)
    return manifest


def unpack(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` after checking every entry; the folder holding ``bundle.json``."""
    if not archive.is_file():
        raise BundleError(f"'{archive}' does not exist", expected="a run folder or an archive of one",
                          got="no such file", hint="check the path")
    into.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle_zip:
            for info in bundle_zip.infolist():
                _check_entry(archive, info.filename, is_link=(info.external_attr >> 16) & 0o170000 == 0o120000)
            bundle_zip.extractall(into)
    else:
        with tarfile.open(archive) as bundle_tar:
            for member in bundle_tar.getmembers():
                _check_entry(archive, member.name, is_link=not (member.isfile() or member.isdir()))
            bundle_tar.extractall(into, filter="data")
    manifests = sorted(into.rglob(MANIFEST))
    if not manifests:
        raise BundleError(f"'{archive}' holds no bundle", expected=f"a run folder with {MANIFEST}", got="none",
                          hint="archive the run folder itself")
    return manifests[0].parent


def _check_entry(archive: Path, name: str, is_link: bool) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or is_link or (path.parts and path.parts[0].endswith(":")):
        raise BundleError(f"'{archive}' contains an unsafe entry", expected="plain files and folders inside the "
                          "archive", got=repr(name), hint="archive the run folder again with tar or zip")
