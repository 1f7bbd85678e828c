"""Image explanations: Grad-CAM on real handwritten digits looks at the strokes; every method gives
a map over the model's input with the picture beside it."""

from __future__ import annotations

import numpy as np
import pytest

import torchworks
from torchworks.engine.catalog import get_sample
from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """smallcnn on sklearn's digits at 32 x 32 (the sample's default), two epochs without
    augmentation: about 0.9 test accuracy in well under a minute on two cores."""
    run = torchworks.train("image-classification", data="digits", output=str(tmp_path_factory.mktemp("digits")),
                           name="digits", epochs=2, augment=False, seed=0, baselines=False, mlflow=False,
                           progress=False)
    return run.path


def _ink(task, state, files) -> list[np.ndarray]:
    """Where each digit's strokes are in the model's input: pixels brighter than the black background."""
    dataset, _ = task.predict_inputs([str(f) for f in files], state)
    return [(dataset[i][0].numpy() * state["std"][0] + state["mean"][0]) > 0.05 for i in range(len(dataset))]


def test_gradcam_on_digits_puts_its_weight_on_the_strokes(digits_run):
    bundle, task, _, model = load_model(digits_run)
    folder = get_sample("digits").path()
    files = [sorted((folder / str(digit)).glob("*.png"))[k] for digit in range(10) for k in (3, 11)]
    explanations = explain_items(task, model, bundle.state, [str(f) for f in files])
    inside, areas, denser = [], [], []
    for explanation, ink in zip(explanations, _ink(task, bundle.state, files)):
        attributions = explanation.record["attributions"]
        assert explanation.record["method"] == "gradcam" and attributions["layer_size"] == [8, 8]
        heat = np.asarray(attributions["map"])
        assert heat.shape == ink.shape == (32, 32) and heat.min() >= 0
        inside.append(heat[ink].sum() / heat.sum())
        areas.append(ink.mean())
        denser.append(heat[ink].mean() > heat[~ink].mean())
    # seeded, these come out at 0.74 inside (the strokes cover 0.59 of the area) and 19 of 20 denser
    assert np.mean(inside) > 0.6, f"most of the heat lies on the strokes: {np.round(inside, 2)}"
    assert np.mean(inside) > np.mean(areas) + 0.08, "the strokes draw more heat than their share of the area"
    assert np.mean(denser) >= 0.85, "a stroke pixel is hotter than a background pixel, on (nearly) every digit"


@pytest.mark.parametrize("method", ["gradcam", "saliency", "integrated_gradients", "occlusion"])
def test_every_method_maps_the_input_and_draws_it(method, image_run, shapes_dir):
    bundle, task, _, model = load_model(image_run)
    image = shapes_dir / "circle" / "000.png"
    options = {"steps": "8"} if method == "integrated_gradients" else {}
    (explanation,) = explain_items(task, model, bundle.state, [str(image)], method=method, target="square",
                                   options=options)
    record = explanation.record
    assert record["input"] == str(image) and record["target"] == "square" and record["method"] == method
    assert record["prediction"]["label"] in bundle.state["labels"]
    heat = np.asarray(record["attributions"]["map"])
    assert heat.shape == (16, 16) and np.isfinite(heat).all() and np.abs(heat).sum() > 0
    assert explanation.figures["overlay"][:8] == b"\x89PNG\r\n\x1a\n"
    if method == "integrated_gradients":
        assert record["attributions"]["steps"] == 8 and abs(record["attributions"]["convergence_delta"]) < 0.5


def test_a_chosen_layer_and_a_wrong_target_or_layer(image_run, shapes_dir):
    bundle, task, _, model = load_model(image_run)
    image = str(shapes_dir / "circle" / "000.png")
    (explanation,) = explain_items(task, model, bundle.state, [image], options={"layer": "backbone.6"})
    assert explanation.record["attributions"]["layer"] == "backbone.6"
    assert explanation.record["attributions"]["layer_size"] == [8, 8]
    with pytest.raises(ConfigError, match="unknown target class 'sqaure'") as info:
        explain_items(task, model, bundle.state, [image], target="sqaure")
    assert "did you mean 'square'?" in info.value.hint
    with pytest.raises(ConfigError, match="no layer 'backbone.66'"):
        explain_items(task, model, bundle.state, [image], options={"layer": "backbone.66"})
