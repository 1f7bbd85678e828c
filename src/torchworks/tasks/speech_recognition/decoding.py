"""Turning CTC log-probabilities into text: greedy (best token per frame) or beam search
(torchaudio's CTC decoder on flashlight-text), free over the characters or held to a lexicon of
known words. A lexicon is what a closed vocabulary (digits, commands) wants: every word written is
one the model was taught, so "the ight" cannot come out where "eight" was said."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from torchworks.errors import DataError
from torchworks.tasks.speech_recognition.models import output_lengths
from torchworks.tasks.speech_recognition.vocabulary import BLANK, SPACE, Vocabulary, normalise


def greedy_decode(log_probs: torch.Tensor, vocabulary: Vocabulary) -> list[str]:
    """Best token per frame, repeats collapsed, blanks dropped."""
    texts = []
    best = log_probs.argmax(dim=-1)
    for row, length in enumerate(output_lengths(log_probs).tolist()):
        path = best[row, :length]
        keep = torch.ones_like(path, dtype=torch.bool)
        keep[1:] = path[1:] != path[:-1]
        ids = path[keep & (path != 0)]
        texts.append(vocabulary.decode(ids.tolist()))
    return texts


def greedy_confidence(log_probs: torch.Tensor) -> list[tuple[list[float], float, int]]:
    """Per clip, what its confidence is made of: the peak probability of each character the greedy
    path emits (a run of frames whose best token is one non-blank token counts once, at its most
    probable frame), and the summed blank probability and count of its frames.

    A transcript's confidence is the mean of its characters' peaks: "how sure was the acoustic model
    of each character it wrote", in [0, 1], the same whichever decoder wrote the text (a beam
    search's scores are log-likelihoods that grow with length, not probabilities). A clip where
    nothing is written gets the mean blank probability: how sure the model is there is no speech.
    """
    found = []
    for row, length in enumerate(output_lengths(log_probs).tolist()):
        if length == 0:
            found.append(([], 0.0, 0))
            continue
        probabilities = log_probs[row, :length].float().exp()
        peak, best = probabilities.max(dim=-1)
        starts = torch.ones_like(best, dtype=torch.bool)
        starts[1:] = best[1:] != best[:-1]
        run = starts.cumsum(0) - 1
        run_peaks = torch.zeros(int(run[-1]) + 1).scatter_reduce(0, run, peak, reduce="amax")
        characters = run_peaks[best[starts] != 0]
        found.append((characters.tolist(), float(probabilities[:, 0].sum()), length))
    return found


def beam_decode(log_probs: torch.Tensor, vocabulary: Vocabulary, beam_width: int,
                lexicon: Sequence[str] | None = None) -> list[str]:
    """The most likely transcript under a beam search of ``beam_width`` hypotheses; with a
    ``lexicon`` (a list of words) only those words can be written."""
    words = tuple(sorted(set(lexicon))) if lexicon is not None else None
    decoder = _decoder(tuple(vocabulary.tokens), beam_width, words)
    lengths = output_lengths(log_probs).to(torch.int32)
    results = decoder(log_probs.float().contiguous(), lengths)
    texts = []
    for hypotheses in results:
        if not hypotheses:
            texts.append("")
            continue
        # from the tokens, not .words: a lexicon word that ends the clip is in the tokens but not the words
        tokens = decoder.idxs_to_tokens(hypotheses[0].tokens)
        texts.append(vocabulary.decode([vocabulary.index[t] for t in tokens if t != BLANK]))
    return texts


def decode(log_probs: torch.Tensor, vocabulary: Vocabulary, method: str, beam_width: int,
           lexicon: Sequence[str] | None = None) -> list[str]:
    if method == "beam":
        return beam_decode(log_probs, vocabulary, beam_width, lexicon)
    return greedy_decode(log_probs, vocabulary)


def resolve_lexicon(choice: Any, training_words: Sequence[str], closed_vocabulary: bool) -> list[str] | None:
    """The words beam search may write, or None for lexicon-free decoding.

    ``choice`` is ``auto`` (the training words when the vocabulary is closed: every validation word
    was heard in training), ``training``, ``none``, a path to a word list (one word per line) or,
    in a bundle's state, the list already resolved.
    """
    if isinstance(choice, list):
        return choice
    if choice is None or choice == "none":
        return None
    if choice == "training" or (choice == "auto" and closed_vocabulary):
        return list(training_words)
    if choice == "auto":
        return None
    return read_word_list(Path(str(choice)))


def lexicon_of(state: dict[str, Any]) -> list[str] | None:
    """The lexicon a bundle's state asks for (a prediction option may have replaced the trained one)."""
    return resolve_lexicon(state.get("lexicon"), state.get("training_words", []), state.get("closed_vocabulary", False))


def read_word_list(path: Path) -> list[str]:
    """Words of a lexicon file: one per line (extra columns, such as spellings, are ignored)."""
    try:
        lines = path.expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as problem:
        raise DataError(f"cannot read the lexicon '{path}'", expected="a UTF-8 text file with one word per line",
                        got=type(problem).__name__ + ": " + str(problem).split(": ")[0],
                        hint="lexicon=auto, training or none need no file") from None
    words = sorted({normalise(line.split()[0]) for line in lines if line.split()})
    if not words:
        raise DataError(f"the lexicon '{path}' lists no words", expected="one word per line", got="an empty file")
    return words


def spellable(words: Iterable[str], vocabulary: Vocabulary) -> tuple[list[str], list[str]]:
    """The words the vocabulary can spell, and those it cannot."""
    good, bad = [], []
    for word in words:
        (bad if vocabulary.missing(word) or " " in word else good).append(word)
    return good, bad


@lru_cache(maxsize=8)
def _decoder(tokens: tuple[str, ...], beam_width: int, words: tuple[str, ...] | None):
    from torchaudio.models.decoder import ctc_decoder

    if words is None:
        return ctc_decoder(lexicon=None, tokens=list(tokens), lm=None, nbest=1, beam_size=beam_width,
                           blank_token=BLANK, sil_token=SPACE, log_add=True)
    known = set(tokens)
    with tempfile.NamedTemporaryFile("w", suffix=".lexicon", encoding="utf-8") as file:
        for word in words:
            if all(character in known for character in word):
                file.write(f"{word}\t{' '.join(word)} {SPACE}\n")
        file.flush()
        return ctc_decoder(lexicon=file.name, tokens=list(tokens), lm=None, nbest=1, beam_size=beam_width,
                           blank_token=BLANK, sil_token=SPACE, log_add=True)
