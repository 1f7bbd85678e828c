"""Turning CTC log-probabilities into text: greedy (best token per frame) or beam search
(torchaudio's CTC decoder on flashlight-text, lexicon-free over the character vocabulary)."""

from __future__ import annotations

from functools import lru_cache

import torch

from torchworks.tasks.speech_recognition.models import output_lengths
from torchworks.tasks.speech_recognition.vocabulary import BLANK, SPACE, Vocabulary


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


def beam_decode(log_probs: torch.Tensor, vocabulary: Vocabulary, beam_width: int) -> list[str]:
    """The most likely transcript under a prefix beam search of ``beam_width`` hypotheses."""
    decoder = _decoder(tuple(vocabulary.tokens), beam_width)
    lengths = output_lengths(log_probs).to(torch.int32)
    results = decoder(log_probs.float().contiguous(), lengths)
    texts = []
    for hypotheses in results:
        if not hypotheses:
            texts.append("")
            continue
        tokens = decoder.idxs_to_tokens(hypotheses[0].tokens)
        texts.append(vocabulary.decode([vocabulary.index[t] for t in tokens if t not in (BLANK,)]))
    return texts


def decode(log_probs: torch.Tensor, vocabulary: Vocabulary, method: str, beam_width: int) -> list[str]:
    if method == "beam":
        return beam_decode(log_probs, vocabulary, beam_width)
    return greedy_decode(log_probs, vocabulary)


@lru_cache(maxsize=4)
def _decoder(tokens: tuple[str, ...], beam_width: int):
    from torchaudio.models.decoder import ctc_decoder

    return ctc_decoder(lexicon=None, tokens=list(tokens), lm=None, nbest=1, beam_size=beam_width,
                       blank_token=BLANK, sil_token=SPACE, log_add=True)
