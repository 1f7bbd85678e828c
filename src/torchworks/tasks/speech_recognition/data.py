"""From clips and transcripts to the run's datasets and the state stored in the bundle."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.markup import escape
from torch.utils.data import Dataset

from torchworks.console import say
from torchworks.datasets import get_sample
from torchworks.errors import DataError
from torchworks.splitting import assign_splits
from torchworks.tables import counted, listing
from torchworks.tasks.protocol import PreparedData
from torchworks.tasks.speech_recognition.audio import BadAudio, is_silent, load_audio
from torchworks.tasks.speech_recognition.config import SpeechRecognitionConfig
from torchworks.tasks.speech_recognition.decoding import resolve_lexicon, spellable
from torchworks.tasks.speech_recognition.features import (
    LogMel,
    add_noise,
    feature_state,
    perturb_speed,
    spec_augment,
)
from torchworks.tasks.speech_recognition.models import strided_frames
from torchworks.tasks.speech_recognition.sources import Utterance, find_utterances
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary, drop_unknown, normalise, unknown_characters

SPLITS = ("train", "val", "test")


class SpeechDataset(Dataset):
    """Clips held in memory as 16-bit samples; log-mel frames (augmented when training) per item."""

    def __init__(self, clips: list[np.ndarray], targets: list[list[int]] | None, state: dict[str, Any],
                 augment: SpeechRecognitionConfig | None = None):
        self.clips = clips
        self.targets = targets
        self.state = state
        self.augment = augment
        self.features = LogMel(state)

    def __len__(self) -> int:
        return len(self.clips)

    def seconds(self, index: int) -> float:
        return len(self.clips[index]) / self.state["sample_rate"]

    def __getitem__(self, index: int) -> Any:
        samples = self.clips[index].astype(np.float32) / 32767.0
        config = self.augment
        if config is not None:
            samples = add_noise(perturb_speed(samples, self.state["sample_rate"], config.speed_perturb), config.noise)
        frames = self.features(torch.from_numpy(np.ascontiguousarray(samples)))
        if config is not None and config.spec_augment:
            frames = spec_augment(frames, config.freq_mask, config.time_mask, config.masks)
        if self.targets is None:
            return frames
        return frames, torch.tensor(self.targets[index], dtype=torch.long)


def collate_frames(batch: list[Any], *, labelled: bool) -> Any:
    """Pad frames to the longest clip: ``{"features", "lengths"}``; with ``labelled`` (items are
    ``(frames, target)`` pairs) the targets too, zero-padded (0 is the blank, never a target, so a
    target's length is its count of non-zero ids)."""
    frames = [item[0] for item in batch] if labelled else batch
    lengths = torch.tensor([len(f) for f in frames])
    features = torch.zeros(len(frames), int(lengths.max()), frames[0].shape[1])
    for row, item in enumerate(frames):
        features[row, : len(item)] = item
    inputs = {"features": features, "lengths": lengths}
    if not labelled:
        return inputs
    targets = torch.nn.utils.rnn.pad_sequence([item[1] for item in batch], batch_first=True)
    return inputs, targets


@dataclass(kw_only=True)
class SpeechData(PreparedData):
    """PreparedData plus the test clips' transcripts and files, for the report."""

    transcripts: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)


def resolve_source(data: str) -> Path:
    sample = get_sample(data)
    return sample.path() if sample is not None else Path(data).expanduser()


