"""Speech explanations: saliency over every feature frame of the clip, drawn over its spectrogram."""

from __future__ import annotations

import math

import pytest

from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError


def test_saliency_has_one_value_per_feature_frame_and_a_picture(speech_run):
    bundle, task, _, model = load_model(speech_run)
    clip = speech_run.parents[2] / "clips" / "3.wav"
    dataset, _ = task.predict_inputs([str(clip)], bundle.state)
    frames, bands = dataset[0].shape
    (explanation,) = explain_items(task, model, bundle.state, [str(clip)])
    record = explanation.record
    assert record["input"] == str(clip) and record["method"] == "saliency"
    assert record["target"] == record["prediction"]["transcript"], "the model's own transcript by default"
    attributions = record["attributions"]
    assert attributions["frames"] == frames and len(attributions["per_frame"]) == frames
    assert len(attributions["per_band"]) == bands == bundle.state["n_mels"]
    assert math.isclose(sum(attributions["per_frame"]), 1.0, abs_tol=1e-2) and min(attributions["per_frame"]) >= 0
    assert attributions["frame_seconds"] == bundle.state["hop_length"] / bundle.state["sample_rate"]
    assert explanation.figures["saliency"][:4] == b"\x89PNG"


def test_a_given_transcript_is_explained_or_refused_when_unwritable(speech_run):
    bundle, task, _, model = load_model(speech_run)
    clip = str(speech_run.parents[2] / "clips" / "3.wav")
    (explanation,) = explain_items(task, model, bundle.state, [clip], target="Three four")
    assert explanation.record["target"] == "three four"
    assert explanation.record["attributions"]["log_likelihood"] < 0
    with pytest.raises(ConfigError, match="cannot write") as info:
        explain_items(task, model, bundle.state, [clip], target="three 4!")
    assert "!" in info.value.got
