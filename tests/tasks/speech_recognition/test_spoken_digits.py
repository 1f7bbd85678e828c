"""Spoken digits synthesised with espeak-ng: decodable clips, honest splits, nothing overwritten."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from torchworks.datasets import data_home
from torchworks.tasks.speech_recognition import spoken_digits as sd
from torchworks.tasks.speech_recognition.samples import materialize_spoken_digits
from torchworks.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def twelve(tmp_path_factory) -> Path:
    """Twelve clips, made once for the tests that only read them."""
    return sd.make_spoken_digits(tmp_path_factory.mktemp("spoken") / "digits", n=12, seed=3, progress=False)


def _manifest(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)


def test_twelve_decodable_clips_of_one_to_seven_digit_words(twelve):
    manifest = _manifest(twelve)
    assert list(manifest.columns) == list(sd.MANIFEST_COLUMNS) and len(manifest) == 12
    assert sorted(p.name for p in (twelve / "clips").iterdir()) == [f"{i:05d}.ogg" for i in range(1, 13)]
    for row in manifest.itertuples():
        words = row.transcript.split()
        assert 1 <= len(words) <= 7 and set(words) <= set(sd.DIGIT_WORDS)
        audio, rate = sf.read(twelve / row.path, dtype="float32")
        assert rate == 16000 and audio.ndim == 1
        assert 0.3 < len(audio) / rate < 10 and 0.05 < abs(audio).max() <= 1.0
    assert Counter(manifest["split"]) == {"train": 9, "test": 2, "val": 1}
    assert not list(twelve.parent.glob(".digits-*"))  # no staging folder left behind


def test_the_same_seed_makes_the_same_dataset(twelve, tmp_path):
    again = sd.make_spoken_digits(tmp_path / "again", n=12, seed=3, progress=False)
    assert (again / "manifest.csv").read_text() == (twelve / "manifest.csv").read_text()
    first, second = sf.read(twelve / "clips" / "00004.ogg")[0], sf.read(again / "clips" / "00004.ogg")[0]
    assert (first == second).all()
    other = sd.plan_spoken_digits(12, seed=4)
    assert [p.transcript for p in other] != _manifest(twelve)["transcript"].tolist()


def test_test_voices_are_never_heard_in_training_and_test_speeds_reach_further():
    plans = sd.plan_spoken_digits(2000, seed=0)
    voices = {split: {p.voice for p in plans if p.split == split} for split in ("train", "val", "test")}
    assert voices["test"] and not voices["test"] & (voices["train"] | voices["val"])
    shares = Counter(p.split for p in plans)
    assert shares["test"] == 300 and shares["val"] == 170
    train_speeds = [p.speed for p in plans if p.split == "train"]
    test_speeds = [p.speed for p in plans if p.split == "test"]
    assert min(test_speeds) < min(train_speeds) and max(test_speeds) > max(train_speeds)
    assert len({p.voice.split("+")[0] for p in plans if p.split == "train"}) == len(sd.LANGUAGES)


def test_refuses_a_folder_that_is_not_empty_and_leaves_it_alone(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty") as caught:
        sd.make_spoken_digits(out, n=2, progress=False)
    assert "another out=" in caught.value.hint
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


def test_an_interrupted_run_leaves_nothing_behind(monkeypatch, tmp_path):
    render = sd.render_clip

    def fail_on_the_third(plan, sample_rate=16000):
        if plan.number == 3:
            raise KeyboardInterrupt
        return render(plan, sample_rate)

    monkeypatch.setattr(sd, "render_clip", fail_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        sd.make_spoken_digits(tmp_path / "digits", n=6, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_audio_format_is_refused_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="audio_format 'flc'") as caught:
        sd.make_spoken_digits(tmp_path / "digits", n=2, audio_format="flc", progress=False)
    assert caught.value.hint == "did you mean 'flac'?"


def test_a_missing_espeak_is_named_with_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sd, "ESPEAK", "espeak-ng-not-installed")
    assert not sd.espeak_available()
    with pytest.raises(DataError, match="espeak-ng-not-installed' is not installed") as caught:
        sd.synthesise("one two", "en-us", 160, 50, 0)
    assert caught.value.hint == "install it: apt-get install espeak-ng (Debian/Ubuntu) or brew install espeak-ng"
    with pytest.raises(DataError, match="not installed"):
        sd.make_spoken_digits(tmp_path / "never", n=2, progress=False)
    assert not (tmp_path / "never").exists()


def test_an_unknown_voice_is_reported():
    with pytest.raises(DataError, match="voice 'xx-nowhere'"):
        sd.synthesise("one", "xx-nowhere", 160, 50, 0)


def test_the_packaged_sample_extracts_once_with_every_listed_clip():
    target = materialize_spoken_digits(data_home() / "spoken-digits")
    manifest = _manifest(target)
    assert len(manifest) >= 1000 and set(manifest["split"]) == {"train", "val", "test"}
    assert all((target / path).is_file() for path in manifest["path"])
    assert (target / ".complete").exists()
    audio, rate = sf.read(target / manifest["path"].iloc[0], dtype="float32")
    assert rate == 16000 and len(audio) > rate // 4
    finished = (target / ".complete").stat().st_mtime_ns
    assert materialize_spoken_digits(target) == target
    assert (target / ".complete").stat().st_mtime_ns == finished  # extracted once, not again