def prepare_speech_data(config: SpeechRecognitionConfig, state: dict[str, Any] | None = None,
                        ) -> SpeechData:
    """Read the listed clips, apply the bad-file and transcript policies, split, build datasets."""
    utterances = find_utterances(resolve_source(config.data), config.path_column, config.transcript_column)
    notes: list[str] = []
    texts = _transcripts(utterances, config, notes, state)
    clips, kept = _decode(utterances, texts, config, notes, state)
    splits = assign_splits(["all"] * len(kept), [utterances[i].split for i in kept], config.val_fraction,
                           config.test_fraction, config.seed, noun="clip")
    parts = {s: [j for j, split in enumerate(splits) if split == s] for s in SPLITS}
    for split, members in parts.items():
        if not members:
            raise DataError(f"the {split} split of '{config.data}' is empty", expected=f"clips in {split}",
                            got="none", hint="add clips, or leave the split column empty")
    if state is None:
        vocabulary = Vocabulary.from_transcripts(texts[kept[j]] for j in parts["train"])
        state = {"tokens": vocabulary.tokens, "max_seconds": config.max_seconds, "decoder": config.decoder,
                 "beam_width": config.beam_width,
                 **feature_state(config.sample_rate, config.n_mels, config.window_ms, config.hop_ms),
                 **_lexicon_state(config.lexicon, [texts[kept[j]] for j in parts["train"]],
                                  [texts[kept[j]] for j in parts["val"]], vocabulary, notes)}
    vocabulary = Vocabulary(state["tokens"])
    for note in notes:
        say(f"[yellow]warning:[/yellow] {escape(note)}")
    datasets, transcripts, files = {}, {}, {}
    cramped: list[str] = []
    for split, members in parts.items():
        rows = [kept[j] for j in members]
        _check_vocabulary(rows, texts, utterances, vocabulary, config)
        targets = [vocabulary.encode(texts[i]) for i in rows]
        cramped += [f"{utterances[i].path.name} ({split})" for i, j, ids in zip(rows, members, targets)
                    if ctc_frames_needed(ids) > strided_frames(len(clips[j]) // state["hop_length"] + 1,
                                                               config.time_stride)]
        datasets[split] = SpeechDataset([clips[j] for j in members], targets, state,
                                        augment=config if split == "train" else None)
        transcripts[split] = [texts[i] for i in rows]
        files[split] = [str(utterances[i].path) for i in rows]
    if cramped:
        say(f"[yellow]warning:[/yellow] {counted(len(cramped), 'clip')} {'is' if len(cramped) == 1 else 'are'} "
            f"too short for {'its' if len(cramped) == 1 else 'their'} transcript at time_stride={config.time_stride} "
            f"(CTC needs a frame per character and a blank between repeats): {listing(cramped)}; "
            "time_stride=2 gives twice the frames")
        notes.append(f"{counted(len(cramped), 'clip')} too short for the transcript at "
                     f"time_stride={config.time_stride}: {listing(cramped)}")
    summary = {
        "source": config.data,
        **{f"{split} clips": len(ds) for split, ds in datasets.items()},
        "hours of audio": round(sum(len(c) for c in clips) / state["sample_rate"] / 3600, 3),
        "vocabulary": " ".join(vocabulary.tokens[1:]),
        "lexicon": (f"{len(state['lexicon'])} words" if state["lexicon"] is not None else "none (any spelling)"),
        **{f"note {i + 1}": note for i, note in enumerate(notes)},
    }
    digest = hashlib.sha256("".join(f"{utterances[i].path}|{texts[i]}\n" for i in kept).encode()).hexdigest()[:16]
    seconds = [datasets["train"].seconds(i) for i in range(len(datasets["train"]))]
    return SpeechData(train=datasets["train"], val=datasets["val"], test=datasets["test"], state=state,
                      summary=summary, fingerprint=digest, sample_lengths=seconds, transcripts=transcripts,
                      files=files)


def _lexicon_state(choice: str, train: list[str | None], val: list[str | None], vocabulary: Vocabulary,
                   notes: list[str]) -> dict[str, Any]:
    """Training words, whether the vocabulary looks closed, and the lexicon beam search will use."""
    training_words = sorted({word for text in train if text for word in text.split()})
    unseen = {word for text in val if text for word in text.split()} - set(training_words)
    lexicon = resolve_lexicon(choice, training_words, closed_vocabulary=not unseen)
    if lexicon is not None:
        lexicon, unspellable = spellable(lexicon, vocabulary)
        if unspellable:
            notes.append(f"{counted(len(unspellable), 'lexicon word')} use characters no training transcript has "
                         f"and were left out: {listing(unspellable)}")
        if not lexicon:
            raise DataError(f"no word of the lexicon '{choice}' can be spelled with the training characters",
                            expected="words written with " + " ".join(vocabulary.tokens[2:]), got="none",
                            hint="check the lexicon file, or set lexicon=none")
    return {"training_words": training_words, "closed_vocabulary": not unseen, "lexicon": lexicon}


