"""The one error grammar: what / expected / got / hint, rendered on one line and as REST JSON."""

from __future__ import annotations

import pytest

from torchworks.errors import (
    EXIT_USER_ERROR,
    BundleError,
    ConfigError,
    DataError,
    OutputError,
    TorchworksError,
    TrainingError,
    did_you_mean,
)


def test_render_joins_what_expected_got_and_hint_on_one_line():
    error = TorchworksError("bad thing", expected="a good thing", got="a bad thing", hint="try again")
    assert error.render() == "bad thing: expected a good thing, got a bad thing. Hint: try again"
    assert str(error) == error.render()
    assert "\n" not in error.render()


@pytest.mark.parametrize(
    ("kwargs", "rendered"),
    [
        ({}, "what"),
        ({"expected": "E"}, "what: expected E"),
        ({"got": "G"}, "what: got G"),
        ({"hint": "H"}, "what. Hint: H"),
        ({"got": "G", "hint": "H"}, "what: got G. Hint: H"),
    ],
)
def test_render_leaves_out_missing_parts(kwargs, rendered):
    assert TorchworksError("what", **kwargs).render() == rendered


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (ConfigError, "config_error"),
        (DataError, "data_error"),
        (BundleError, "bundle_error"),
        (TrainingError, "training_error"),
        (OutputError, "output_error"),
    ],
)
def test_each_error_kind_has_its_rest_code_and_is_a_torchworks_error(cls, code):
    error = cls("broken", expected="x", got="y", hint="z")
    assert isinstance(error, TorchworksError)
    assert error.as_json() == {"error": code, "message": "broken: expected x, got y. Hint: z", "hint": "z"}


def test_fields_are_kept_for_callers():
    error = DataError("file 'a.png' is bad", expected="an image", got="0 bytes", hint="remove it")
    assert (error.what, error.expected, error.got, error.hint) == ("file 'a.png' is bad", "an image", "0 bytes", "remove it")


def test_user_errors_exit_with_code_2():
    assert EXIT_USER_ERROR == 2


def test_did_you_mean_names_the_closest_choice():
    assert did_you_mean("epoch", ["epochs", "lr", "batch_size"]) == "did you mean 'epochs'?"
    assert did_you_mean("batchsize", {"epochs", "batch_size"}) == "did you mean 'batch_size'?"


def test_did_you_mean_lists_sorted_choices_when_nothing_is_close():
    assert did_you_mean("zzzz", ["lr", "epochs"]) == "choose one of: epochs, lr"
