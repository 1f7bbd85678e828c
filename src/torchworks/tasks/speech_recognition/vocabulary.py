"""The character vocabulary of CTC models: derived from training transcripts, stored in the bundle.

Index 0 is the CTC blank; ``|`` stands for the space between words (beam search needs a word
boundary token). Transcripts are lower-cased with whitespace collapsed before anything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

BLANK = "<blank>"
SPACE = "|"
ALLOWED = re.compile(r"[a-z0-9' ]")


def normalise(text: str) -> str:
    """Lower case, single spaces, no leading or trailing space."""
    return " ".join(str(text).lower().split())


def unknown_characters(text: str) -> set[str]:
    """Characters a transcript may not hold: anything but a-z, digits, apostrophe and space."""
    return {c for c in text if not ALLOWED.fullmatch(c)}


def drop_unknown(text: str) -> str:
    return normalise("".join(c if ALLOWED.fullmatch(c) else " " for c in text))


class Vocabulary:
    """Tokens of a CTC model: blank, word boundary, then the characters seen in training."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def from_transcripts(cls, transcripts: Iterable[str]) -> Vocabulary:
        characters = sorted({c for text in transcripts for c in text if c != " "})
        return cls([BLANK, SPACE, *characters])

    def __len__(self) -> int:
        return len(self.tokens)

    def missing(self, text: str) -> set[str]:
        """Characters of ``text`` this vocabulary cannot write."""
        return {c for c in text if c != " " and c not in self.index}

    def encode(self, text: str) -> list[int]:
        return [self.index[SPACE if c == " " else c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids (already collapsed, blanks removed) to text."""
        return normalise("".join(" " if self.tokens[i] == SPACE else self.tokens[i] for i in ids))
