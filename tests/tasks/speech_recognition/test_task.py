"""The speech-recognition task end to end on tiny espeak-ng data: train, predict, evaluate, and
the bad inputs a new user tries (missing files, text renamed .wav, 0 bytes, silence)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import torchworks

TASK = "speech-recognition"
TINY = {"epochs": 2, "hidden": 32, "layers": 1, "batch_size": 8, "mlflow": False, "progress": False,
        "beam_width": 4}


def test_train_predict_and_evaluate(speech_manifest, tmp_path, cli):
    result = torchworks.train(TASK, data=str(speech_manifest), output=str(tmp_path / "runs"), **TINY)
    metrics = result.metrics
    assert {"wer", "cer", "wer_greedy", "wer_beam", "cer_greedy", "cer_beam"} <= set(metrics)
    # the headline rates are those of the configured decoder (beam, held to the lexicon of the closed
    # digit vocabulary), for the test clips of a 70/15/15 split
    chosen = "beam_lexicon" if metrics["lexicon_words"] else "beam"
    assert metrics["decoder"] == "beam"
    assert (metrics["wer"], metrics["cer"]) == (metrics[f"wer_{chosen}"], metrics[f"cer_{chosen}"])
    assert metrics["test_clips"] == 4
    assert all(0.0 <= metrics[key] for key in ("wer_greedy", "wer_beam", "cer_greedy", "cer_beam"))
    assert (result.path / "plots" / "error_rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = json.loads((result.path / "bundle.json").read_text())["state"]
    assert state["tokens"][0] == "<blank>" and state["sample_rate"] == 16_000 and state["n_mels"] == 64
    clip = speech_manifest.parent / "clips" / "000.wav"
    records = torchworks.load(result.path).predict([str(clip), str(speech_manifest.parent / "clips")])
    assert records[0]["input"] == str(clip) and isinstance(records[0]["transcript"], str)
    assert set(records[0]["transcript"]) <= set(state["tokens"]) | {" "}, "only characters the model can write"
    assert len(records) == 1 + 24 and records[0]["decoder"] == "beam"
    assert sorted(Path(r["input"]).name for r in records[1:]) == [f"{i:03d}.wav" for i in range(24)]
    again = next(r for r in records[1:] if r["input"] == str(clip))
    assert again == records[0], "the same clip, by itself or in its folder, gets the same record"

    code, out, err = cli("predict", str(result.path), str(clip), "decoder=greedy")
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["decoder"] == "greedy"
    code, out, err = cli("predict", str(result.path), str(clip), "decodr=greedy")
    assert code == 2 and "did you mean 'decoder'?" in err
    evaluated = torchworks.evaluate(result.path).metrics
    for key in ("wer", "cer", "wer_greedy", "wer_beam", "cer_greedy", "cer_beam", "test_clips"):
        assert evaluated[key] == pytest.approx(metrics[key]), key


@pytest.mark.parametrize("broken", ["missing", "text_renamed", "zero_bytes", "silent"])
def test_bad_clips_are_skipped_and_named_or_refused(broken, speech_manifest, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(speech_manifest.parent, folder)
    clip = folder / "clips" / "003.wav"
    if broken == "missing":
        clip.unlink()
    elif broken == "text_renamed":
        clip.write_text("not audio\n")
    elif broken == "zero_bytes":
        clip.write_bytes(b"")
    else:
        sf.write(clip, np.zeros(8000, dtype=np.float32), 16_000)
    from torchworks.errors import DataError
    from torchworks.tasks.speech_recognition.config import SpeechRecognitionConfig
    from torchworks.tasks.speech_recognition.data import prepare_speech_data

    config = SpeechRecognitionConfig.model_validate({"data": str(folder / "manifest.csv"), "progress": False})
    data = prepare_speech_data(config)
    assert sum(len(d) for d in (data.train, data.val, data.test)) == 23
    assert any("003.wav" in str(value) for value in data.summary.values())
    assert "warning: skipped 1 unusable clip (bad_files=skip): 003.wav (" in capsys.readouterr().err
    with pytest.raises(DataError) as info:
        prepare_speech_data(config.model_copy(update={"bad_files": "fail"}))
    assert "003.wav" in info.value.what and "line 5" in info.value.what


def test_a_manifest_whose_files_are_mostly_missing_is_refused_up_front(speech_manifest, tmp_path):
    from torchworks.errors import DataError
    from torchworks.tasks.speech_recognition.config import SpeechRecognitionConfig
    from torchworks.tasks.speech_recognition.data import prepare_speech_data

    moved = tmp_path / "elsewhere" / "manifest.csv"  # relative paths now point nowhere
    moved.parent.mkdir()
    shutil.copy(speech_manifest, moved)
    config = SpeechRecognitionConfig.model_validate({"data": str(moved), "progress": False})
    with pytest.raises(DataError) as info:
        prepare_speech_data(config)
    assert "24 of 24 listed clips do not exist" in info.value.what and "000.wav" in info.value.what
    assert "manifest's own folder" in info.value.hint


def test_lexicon_follows_the_vocabulary(speech_manifest, tmp_path):
    from torchworks.errors import ConfigError
    from torchworks.tasks.speech_recognition.config import SpeechRecognitionConfig
    from torchworks.tasks.speech_recognition.data import prepare_speech_data

    base = {"data": str(speech_manifest), "progress": False}
    data = prepare_speech_data(SpeechRecognitionConfig.model_validate(base))
    training_words = data.state["training_words"]
    heard = {w for text in data.transcripts["val"] for w in text.split()}
    assert data.state["closed_vocabulary"] == heard.issubset(training_words)
    assert data.state["lexicon"] == (training_words if data.state["closed_vocabulary"] else None)
    none = prepare_speech_data(SpeechRecognitionConfig.model_validate({**base, "lexicon": "none"}))
    assert none.state["lexicon"] is None
    words = tmp_path / "words.txt"
    words.write_text("one\ntwo\nnaïve\n", encoding="utf-8")
    listed = prepare_speech_data(SpeechRecognitionConfig.model_validate({**base, "lexicon": str(words)}))
    assert listed.state["lexicon"] == ["one", "two"]
    assert any("naïve" in str(v) for v in listed.summary.values())
    with pytest.raises((ConfigError, ValueError)):
        SpeechRecognitionConfig.model_validate({**base, "lexicon": str(tmp_path / "nowhere.txt")})


def test_a_transcript_with_odd_characters_follows_the_policy(speech_manifest, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(speech_manifest.parent, folder)
    manifest = folder / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines[1] = lines[1].split(",")[0] + ',"one, two!"'
    manifest.write_text("\n".join(lines) + "\n")
    from torchworks.errors import DataError
    from torchworks.tasks.speech_recognition.config import SpeechRecognitionConfig
    from torchworks.tasks.speech_recognition.data import prepare_speech_data

    config = SpeechRecognitionConfig.model_validate({"data": str(manifest), "progress": False})
    assert sum(len(d) for d in (prepare_speech_data(config).train,)) > 0
    with pytest.raises(DataError) as info:
        prepare_speech_data(config.model_copy(update={"unknown_chars": "fail"}))
    assert "line 2" in info.value.what and "!" in info.value.got
    dropped = prepare_speech_data(config.model_copy(update={"unknown_chars": "drop"}))
    assert "one two" in [t for texts in dropped.transcripts.values() for t in texts]


def test_a_folder_without_transcripts_is_a_clear_error(tmp_path):
    from torchworks.errors import DataError
    from torchworks.tasks.speech_recognition.sources import find_utterances

    (tmp_path / "x.wav").write_bytes(b"")
    with pytest.raises(DataError) as info:
        find_utterances(tmp_path)
    assert "trans.txt" in info.value.expected


def test_librispeech_layout_is_read(tmp_path, say_clip):
    chapter = tmp_path / "dev-clean" / "84" / "121123"
    say_clip(chapter / "84-121123-0000.wav", "go do you hear")
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")
    from torchworks.tasks.speech_recognition.sources import find_utterances

    utterances = find_utterances(Path(tmp_path / "dev-clean"))
    assert [(u.path.name, u.transcript) for u in utterances] == [("84-121123-0000.wav", "GO DO YOU HEAR")]
