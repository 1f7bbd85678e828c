"""``torchworks predict`` on mixed inputs: partial results with error rows (exit 0), bad_files=fail (exit 2,
nothing written), every input bad (exit 2), and files of a kind the model does not read."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _mixed_images(run: Path, folder: Path) -> Path:
    folder.mkdir()
    for number, source in enumerate(sorted((run.parent.parent.parent / "shapes").rglob("*.png"))[:10]):
        shutil.copy(source, folder / f"{number:02d}.png")
    whole = (folder / "05.png").read_bytes()
    (folder / "zz_broken.png").write_bytes(whole[: len(whole) // 2])
    return folder


def test_a_folder_with_a_truncated_png_writes_every_row_and_exits_0(image_run, tmp_path, cli):
    folder = _mixed_images(image_run, tmp_path / "mixed")
    code, out, err = cli("predict", str(image_run), str(folder), "--output", str(tmp_path / "p.csv"))
    assert code == 0, err
    assert out.strip() == f"predictions: {tmp_path / 'p.csv'} (11 records, 1 with an error)"
    assert f"warning: 1 of 11 inputs could not be read (first: {folder / 'zz_broken.png'}: image file is truncated)" in err
    rows = _rows(tmp_path / "p.csv")
    assert list(rows[0])[:3] == ["input", "label", "probability"] and list(rows[0])[-1] == "error"
    assert [r["error"] == "" for r in rows] == [True] * 10 + [False]
    assert rows[-1]["label"] == "" and "truncated" in rows[-1]["error"]
    assert not any("{" in value for row in rows for value in row.values()), "no JSON inside cells"

    code, _, err = cli("predict", str(image_run), str(folder), "--output", str(tmp_path / "p.json"))
    assert code == 0, err
    records = json.loads((tmp_path / "p.json").read_text())
    assert records[-1] == {"input": str(folder / "zz_broken.png"), "error": rows[-1]["error"]}
    assert isinstance(records[0]["top_k"], list), "JSON stays nested"


def test_bad_files_fail_stops_and_writes_nothing(image_run, tmp_path, cli):
    folder = _mixed_images(image_run, tmp_path / "mixed")
    code, out, err = cli("predict", str(image_run), str(folder), "bad_files=fail", "--output", str(tmp_path / "p.csv"))
    assert code == 2 and "zz_broken.png" in err and "truncated" in err
    assert "bad_files=skip predicts the rest" in " ".join(err.split())
    assert not (tmp_path / "p.csv").exists()
    code, _, err = cli("predict", str(image_run), str(folder), "bad_files=maybe")
    assert code == 2 and "bad_files" in err


def test_every_input_bad_exits_2_with_a_clear_message(image_run, tmp_path, cli):
    folder = _mixed_images(image_run, tmp_path / "mixed")
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    code, out, err = cli("predict", str(image_run), str(folder / "zz_broken.png"), str(text), "--output",
                         str(tmp_path / "p.csv"))
    assert code == 2 and out == "" and not (tmp_path / "p.csv").exists()
    assert "none of the 2 inputs could be read" in err and "zz_broken.png" in err


def test_a_text_model_given_a_png_says_what_it_takes(keyword_text_run, image_run, tmp_path, cli):
    png = next((image_run.parent.parent.parent / "shapes").rglob("*.png"))
    code, out, err = cli("predict", str(keyword_text_run), str(png))
    assert code == 2 and out == ""
    assert f"cannot predict from '{png}'" in err and "text-classification model takes: text" in err
    assert "got a .png image" in err
    code, out, err = cli("predict", str(keyword_text_run), "zorblax order", str(png), "help please", "--output",
                         str(tmp_path / "t.csv"))
    assert code == 0, err
    rows = _rows(tmp_path / "t.csv")
    assert list(rows[0]) == ["input", "label", "probability", "p_alpha", "p_beta", "error"]
    assert [r["label"] for r in rows] == ["alpha", "", "beta"] and "cannot predict from" in rows[1]["error"]
    assert float(rows[0]["p_alpha"]) + float(rows[0]["p_beta"]) == __import__("pytest").approx(1.0, abs=1e-5)


def test_a_forecaster_given_a_png_says_what_it_takes(driven_run, image_run, cli):
    png = next((image_run.parent.parent.parent / "shapes").rglob("*.png"))
    code, _, err = cli("predict", str(driven_run), str(png))
    assert code == 2
    assert "forecasting model takes: a table of recent values" in err and "got a .png image" in err
    assert "UTF-8" not in err and "Excel" not in err


def test_a_broken_wav_among_good_clips(speech_run, tmp_path, cli):
    clips = tmp_path / "clips"
    clips.mkdir()
    for number in (0, 1):
        shutil.copy(speech_run.parent.parent.parent / "clips" / f"{number}.wav", clips / f"{number}.wav")
    (clips / "0b_broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    code, _, err = cli("predict", str(speech_run), str(clips), "decoder=greedy", "--output", str(tmp_path / "t.csv"))
    assert code == 0, err
    rows = _rows(tmp_path / "t.csv")
    assert [Path(r["input"]).name for r in rows] == ["0.wav", "0b_broken.wav", "1.wav"]
    assert "cannot read audio" in rows[1]["error"] and rows[1]["transcript"] == ""
    assert all(0.0 <= float(rows[i]["confidence"]) <= 1.0 for i in (0, 2))
    assert "1 of 3 inputs could not be read" in err


def test_python_predict_takes_an_audio_array_and_keyword_options(speech_run):
    import soundfile as sf

    import torchworks

    predictor = torchworks.load(speech_run)
    path = speech_run.parent.parent.parent / "clips" / "0.wav"
    samples, rate = sf.read(path, dtype="float32")
    rate_needed = predictor.bundle.state["sample_rate"]
    from torchworks.tasks.speech_recognition.audio import resample

    samples = resample(samples, rate, rate_needed)
    by_keyword = predictor.predict([path, samples], decoder="greedy")
    by_options = predictor.predict([path, samples], options={"decoder": "greedy"})
    assert by_keyword == by_options
    assert [r["decoder"] for r in by_keyword] == ["greedy", "greedy"]
    assert by_keyword[1]["input"] == f"<array {len(samples)}>"
    assert by_keyword[1]["transcript"] == by_keyword[0]["transcript"]
    assert abs(by_keyword[1]["confidence"] - by_keyword[0]["confidence"]) < 0.02
    assert np.isclose(by_keyword[1]["seconds"], by_keyword[0]["seconds"], atol=0.01)
