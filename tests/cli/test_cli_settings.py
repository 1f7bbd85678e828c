"""One settings grammar for every mode: ``key=value`` validated through the typed settings models,
one-line refusals (exit 2, no traceback, nothing written), the deprecated ``--key value`` spelling,
and ``--help`` generated from the typed configs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from torchworks.config.modes import BenchmarkSettings, ExportSettings, PredictSettings, mode_settings, settings_help
from torchworks.errors import ConfigError


def _refused(code: int, out: str, err: str, *needles: str) -> str:
    assert code == 2, out + err
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.fixture
def run(image_run, tmp_path) -> Path:
    return shutil.copytree(image_run, tmp_path / "run")


@pytest.fixture
def png(shapes_dir) -> str:
    return str(shapes_dir / "circle" / "000.png")


# --- the typed settings, without the CLI ------------------------------------------------------


def test_mode_settings_split_own_fields_from_extra_options_and_read_a_file(tmp_path):
    chosen, rest = mode_settings(PredictSettings, {"top_k": "5", "decoder": "beam"}, mode="predict",
                                 extra=("decoder",))
    assert chosen.top_k == 5 and rest == {"decoder": "beam"}
    (tmp_path / "export.yaml").write_text("format: torchscript\ntolerance: 0.05\n")
    chosen, _ = mode_settings(ExportSettings, {"config": str(tmp_path / "export.yaml"), "threads": "2"}, mode="export")
    assert (chosen.format, chosen.tolerance, chosen.threads) == ("torchscript", 0.05, 2)
    with pytest.raises(ConfigError, match="did you mean 'decoder'"):
        mode_settings(PredictSettings, {"decodr": "beam"}, mode="predict", extra=("decoder",))
    with pytest.raises(ConfigError, match="yes or no"):
        mode_settings(BenchmarkSettings, {"export": "maybe"}, mode="benchmark")


def test_settings_help_shows_name_default_type_and_description():
    lines = settings_help(BenchmarkSettings)
    assert [line.split()[0] for line in lines] == ["formats=all", "threads=2", "seconds=2.0", "export=true"]
    assert "true|false" in lines[3] and "Threads every runtime may use." in lines[1] and ">= 1" in lines[1]
    assert settings_help(ExportSettings, names=["threads"], values={"threads": 4})[0].split()[0] == "threads=4"


# --- refusals through the CLI: one line, exit 2 -----------------------------------------------


@pytest.mark.parametrize("arguments, needles", [
    (["top_kk=5"], ["unknown predict setting 'top_kk'", "did you mean 'top_k'?"]),
    (["top_k=abc"], ["invalid value for 'top_k'", "a whole number", "'abc'"]),
    (["top_k=0"], ["invalid value for 'top_k'"]),
    (["epochs=3"], ["unknown predict setting 'epochs'"]),
])
def test_predict_settings_are_refused_in_one_line(run, png, cli, tmp_path, arguments, needles):
    output = tmp_path / "preds.csv"
    _refused(*cli("predict", str(run), png, *arguments, "--output", str(output)), *needles)
    assert not output.exists()


def test_a_run_s_prediction_options_are_checked_against_its_config(run, png, cli, monkeypatch):
    from torchworks.tasks.image_classification.task import ImageClassification

    monkeypatch.setattr(ImageClassification, "prediction_options", ("dropout",))
    _refused(*cli("predict", str(run), png, "dropuot=0.1"), "did you mean 'dropout'?")
    _refused(*cli("predict", str(run), png, "dropout=abc"), "invalid value for 'dropout'", "'abc'")
    code, out, err = cli("predict", str(run), png, "dropout=0.1", "top_k=1")
    assert code == 0, err
    assert len(json.loads(out.splitlines()[0])["top_k"]) == 1


@pytest.mark.parametrize("mode, arguments, needles", [
    ("export", ["fromat=onnx"], ["unknown export setting 'fromat'", "did you mean 'format'?"]),
    ("export", ["tolerance=abc"], ["invalid value for 'tolerance'", "a number", "'abc'"]),
    ("export", ["format=onx"], ["unknown export format 'onx'", "did you mean 'onnx'?"]),
    ("benchmark", ["thread=2"], ["unknown benchmark setting 'thread'", "did you mean 'threads'?"]),
    ("benchmark", ["seconds=-1"], ["invalid value for 'seconds'"]),
    ("benchmark", ["export=maybe"], ["invalid value for 'export'", "yes or no"]),
])
def test_export_and_benchmark_settings_are_refused_in_one_line(run, cli, mode, arguments, needles):
    before = sorted(p.name for p in run.rglob("*"))
    _refused(*cli(mode, str(run), *arguments), *needles)
    assert sorted(p.name for p in run.rglob("*")) == before, "a refused setting writes nothing"


@pytest.mark.parametrize("arguments, needles", [
    (["methd=saliency"], ["unknown explain setting 'methd'", "did you mean 'method'?"]),
    (["stesp=3"], ["unknown explain setting 'stesp'", "did you mean 'steps'?"]),
    (["method=saliency", "bogus"], []),  # a bare word is an input: refused later as unreadable, not here
])
def test_explain_settings_are_refused_in_one_line(run, png, cli, arguments, needles):
    if not needles:
        code, _, err = cli("explain", str(run), png, *arguments)
        assert code == 2 and "bogus" in err and "Traceback" not in err
    else:
        _refused(*cli("explain", str(run), png, *arguments), *needles)
    assert not (run / "explanations").exists()


def test_a_setting_of_a_mode_without_settings_is_a_bare_word_error(cli):
    _refused(*cli("export", "runs/x", "onnx"), "cannot read argument 'onnx'", "key=value")


# --- the old spelling, one release more -------------------------------------------------------


@pytest.mark.parametrize("spelling", [["--top-k", "2"], ["--top-k=2"]])
def test_the_old_top_k_flag_still_works_with_a_one_line_warning(run, png, cli, spelling):
    code, out, err = cli("predict", str(run), png, *spelling)
    assert code == 0, err
    assert len(json.loads(out.splitlines()[0])["top_k"]) == 2
    warnings = [line for line in err.splitlines() if "deprecated" in line]
    assert len(warnings) == 1 and "top_k=2" in warnings[0] and warnings[0].startswith("warning:")


def test_the_old_option_flag_is_read_as_a_setting_and_checked(run, png, cli):
    code, out, err = cli("predict", str(run), png, "--decoder", "beam")
    assert code == 2 and out == ""
    assert "write decoder=beam" in err and "unknown predict setting 'decoder'" in err


# --- help generated from the typed configs ----------------------------------------------------


def _help(cli, *arguments: str) -> str:
    code, out, err = cli(*arguments)
    assert code == 0, err
    return out


def _setting_line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(f"{name}="))


@pytest.mark.parametrize("position", ["after", "before", "alone"])
def test_train_help_lists_the_task_s_settings_with_defaults(cli, position):
    arguments = {"after": ("image-classification", "--help"), "before": ("--help", "image-classification"),
                 "alone": ("--help",)}[position]
    out = _help(cli, "train", *arguments)
    assert "Usage:" in out
    epochs = _setting_line(out, "epochs")
    assert "epochs=10" in epochs and "Maximum number of training epochs." in epochs
    assert "adamw|adam|sgd" in _setting_line(out, "optimizer")
    if position != "alone":
        assert "Settings of image-classification" in out
        assert "model=auto" in out and "image_size=224" in out and "bad_files=skip" in out
    else:
        assert "torchworks settings TASK" in out and "image_size" not in out


def test_export_benchmark_help_list_their_fields(cli):
    out = _help(cli, "export", "--help")
    assert "format=onnx" in out and "tolerance=0.01" in out and "threads=0" in out
    out = _help(cli, "benchmark", "some-run", "--help")
    assert "formats=all" in out and "seconds=2.0" in out and "export=true" in out


def test_predict_and_explain_help_list_the_run_s_settings(run, cli, monkeypatch):
    from torchworks.tasks.image_classification.task import ImageClassification

    out = _help(cli, "predict", str(run), "--help")
    assert "top_k=3" in out and "no prediction options" in out
    assert _help(cli, "predict", "--help", str(run)) == out, "--help before or after the run"
    assert "top_k=3" in _help(cli, "predict", "--help")
    monkeypatch.setattr(ImageClassification, "prediction_options", ("dropout",))
    bundle_config = json.loads((run / "bundle.json").read_text())["config"]
    line = _setting_line(_help(cli, "predict", str(run), "x.png", "--help"), "dropout")
    assert f"dropout={bundle_config['dropout']}" in line and "Dropout" in line
    out = _help(cli, "explain", str(run), "--help")
    assert "method=none" in out and "gradcam, saliency" in out and "steps=..." in out


def test_quickstart_help_shows_the_recipe_and_the_values_it_trains_with(cli):
    out = _help(cli, "quickstart", "image-classification", "--help")
    assert "Recipe of image-classification: data=digits name=quickstart-digits" in out
    # the digits sample's own defaults sit under the recipe: a small CNN at 32 px, not resnet18 at 224
    assert "model=smallcnn" in _setting_line(out, "model") and "image_size=32" in _setting_line(out, "image_size")
    out = _help(cli, "quickstart", "--help")
    assert ("anomaly-detection, forecasting, image-classification, object-detection, recommendation, segmentation, "
            "speech-recognition, tabular, text-classification") in out


def test_data_make_help_lists_the_generator_s_parameters(cli):
    out = _help(cli, "data", "make", "spoken-digits", "--help")
    assert "out=(required)" in out and "n=3000" in out and "seed=0" in out and "audio_format=ogg" in out
    assert "spoken-digits" in _help(cli, "data", "make", "--help")


# --- every key of a task, grouped: torchworks settings TASK, train TASK --help, TASK --help --------


GROUP_TITLES = ("Data: what to read and how to split it:", "Model:", "Training:", "Predictions and evaluation:",
                "Run: names, output folder, tracking:")


def _sections(out: str) -> dict[str, list[str]]:
    """Section title -> the setting names listed under it."""
    sections: dict[str, list[str]] = {}
    title = None
    for line in out.splitlines():
        if line and not line.startswith(" "):
            title = line
            sections[title] = []
        elif line.startswith("  ") and "=" in line and title is not None:
            sections[title].append(line.split("=", 1)[0].strip())
    return sections


@pytest.mark.parametrize("task", ["image-classification", "forecasting", "text-classification", "speech-recognition"])
def test_settings_lists_every_key_of_the_task_once_in_its_group(cli, task):
    from torchworks.tasks import get_task

    out = _help(cli, "settings", task)
    sections = _sections(out)
    listed = [name for title in GROUP_TITLES for name in sections.get(title, [])]
    fields = get_task(task).config_class.model_fields
    assert sorted(listed) == sorted(fields), "every setting, each in one of the groups"
    assert sections[GROUP_TITLES[0]][0] == "data" and "epochs" in sections["Training:"]
    assert "name" in sections[GROUP_TITLES[-1]]
    # the task's own (the model in Model:) and what a setting left out becomes
    assert "model" in sections["Model:"]
    for name, info in fields.items():
        line = _setting_line(out, name)
        assert info.description is None or info.description.split()[0] in line


def test_settings_show_what_a_run_gets_and_the_choices(cli):
    out = _help(cli, "settings", "text-classification")
    assert "epochs=6" in _setting_line(out, "epochs"), "the pretrained model's own recipe, not the engine's 10"
    assert "none|encoder" in _setting_line(out, "freeze")
    out = _help(cli, "settings", "forecasting")
    assert "dlinear|lstm|gru|transformer" in _setting_line(out, "model")
    assert "time=none" in _setting_line(out, "time") and "found by name when unset" in _setting_line(out, "time")


def test_train_task_help_and_task_help_show_the_same_settings(cli):
    listing = _help(cli, "settings", "forecasting")
    assert listing.strip() in _help(cli, "train", "forecasting", "--help")
    assert listing.strip() in _help(cli, "forecasting", "--help")
    assert "Usage: torchworks MODE forecasting" in _help(cli, "forecasting", "--help")
    assert "Settings of every task" in _help(cli, "settings")


def test_a_task_given_without_a_mode_names_the_mode_and_the_listing(cli):
    code, out, err = cli("forecasting", "data=sunspots")
    assert code == 2 and out == ""
    assert "'forecasting' is a task, not a command" in err
    assert "torchworks train forecasting data=..." in err and "`torchworks settings forecasting`" in err


def test_hints_that_point_to_help_name_a_command_that_lists_the_keys(cli):
    code, _, err = cli("train", "forecasting", "data=sunspots", "lookbak=12")
    assert code == 2 and "did you mean 'lookback'?" in err
    assert "`torchworks settings forecasting` lists them" in err
    code, _, err = cli("train", "forecasting", "data=sunspots", "lookback")
    assert code == 2 and "`torchworks settings TASK` lists a task's settings" in err
    code, _, err = cli("export", "some-run", "formt=onnx")
    assert code == 2 and "`torchworks export RUN --help` lists them" in err
    # and those commands do list the keys
    assert "lookback=48" in _setting_line(_help(cli, "settings", "forecasting"), "lookback")
    assert "format=onnx" in _setting_line(_help(cli, "export", "some-run", "--help"), "format")


@pytest.mark.parametrize(("task", "typo", "sample"), [
    ("text-classification", "tikets", "tickets"),
    ("forecasting", "Sunspots", "sunspots"),
    ("image-classification", "digit", "digits"),
    ("speech-recognition", "spoken-digit", "spoken-digits"),
])
def test_a_mistyped_sample_name_gets_a_did_you_mean(cli, task, typo, sample, tmp_path):
    code, out, err = cli("train", task, f"data={typo}", f"output={tmp_path}")
    assert code == 2 and out == ""
    assert f"data '{typo}' is neither a sample dataset nor an existing path" in err
    assert f"did you mean '{sample}'?" in err
    assert not (tmp_path / task).exists(), "refused before a run folder is made"


def test_a_missing_path_far_from_any_sample_name_is_left_to_the_task(cli, tmp_path):
    code, _, err = cli("train", "forecasting", f"data={tmp_path / 'sales.csv'}", f"output={tmp_path}")
    assert code == 2 and "does not exist" in err and "did you mean" not in err
