"""model=auto: a small CNN for a small training set without pretrained weights, said on the console
and recorded in the run's config, so every later use of the bundle rebuilds the same network."""

from __future__ import annotations

import json

import pytest

import torchworks
from torchworks.tasks.image_classification.config import ImageClassificationConfig
from torchworks.tasks.image_classification.models import SMALL_DATA_IMAGES, chosen_model
from torchworks.tasks.image_classification.task import ImageClassification


@pytest.mark.parametrize(("name", "pretrained", "images", "chosen"), [
    ("auto", False, 80, "smallcnn"),
    ("auto", False, SMALL_DATA_IMAGES - 1, "smallcnn"),
    ("auto", False, SMALL_DATA_IMAGES, "resnet18"),
    ("auto", True, 80, "resnet18"),            # pretrained weights are worth more than a small network
    ("resnet18", False, 80, "resnet18"),       # a model the user chose is never replaced
    ("efficientnet_b0", False, 80, "efficientnet_b0"),
    ("auto", False, None, "auto"),             # not decided before the data is read
])
def test_auto_picks_by_training_images_and_pretrained_weights(name, pretrained, images, chosen):
    assert chosen_model(name, pretrained, None, images)[0] == chosen


def test_the_reason_names_the_count_and_the_missing_weights():
    assert chosen_model("auto", False, None, 80)[1] == "chosen: 80 training images and no pretrained weights"


def test_auto_is_the_default_and_a_valid_model_name():
    config = ImageClassificationConfig(data="x")
    assert config.model == "auto"
    ImageClassification().check_config(config)


def test_a_default_run_on_a_few_photos_trains_the_small_cnn_says_why_and_keeps_it(photo_crops, tmp_path, capsys):
    run = torchworks.train("image-classification", data=str(photo_crops), output=str(tmp_path / "runs"),
                           image_size=32, crop=1.0, epochs=1, batch_size=16, baselines=False, mlflow=False,
                           progress=False)
    console = " ".join(capsys.readouterr().err.split())
    assert ("model: smallcnn (chosen: 44 training images and no pretrained weights; set model= to override)"
            in console)
    assert run.path.name == "crops", "the run is named after its data while the model is still to be chosen"
    assert "model=auto" in console.split("model: smallcnn")[0] and "=None" not in console
    manifest = json.loads((run.path / "bundle.json").read_text())
    assert manifest["config"]["model"] == "smallcnn"
    assert json.loads((run.path / "config.json").read_text())["settings"].get("model") is None
    # predict (and export, evaluate) rebuild the same network from the bundle
    predictions = torchworks.load(run.path).predict([str(next((photo_crops / "china").iterdir()))])
    assert predictions[0]["label"] in ("china", "flower")
    assert torchworks.evaluate(run.path).metrics["accuracy"] == run.metrics["accuracy"]
    # and the choice itself can be rebuilt from the stored state alone (the training-set size)
    config = ImageClassificationConfig(data=str(photo_crops), image_size=32)
    model = ImageClassification().build_model(config, manifest["state"], for_training=False)
    assert sum(p.numel() for p in model.parameters()) < 200_000, "the small CNN, not a resnet18"