def ctc_frames_needed(ids: list[int]) -> int:
    """The fewest output frames CTC needs for a target: one per token, plus a blank between repeats."""
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def _transcripts(utterances: list[Utterance], config: SpeechRecognitionConfig, notes: list[str],
                 state: dict[str, Any] | None) -> list[str | None]:
    """Normalised transcripts; None marks a clip left out by the unknown-character policy."""
    texts: list[str | None] = []
    odd: list[str] = []
    for utterance in utterances:
        text = normalise(utterance.transcript)
        unknown = unknown_characters(text)
        if unknown and config.unknown_chars == "fail":
            raise DataError(f"transcript on {utterance.where} has characters outside the vocabulary",
                            expected="letters a-z, digits, apostrophes and spaces", got=listing(sorted(unknown)),
                            hint="unknown_chars=drop removes them, unknown_chars=skip leaves such clips out")
        if unknown:
            odd.append(utterance.where)
            text = drop_unknown(text) if config.unknown_chars == "drop" else None
        if text == "":
            raise DataError(f"empty transcript on {utterance.where}", expected="the words spoken in the clip",
                            got="nothing", hint="fill it in or remove the row")
        texts.append(text)
    if odd:
        verb = "had characters removed" if config.unknown_chars == "drop" else "were skipped"
        notes.append(f"{counted(len(odd), 'transcript')} with characters outside a-z, digits and ' {verb} "
                     f"({listing(odd)})")
    return texts


def _decode(utterances: list[Utterance], texts: list[str | None], config: SpeechRecognitionConfig,
            notes: list[str], state: dict[str, Any] | None) -> tuple[list[np.ndarray], list[int]]:
    """Decode every clip (with a progress bar); bad, silent and over-long clips follow the policy."""
    from rich.progress import Progress

    from torchworks.console import console

    rate = state["sample_rate"] if state else config.sample_rate
    limit = config.max_seconds
    _check_most_files_exist(utterances, texts)
    clips, kept, bad, long = [], [], [], []
    with Progress(console=console(), transient=True, disable=not config.progress) as progress:
        for i in progress.track(range(len(utterances)), description="reading audio"):
            if texts[i] is None:
                continue
            utterance = utterances[i]
            try:
                samples = load_audio(utterance.path, rate)
                if is_silent(samples):
                    raise BadAudio("silent (no sample above -80 dBFS)")
            except BadAudio as problem:
                if config.bad_files == "fail":
                    raise DataError(f"cannot use clip '{utterance.path}' ({utterance.where})",
                                    expected="a readable, non-silent audio file", got=str(problem),
                                    hint="fix or remove it, or set bad_files=skip") from None
                bad.append(f"{utterance.path.name} ({problem})")
                continue
            if len(samples) > limit * rate:
                long.append(f"{utterance.path.name} ({len(samples) / rate:.1f} s)")
                continue
            clips.append(np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16))
            kept.append(i)
    if bad:
        notes.append(f"skipped {counted(len(bad), 'unusable clip')} (bad_files=skip): {listing(bad)}")
    if long:
        notes.append(f"skipped {counted(len(long), 'clip')} longer than max_seconds={limit:g}: {listing(long)}")
    if not kept:
        raise DataError(f"no usable clips in '{config.data}'", expected="readable audio with transcripts",
                        got=f"{len(utterances)} listed, none usable", hint="see the warnings above")
    return clips, kept


def _check_most_files_exist(utterances: list[Utterance], texts: list[str | None]) -> None:
    """A manifest whose files are mostly missing was read against the wrong folder: say so up front
    instead of skipping nearly everything."""
    listed = [u for u, text in zip(utterances, texts) if text is not None]
    missing = [u for u in listed if not u.path.exists()]
    if len(missing) > len(listed) // 2:
        first = missing[0]
        raise DataError(f"{len(missing)} of {len(listed)} listed clips do not exist, the first '{first.path}' "
                        f"({first.where})", expected="audio files at the listed paths", got="no such files",
                        hint="relative paths are read from the manifest's own folder; fix the paths or move the manifest")


def _check_vocabulary(rows: list[int], texts: list[str | None], utterances: list[Utterance],
                      vocabulary: Vocabulary, config: SpeechRecognitionConfig) -> None:
    for i in rows:
        missing = vocabulary.missing(texts[i])
        if missing:
            raise DataError(f"transcript on {utterances[i].where} uses characters this model cannot write",
                            expected="characters of the vocabulary: " + " ".join(vocabulary.tokens[2:]),
                            got=listing(sorted(missing)), hint="train with transcripts that use them")
