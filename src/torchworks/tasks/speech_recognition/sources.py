"""Where the clips and their transcripts are listed: a manifest (CSV/TSV/JSON lines with path and
transcript columns), a LibriSpeech-layout folder (``*.trans.txt`` next to the audio), or a sample."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torchworks.errors import DataError
from torchworks.tables import as_text, find_column, read_source, require_column

_SPLITS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val",
           "test": "test", "testing": "test"}


@dataclass
class Utterance:
    """One clip: its file, its transcript as given, a split fixed by the source, and where it was listed."""

    path: Path
    transcript: str
    split: str | None
    where: str


def find_utterances(source: Path, path_column: str = "path", transcript_column: str = "transcript") -> list[Utterance]:
    """Every clip the source lists (files are checked later, when decoded)."""
    if source.is_dir():
        manifest = source / "manifest.csv"
        if any(source.rglob("*.trans.txt")):
            return _librispeech(source)
        if manifest.is_file():
            return _manifest(manifest, path_column, transcript_column)
        raise DataError(f"no transcripts found in folder '{source}'",
                        expected="a LibriSpeech-layout folder (*.trans.txt next to the audio) or a manifest.csv",
                        got="neither", hint="give a manifest file with path,transcript columns as data=")
    if not source.exists():
        raise DataError(f"data '{source}' does not exist", expected="a manifest file or a folder of clips",
                        got="no such file or folder", hint="check the path; `torchworks data list` shows the samples")
    return _manifest(source, path_column, transcript_column)


def _manifest(path: Path, path_column: str, transcript_column: str) -> list[Utterance]:
    frame, rows = read_source(path, "a manifest (CSV, TSV or JSON lines) of audio paths and transcripts")
    path_column = require_column(frame, path_column, "path", rows)
    transcript_column = require_column(frame, transcript_column, "transcript", rows)
    split_column = find_column(frame, ("split",))
    paths, missing_paths = as_text(frame[path_column])
    texts = as_text(frame[transcript_column])[0]
    splits = as_text(frame[split_column])[0] if split_column else None
    utterances = []
    for i in range(len(frame)):
        if missing_paths[i]:
            continue  # a blank line
        where = f"{rows.source} {rows.unit} {rows.first + i}"
        split = _SPLITS.get(splits.iloc[i].lower()) if splits is not None and splits.iloc[i] else None
        if splits is not None and splits.iloc[i] and split is None:
            raise DataError(f"unknown split {splits.iloc[i]!r} on {where}", expected="train, val or test",
                            got=repr(splits.iloc[i]), hint="use train/val/test or leave the cell empty")
        clip = Path(paths.iloc[i]).expanduser()
        utterances.append(Utterance(clip if clip.is_absolute() else path.parent / clip, texts.iloc[i], split, where))
    if not utterances:
        raise DataError(f"'{path}' lists no clips", expected="rows of path,transcript", got="no rows")
    return utterances


def _librispeech(root: Path) -> list[Utterance]:
    utterances = []
    for listing in sorted(root.rglob("*.trans.txt")):
        for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            key, _, text = line.strip().partition(" ")
            clip = next((listing.parent / f"{key}{s}" for s in (".flac", ".wav") if (listing.parent / f"{key}{s}").exists()),
                        listing.parent / f"{key}.flac")
            utterances.append(Utterance(clip, text, None, f"{listing} line {number}"))
    return utterances
