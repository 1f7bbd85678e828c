"""Folders of files written beside a predictions file (annotated images, masks, overlays), built whole:
the folder is filled under a temporary name and put in place only when complete, so a failure leaves
nothing half-written, and an existing folder is replaced only then (predict refuses beforehand, unless
``--force``, to replace one)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torchworks.errors import OutputError


@contextmanager
def folder_built_whole(folder: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; on success it becomes ``folder`` (replacing an
    existing one), on any error it is removed and ``folder`` is left as it was."""
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        yield building
        _replace(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


class FreeNames:
    """File names unique within a folder, whatever the case: ``a.png``, ``a-2.png``, ..."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def take(self, stem: str, suffix: str) -> str:
        name, number = f"{stem}{suffix}", 1
        while name.lower() in self.taken:
            number += 1
            name = f"{stem}-{number}{suffix}"
        self.taken.add(name.lower())
        return name


def _replace(building: Path, folder: Path) -> None:
    """Put the finished folder in place, swapping out an existing one."""
    old = None
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir():
            raise OutputError(f"cannot write '{folder}'", expected="a folder name that is free",
                              got="an existing file", hint="move that file, or choose another --output")
        old = folder.with_name(f".{folder.name}.{building.name}.old")
        folder.rename(old)
    try:
        building.rename(folder)
    except OSError:
        if old is not None:
            old.rename(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
