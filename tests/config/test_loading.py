"""Config loading: key=value overrides, YAML files and validation give ConfigErrors with hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchworks.config import TrainConfig, parse_overrides, resolve_config
from torchworks.config.loading import read_yaml_config
from torchworks.errors import ConfigError


def test_parse_overrides_reads_key_value_pairs_and_normalises_keys():
    assert parse_overrides(["epochs=10", "batch-size=8", "--lr=0.1", "name=a=b", "data="]) == {
        "epochs": "10",
        "batch_size": "8",
        "lr": "0.1",
        "name": "a=b",
        "data": "",
    }


@pytest.mark.parametrize("arg", ["epochs", "=5", "--", "resnet18"])
def test_parse_overrides_refuses_a_bare_word(arg):
    with pytest.raises(ConfigError) as info:
        parse_overrides(["epochs=2", arg])
    assert repr(arg) in info.value.got
    assert "key=value" in info.value.expected


def test_string_values_are_validated_into_types():
    config = resolve_config(TrainConfig, {"data": "x", "epochs": "3", "lr": "0.5", "mlflow": "false"})
    assert (config.epochs, config.lr, config.mlflow) == (3, 0.5, False)


def test_unknown_key_hints_the_closest_setting():
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"data": "x", "epoch": "3"})
    assert "'epoch'" in info.value.what
    assert info.value.hint == "did you mean 'epochs'?"


def test_unknown_key_far_from_everything_lists_the_settings():
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"data": "x", "qqqqqq": "3"})
    assert info.value.hint.startswith("choose one of: ")
    assert "epochs" in info.value.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [("epochs", "-1"), ("epochs", "0"), ("lr", "abc"), ("lr", "0"), ("batch_size", "1.5"), ("optimizer", "lbfgs")],
)
def test_invalid_value_names_the_key(key, value):
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"data": "x", key: value})
    assert f"'{key}'" in info.value.what
    assert value in info.value.got
    assert info.value.hint == f"set {key}= to a valid value"


def test_choice_error_lists_the_choices():
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"data": "x", "optimizer": "lbfgs"})
    assert "adamw" in info.value.expected and "sgd" in info.value.expected


def test_missing_required_key_says_how_to_set_it():
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"epochs": "2"})
    assert "'data'" in info.value.what
    assert "data=" in info.value.hint


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_values_are_used_and_overrides_win(tmp_path):
    config_file = _write(tmp_path / "run.yaml", "data: folder\nepochs: 7\nbatch-size: 16\nlr: 0.01\n")
    config = resolve_config(TrainConfig, {"config": str(config_file), "epochs": "2"})
    assert config.epochs == 2  # the override wins
    assert config.batch_size == 16  # dashes in YAML keys work like on the command line
    assert config.lr == 0.01
    assert config.data == "folder"


def test_defaults_fill_only_what_neither_file_nor_settings_give(tmp_path):
    config_file = _write(tmp_path / "run.yaml", "data: folder\nepochs: 7\n")
    config = resolve_config(
        TrainConfig, {"config": str(config_file), "lr": "0.5"}, defaults={"epochs": 99, "lr": 0.1, "batch_size": 4}
    )
    assert (config.epochs, config.lr, config.batch_size) == (7, 0.5, 4)


def test_unknown_key_in_a_yaml_file_gets_the_hint_too(tmp_path):
    config_file = _write(tmp_path / "run.yaml", "data: folder\nepoch: 7\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"config": str(config_file)})
    assert info.value.hint == "did you mean 'epochs'?"


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    config_file = _write(tmp_path / "run.yaml", "data: folder\nepochs: 3\nlr: [1, 2\nseed: 1\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"config": str(config_file)})
    assert str(config_file) in info.value.what
    assert "line 4" in info.value.what


def test_bad_indentation_names_its_line(tmp_path):
    config_file = _write(tmp_path / "run.yaml", "epochs: 3\n  bad: indent\nlr: 1\n")
    with pytest.raises(ConfigError, match="line 2"):
        read_yaml_config(config_file)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_config(TrainConfig, {"config": str(tmp_path / "nope.yaml")})
    assert "nope.yaml" in info.value.what


@pytest.mark.parametrize("text", ["- epochs: 3\n", "just a string\n", "42\n"])
def test_yaml_that_is_not_a_mapping_is_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="not a mapping"):
        read_yaml_config(_write(tmp_path / "run.yaml", text))


def test_empty_yaml_file_is_an_empty_mapping(tmp_path):
    assert read_yaml_config(_write(tmp_path / "run.yaml", "# nothing yet\n")) == {}


def test_yaml_with_a_utf8_bom_is_read(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_bytes("\ufeffepochs: 4\n".encode("utf-8"))
    assert read_yaml_config(path) == {"epochs": 4}


def test_yaml_is_loaded_safely(tmp_path):
    config_file = _write(tmp_path / "run.yaml", "epochs: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml_config(config_file)
