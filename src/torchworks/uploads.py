"""In-memory files: what the server (and Python callers holding bytes) hand to a task instead of a path.

A task's ``predict_inputs`` reads an :class:`Upload` exactly as it reads the file it stands for, so
nothing a client sends is ever written to disk, and a name in a request never opens a local file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Upload:
    """A file's name (used only for its suffix and in messages), its bytes and its declared media type."""

    name: str
    data: bytes
    content_type: str = ""

    @property
    def suffix(self) -> str:
        """The lower-case extension of the name (``.png``), or "" when it has none."""
        return PurePosixPath(self.name.replace("\\", "/")).suffix.lower()

    def __repr__(self) -> str:
        return f"Upload(name={self.name!r}, {len(self.data):,} bytes, content_type={self.content_type!r})"
