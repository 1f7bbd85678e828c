"""Every user-facing error, in one grammar: what was wrong, what was expected, what was got, a hint.

The CLI prints :meth:`TorchworksError.render` without a traceback and exits with
:data:`EXIT_USER_ERROR`; the REST server answers 4xx with :meth:`TorchworksError.as_json`.
Anything that is not a :class:`TorchworksError` is a bug in torchworks and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_USER_ERROR = 2


class TorchworksError(Exception):
    """A problem the user can fix, described as what / expected / got / hint.

    Args:
        what: The problem in a few words, naming the file, row or key concerned.
        expected: What torchworks needed instead.
        got: What it actually found.
        hint: One concrete thing to try next.
    """

    code = "error"

    def __init__(self, what: str, *, expected: str = "", got: str = "", hint: str = ""):
        self.what = what
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """The message as one line: ``what: expected X, got Y. Hint: Z``."""
        text = self.what
        parts = []
        if self.expected:
            parts.append(f"expected {self.expected}")
        if self.got:
            parts.append(f"got {self.got}")
        if parts:
            text += ": " + ", ".join(parts)
        if self.hint:
            text += f". Hint: {self.hint}"
        return text

    def as_json(self) -> dict[str, str]:
        """The REST body: ``{"error", "message", "hint"}``."""
        return {"error": self.code, "message": self.render(), "hint": self.hint}


class ConfigError(TorchworksError):
    """A config key or value is wrong (unknown key, out-of-range value, bad YAML)."""

    code = "config_error"


class DataError(TorchworksError):
    """Input data is missing, empty, corrupt or of the wrong shape. Names the file and row."""

    code = "data_error"


class BundleError(TorchworksError):
    """A model bundle or checkpoint is missing, incomplete, tampered with or unsafe."""

    code = "bundle_error"


class TrainingError(TorchworksError):
    """Training could not go on: non-finite loss, out of memory, interrupted write."""

    code = "training_error"


class OutputError(TorchworksError):
    """The output location cannot be written (read-only, full, or would overwrite)."""

    code = "output_error"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` closest to ``word`` when it is close enough to be a typo of it, else None."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint naming the closest of ``choices`` to ``word``, or listing them when none is close."""
    options = sorted(choices)
    close = closest(word, options)
    if close:
        return f"did you mean '{close}'?"
    return "choose one of: " + ", ".join(options)


class RequestError(TorchworksError):
    """An HTTP request the server refuses or cannot answer; ``status`` is the HTTP status sent.

    Args:
        status: 4xx for a request the client can fix, 503/504 when the server is busy or too slow.
        code: A short machine-readable name (``payload_too_large``, ``unknown_model``...).
        headers: Extra response headers (``Retry-After``).
    """

    code = "request_error"

    def __init__(self, what: str, *, status: int = 400, code: str = "", expected: str = "", got: str = "",
                 hint: str = "", headers: dict[str, str] | None = None):
        self.status = status
        self.headers = headers or {}
        if code:
            self.code = code
        super().__init__(what, expected=expected, got=got, hint=hint)
