"""Speech test evaluation: metric names that say the decoding, the worst clips with players, a sample
of right and wrong transcripts."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
import torch

from torchworks.report.html import Media
from torchworks.tasks.speech_recognition.evaluation import PLAYED, evaluate_transcripts, wav_bytes
from torchworks.tasks.speech_recognition.vocabulary import Vocabulary

TOKENS = ["<blank>", "|", "e", "n", "o", "t", "w"]


def _log_probs(texts: list[str], frames: int = 24) -> torch.Tensor:
    """Confident CTC outputs that spell each text (a blank after every character)."""
    vocabulary = Vocabulary(TOKENS)
    out = torch.full((len(texts), frames, len(TOKENS)), -20.0)
    for row, text in enumerate(texts):
        path = [token for character in vocabulary.encode(text) for token in (character, 0)]
        path += [0] * (frames - len(path))
        out[row, torch.arange(frames), torch.tensor(path)] = 0.0
    return out.log_softmax(dim=-1)


class _Clips:
    def __init__(self, count: int):
        self.clips = [np.full(1600 * (i + 1), 1000 * (i + 1), dtype=np.int16) for i in range(count)]


def test_metric_names_say_the_decoding_and_wer_follows_the_decoder_setting():
    said = ["one", "two", "ten", "one", "wet", "tone"]
    truth = ["one", "two", "ten", "on", "net", "tone"]  # two clips wrong by one word each: WER 2/6
    files = [f"clips/{i}.wav" for i in range(len(truth))]
    lexicon_state = {"tokens": TOKENS, "lexicon": ["one", "two", "ten", "net", "tone", "on"], "sample_rate": 16000}
    result = evaluate_transcripts(_log_probs(said), truth, files, lexicon_state, "beam", 4, clips=_Clips(6))
    metrics = result.metrics
    assert metrics["wer_greedy"] == pytest.approx(2 / 6) and metrics["wer_beam"] == pytest.approx(2 / 6)
    assert "wer_beam_lexicon" in metrics and "cer_beam_lexicon" in metrics and "wer_beam_free" not in metrics
    assert metrics["wer"] == metrics["wer_beam_lexicon"] and metrics["lexicon_words"] == 6
    figure_labels = [t.get_text() for t in result.figures["error_rates"].axes[0].get_yticklabels()]
    assert figure_labels == ["WER greedy", "WER beam", "WER beam + lexicon", "CER greedy", "CER beam",
                             "CER beam + lexicon"]

    free = evaluate_transcripts(_log_probs(said), truth, files, {**lexicon_state, "lexicon": None}, "beam", 4)
    assert "wer_beam_lexicon" not in free.metrics and free.metrics["wer"] == free.metrics["wer_beam"]
    greedy = evaluate_transcripts(_log_probs(said), truth, files, lexicon_state, "greedy", 4)
    assert greedy.metrics["wer"] == greedy.metrics["wer_greedy"]


def test_worst_clips_carry_players_and_the_sample_mixes_right_and_wrong():
    count = PLAYED + 4
    truth = ["one two"] * count
    said = ["one"] * (PLAYED + 2) + ["one two"] * 2  # the first PLAYED + 2 clips lose a word
    state = {"tokens": TOKENS, "lexicon": None, "sample_rate": 16000}
    result = evaluate_transcripts(_log_probs(said), truth, [f"a/b/{i}.wav" for i in range(count)], state, "greedy",
                                  4, clips=_Clips(count))
    (worst_heading, worst), (sample_heading, sample) = [(h, r) for h, r in result.tables.items()]
    assert worst_heading.startswith("Worst test clips (greedy decoding; 12 of 14 have errors)")
    assert len(worst) == PLAYED + 2 and worst[0]["file"] == "0.wav" and worst[0]["wer"] == pytest.approx(0.5)
    players = [row["audio"] for row in worst if isinstance(row["audio"], Media)]
    assert len(players) == PLAYED and all(row["audio"] == "" for row in worst[PLAYED:])
    with wave.open(io.BytesIO(players[1].data)) as clip:  # the second clip: 0.2 s at 16 kHz of the value 2000
        assert (clip.getframerate(), clip.getnchannels(), clip.getnframes()) == (16000, 1, 3200)
        assert np.frombuffer(clip.readframes(3), dtype="<i2").tolist() == [2000] * 3
    assert sample_heading.startswith("Sample test transcripts, right and wrong")
    assert [row["result"] for row in sample].count("right") == 2 and len(sample) == 10
    indices = [int(row["file"].split(".")[0]) for row in sample]
    assert indices == sorted(indices)


def test_wav_bytes_cuts_long_clips_and_scales_floats():
    data = wav_bytes(np.ones(16000 * 3, dtype=np.float32) * 0.5, 16000, seconds=1.0)
    with wave.open(io.BytesIO(data)) as clip:
        assert clip.getnframes() == 16000
        assert np.frombuffer(clip.readframes(1), dtype="<i2")[0] == 16383
