"""``torchworks explain`` for every task through the CLI, in-process: files written, the folder on the
last line; user errors exit 2 with one line and write nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def _copy(run: Path, tmp_path: Path) -> Path:
    return shutil.copytree(run, tmp_path / "run")


def _written(out: str) -> Path:
    last = out.strip().splitlines()[-1]
    assert last.startswith("explanations: "), out
    return Path(last.removeprefix("explanations: "))


@pytest.mark.parametrize("task", ["image-classification", "text-classification", "forecasting", "speech-recognition"])
def test_explain_writes_json_pictures_and_a_page_and_says_where(task, request, tmp_path, cli):
    if task == "image-classification":
        run = _copy(request.getfixturevalue("image_run"), tmp_path)
        inputs = [str(request.getfixturevalue("shapes_dir") / "circle" / "000.png"), "method=gradcam"]
    elif task == "text-classification":
        run = _copy(request.getfixturevalue("keyword_text_run"), tmp_path)
        inputs = ["refund for my zorblax blender"]
    elif task == "forecasting":
        source = request.getfixturevalue("driven_run")
        run, inputs = _copy(source, tmp_path), [str(source.parents[2] / "driven.csv"), "method=gradient_shap"]
    else:
        source = request.getfixturevalue("speech_run")
        run, inputs = _copy(source, tmp_path), [str(source.parents[2] / "clips" / "0.wav")]
    code, out, err = cli("explain", str(run), *inputs)
    assert code == 0, err
    folder = _written(out)
    assert folder.parent == run / "explanations"
    records = json.loads((folder / "explanations.json").read_text())["explanations"]
    assert records and (folder / "explanation.html").is_file()
    pictures = sorted(p.name for p in folder.glob("*.png"))
    assert pictures == sorted(name for record in records for name in record["figures"])
    if task == "text-classification":
        assert not pictures and "zorblax" in (folder / "explanation.html").read_text()
    else:
        assert pictures
    said = " ".join(err.split())  # the console wraps long lines
    for record in records:
        assert record["summary"] and " ".join(record["summary"].split()) in said, "one line per input on stderr"


def test_an_unknown_method_exits_2_with_a_suggestion_and_writes_nothing(image_run, shapes_dir, tmp_path, cli):
    run = _copy(image_run, tmp_path)
    code, out, err = cli("explain", str(run), str(shapes_dir / "circle" / "000.png"), "method=gradcm")
    assert code == 2 and not out and "Traceback" not in err
    assert "unknown explain method 'gradcm'" in err and "did you mean 'gradcam'?" in err
    assert not (run / "explanations").exists()


def test_a_task_that_cannot_explain_exits_2(image_run, shapes_dir, tmp_path, cli, monkeypatch):
    from torchworks.tasks.image_classification.task import ImageClassification

    monkeypatch.setattr(ImageClassification, "modes", ("train", "evaluate", "predict"))
    run = _copy(image_run, tmp_path)
    code, _, err = cli("explain", str(run), str(shapes_dir / "circle" / "000.png"))
    assert code == 2 and "image-classification models cannot be explained" in err and "Traceback" not in err
    assert not (run / "explanations").exists()


def test_a_corrupt_input_exits_2_naming_the_file_and_writes_nothing(image_run, tmp_path, cli):
    run = _copy(image_run, tmp_path)
    broken = tmp_path / "scan.png"
    broken.write_bytes(b"not an image at all")
    code, out, err = cli("explain", str(run), str(broken), "--output", str(tmp_path / "out"))
    assert code == 2 and not out and "scan.png" in err
    assert not (run / "explanations").exists() and not (tmp_path / "out").exists()


def test_a_non_empty_output_folder_and_settings_without_inputs_are_refused(image_run, shapes_dir, tmp_path, cli):
    run = _copy(image_run, tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = cli("explain", str(run), str(shapes_dir / "circle" / "000.png"), "--output", str(tmp_path / "mine"))
    assert code == 2 and "already exists" in err
    code, _, err = cli("explain", str(run), str(shapes_dir / "circle" / "000.png"), f"output={tmp_path / 'mine'}")
    assert code == 2 and "already exists" in err and "'output=" in err and "is deprecated" in err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    code, _, err = cli("explain", str(run), "method=saliency")
    assert code == 2 and "nothing to explain" in err
