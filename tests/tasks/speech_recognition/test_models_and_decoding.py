"""CTC models (padding changes nothing for the CRNN; lengths travel in the output) and decoders."""

from __future__ import annotations

import pytest
import torch

from torchworks.tasks.speech_recognition.decoding import beam_decode, greedy_decode
from torchworks.tasks.speech_recognition.models import build_acoustic_model, output_lengths, strided_frames
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary


@pytest.mark.parametrize("name", ["crnn", "conformer"])
@pytest.mark.parametrize(("stride", "frames"), [(2, [21, 10]), (4, [11, 5])])
def test_outputs_are_log_probabilities_with_lengths(name, stride, frames):
    model = build_acoustic_model(name, 32, 10, 32, 2, 4, 0.0, stride).eval()
    features = torch.randn(2, 41, 32)
    features[1, 20:] = 0
    log_probs = model({"features": features, "lengths": torch.tensor([41, 20])})
    assert log_probs.shape == (2, frames[0], 10)
    assert output_lengths(log_probs).tolist() == frames
    assert [strided_frames(n, stride) for n in (41, 20)] == frames
    assert torch.allclose(log_probs[0].exp().sum(-1), torch.ones(frames[0]), atol=1e-5)


@pytest.mark.parametrize("stride", [2, 4])
def test_crnn_padding_changes_nothing(stride):
    model = build_acoustic_model("crnn", 32, 10, 32, 2, 4, 0.0, stride).eval()
    features = torch.randn(2, 41, 32)
    features[1, 21:] = 0
    together = model({"features": features, "lengths": torch.tensor([41, 21])})
    alone = model({"features": features[1:, :21], "lengths": torch.tensor([21])})
    frames = strided_frames(21, stride)
    assert torch.allclose(together[1, :frames], alone[0], atol=1e-5)
    assert (together[1, frames:] == 0).all()


def _emissions(vocabulary: Vocabulary, path: str) -> torch.Tensor:
    """Log-probabilities that put (almost) all mass on the tokens of ``path`` ('_' is blank)."""
    ids = [0 if c == "_" else vocabulary.index["|" if c == " " else c] for c in path]
    scores = torch.full((1, len(ids), len(vocabulary)), -8.0)
    scores[0, torch.arange(len(ids)), torch.tensor(ids)] = 0.0
    return scores.log_softmax(-1)


def test_greedy_and_beam_collapse_repeats_and_drop_blanks():
    vocabulary = Vocabulary.from_transcripts(["one two"])
    emissions = _emissions(vocabulary, "oo_nne  ttw_oo__")
    assert greedy_decode(emissions, vocabulary) == ["one two"]
    assert beam_decode(emissions, vocabulary, 8) == ["one two"]


def test_a_blank_between_repeats_keeps_both_letters():
    vocabulary = Vocabulary.from_transcripts(["all"])
    assert greedy_decode(_emissions(vocabulary, "al_l"), vocabulary) == ["all"]
    assert greedy_decode(_emissions(vocabulary, "all"), vocabulary) == ["al"]


def test_a_lexicon_keeps_beam_search_to_known_words():
    vocabulary = Vocabulary.from_transcripts(["eight three the"])
    emissions = _emissions(vocabulary, "the ight")
    assert greedy_decode(emissions, vocabulary) == ["the ight"]
    assert beam_decode(emissions, vocabulary, 8) == ["the ight"]
    assert beam_decode(emissions, vocabulary, 8, lexicon=["eight", "three"]) == ["eight"]


def test_a_lexicon_decodes_several_words():
    vocabulary = Vocabulary.from_transcripts(["one two three"])
    emissions = _emissions(vocabulary, "_oonne_ ttwoo _thre_ee")
    assert beam_decode(emissions, vocabulary, 16, lexicon=["one", "two", "three"]) == ["one two three"]
