"""Detection explanations: a map of what made one box's score, over the stored image, with the box.

A hand-built detector whose box score depends on known pixels only checks the plumbing exactly
(which box, letterbox undone, the map where the pixels are); the session's trained compact detector
checks the engine's path, targets and the records on a real model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

import torchworks
from torchworks.attribution.gradients import gradient_mode
from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError
from torchworks.tasks.object_detection.explaining import explain_detections
from torchworks.tasks.object_detection.predicting import image_inputs

LABELS = ["spot", "other"]


class SpotDetector(nn.Module):
    """Dense outputs at stride 8: a cell's ``spot`` logit is ``30 * (mean brightness of its 8 x 8
    pixels - 0.7)``, its box 16 x 16 pixels around the cell's centre. So a bright cell is a box
    whose score depends on that cell's pixels alone (neighbouring cells' boxes overlap it by IoU
    1/3, too little to count as the same box)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1)
        with torch.no_grad():
            self.features.weight.zero_()
            self.features.weight[0] = 1 / 3
            self.features.bias.copy_(torch.tensor([0.0, -1.0]))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.features(F.avg_pool2d(images, 8))
        batch, _, height, width = features.shape
        return {"cls_s8": (features - 0.7) * 30, "box_s8": features.new_full((batch, 4, height, width), 8.0),
                "ctr_s8": features.new_full((batch, 1, height, width), 10.0)}


SHADES = (255, 230, 210)  # the spots' brightness, in order: so their scores come out in that order


def _spot_image(path, spots: list[tuple[int, int]], size=(128, 64), side=16):
    """A dark picture ``size`` (width, height) with light squares of ``side`` pixels at ``spots``
    (left, top), each a little darker than the one before: at 64 px letterboxed (half scale), each
    is one 8 x 8 cell of the detector."""
    picture = Image.new("RGB", size, (50, 50, 50))
    for (left, top), shade in zip(spots, SHADES):
        picture.paste((shade,) * 3, (left, top, left + side, top + side))
    picture.save(path)
    return path


def _explain_spots(path, method="saliency", target=None, options=None):
    state = {"labels": LABELS, "image_size": 64, "max_pixels": 10**8, "model": "spots"}
    dataset, items = image_inputs([str(path)], state)
    model = SpotDetector().eval()
    with gradient_mode(model):
        return explain_detections(model, torch.stack([dataset[0]]), items, state, method, target, options or {})


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients"])
def test_a_box_score_is_attributed_to_its_own_pixels_in_the_stored_image(tmp_path, method):
    image = _spot_image(tmp_path / "wide.png", [(48, 32), (96, 0)])
    explanations = _explain_spots(image, method, options={"steps": "8"})
    assert [e.record["target"] for e in explanations] == ["box 0: spot 1.00", "box 1: spot 1.00"]
    first, second = (box["score"] for box in explanations[0].record["prediction"]["boxes"])
    assert 1 > first > second > 0.99
    for explanation, (left, top) in zip(explanations, [(48, 32), (96, 0)]):
        record = explanation.record
        assert record["width"] == 128 and record["height"] == 64 and record["prediction"]["count"] == 2
        attributions = record["attributions"]
        # the box: 16 letterboxed pixels around the cell centre, doubled back to stored pixels
        assert attributions["box"]["xyxy"] == [left - 8, max(0, top - 8), left + 24, top + 24]
        heat = np.abs(np.asarray(attributions["map"]))
        assert heat.shape == (32, 64) and attributions["shape"] == [32, 64] and attributions["cell"] == [2.0, 2.0]
        assert np.isfinite(heat).all() and heat.sum() > 0
        cells = np.zeros_like(heat, dtype=bool)
        cells[top // 2: top // 2 + 8, left // 2: left // 2 + 8] = True
        assert heat[~cells].max() < 1e-3 * heat.max(), "only the spot's own pixels move its score"
        assert attributions["inside_share"] > 0.999
        assert list(explanation.figures) == ["overlay"]


def test_gradcam_lies_on_the_explained_box_not_on_the_other_spots(tmp_path):
    """Plain Grad-CAM averages a layer's gradients over the map, and would light up every bright
    cell for either box: here the map of each box is its own cell."""
    image = _spot_image(tmp_path / "wide.png", [(48, 32), (96, 0)])
    explanations = _explain_spots(image, "gradcam", options={"layer": "features"})
    assert [e.record["attributions"]["layer"] for e in explanations] == ["features"] * 2
    for explanation, (left, top) in zip(explanations, [(48, 32), (96, 0)]):
        attributions = explanation.record["attributions"]
        heat = np.asarray(attributions["map"])
        assert heat.shape == (32, 64) and heat.min() >= 0 and attributions["layer_size"] == [8, 8]
        # the 8 x 8 layer map upsampled by its stride (8), cut to the image's 32 rows: the spot's
        # cell is hottest, bilinear interpolation spreads it at most one cell around, nowhere further
        row, column = np.unravel_index(heat.argmax(), heat.shape)
        assert top // 2 <= row < top // 2 + 8 and left // 2 <= column < left // 2 + 8
        near = np.zeros_like(heat, dtype=bool)
        near[max(0, top // 2 - 8): top // 2 + 16, max(0, left // 2 - 8): left // 2 + 16] = True
        assert heat[~near].max() == 0 and heat[near].sum() > 0
        assert attributions["inside_share"] > 0.6 and attributions["box_area_share"] < 0.15
    with pytest.raises(ConfigError, match="the model has no layer 'feature'"):
        _explain_spots(image, "gradcam", options={"layer": "feature"})


def test_targets_pick_a_box_by_index_or_the_best_box_of_a_class(tmp_path):
    image = _spot_image(tmp_path / "wide.png", [(48, 32), (96, 0), (0, 0)])
    everything = _explain_spots(image, options={"boxes": "2"})
    assert len(everything) == 2 and everything[0].record["prediction"]["count"] == 3
    (second,) = _explain_spots(image, target="1")
    assert second.record["target"].startswith("box 1: spot")
    assert second.record["attributions"]["box"] == {"index": 1, **second.record["prediction"]["boxes"][1]}
    (spot,) = _explain_spots(image, target="spot")
    assert spot.record["attributions"]["box"]["index"] == 0
    (missing,) = _explain_spots(image, target="other")
    assert missing.record["attributions"] is None and missing.record["target"] == \
        "no other box scores over conf=0.5 in this image"
    (beyond,) = _explain_spots(image, target="7")
    assert beyond.record["target"] == "no box 7: the image has 3 boxes over conf=0.5 (0 to 2)"
    with pytest.raises(ConfigError, match="unknown target class 'spots'") as info:
        _explain_spots(image, target="spots")
    assert "spot, other" in info.value.expected and "box index" in info.value.expected
    with pytest.raises(ConfigError, match="invalid target box index -1"):
        _explain_spots(image, target="-1")
    for option, value in (("boxes", "0"), ("conf", "2")):
        with pytest.raises(ConfigError, match=f"'{option}'"):
            _explain_spots(image, options={option: value})


def test_an_image_without_a_box_gets_a_record_that_says_so(tmp_path):
    (explanation,) = _explain_spots(_spot_image(tmp_path / "dark.png", []))
    assert explanation.record["prediction"] == {"count": 0, "boxes": []}
    assert explanation.record["attributions"] is None and explanation.figures == {}
    assert "no box scores over conf=0.5" in explanation.record["target"]
    assert "lower conf=" in explanation.summary


@pytest.fixture(scope="module")
def scene_images(scenes_dir):
    return sorted((scenes_dir / "images").iterdir())[:6]


def test_the_trained_detector_explains_its_top_boxes_over_the_image(detection_run, scene_images):
    """The session's detector has had two epochs only: its best boxes score about 0.035, nearly alike,
    so what is checked is that the maps are about their own boxes (not what a good detector looks at)."""
    bundle, task, _, model = load_model(detection_run)
    assert task.explain_methods[0] == "gradcam"
    explanations = explain_items(task, model, bundle.state, [str(f) for f in scene_images], method="saliency",
                                 options={"conf": "0.01"})
    assert len(explanations) == 3 * len(scene_images), "the 3 best boxes of every image"
    ratios = []
    for explanation in explanations:
        record = explanation.record
        with Image.open(record["input"]) as picture:
            assert [record["height"], record["width"]] == [picture.height, picture.width]
        attributions = record["attributions"]
        assert record["target"].startswith(f"box {attributions['box']['index']}: {attributions['box']['label']} ")
        heat = np.asarray(attributions["map"])
        assert heat.shape == (record["height"], record["width"]) == (128, 128)
        assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() > 0
        assert explanation.figures["overlay"][:8] == b"\x89PNG\r\n\x1a\n"
        share, area = attributions["inside_share"], attributions["box_area_share"]
        ratios.append((share / area) / ((1 - share) / (1 - area)))  # map density inside / outside the box
    # a box's score leans on its own pixels: the map is denser inside the box than outside it for
    # its best box several times denser (weaker boxes of a barely trained model overlap and blur)
    assert min(ratios[::3]) > 3, np.round(ratios, 1)  # each image's best box (measured: 5 to 8)
    per_image: dict[str, list[int]] = {}
    for explanation in explanations:
        per_image.setdefault(explanation.record["input"], []).append(explanation.record["attributions"]["box"]["index"])
    assert all(indices == [0, 1, 2] for indices in per_image.values()), "best first"


def test_explain_writes_a_map_per_box_and_the_records(detection_run, scene_images, tmp_path):
    result = torchworks.explain(detection_run, [str(scene_images[0])], target="0", output=tmp_path / "why",
                                conf="0.01")
    document = json.loads((tmp_path / "why" / "explanations.json").read_text())
    (record,) = document["explanations"]
    assert document["method"] == "gradcam" and record["target"].startswith("box 0: ")
    attributions = record["attributions"]
    assert attributions["layer"] == "stages.2" and attributions["layer_size"] == [8, 8]  # stride 16 at 128 px
    share, area = attributions["inside_share"], attributions["box_area_share"]
    assert share / area > 2 * (1 - share) / (1 - area)  # denser inside the box than outside
    assert record["figures"] == ["001-" + scene_images[0].stem + "-overlay.png"]
    assert (tmp_path / "why" / record["figures"][0]).stat().st_size > 1000
    assert result.records == document["explanations"]
    with pytest.raises(ConfigError, match="unknown target class") as info:
        torchworks.explain(detection_run, [str(scene_images[0])], target="unicorn", output=tmp_path / "no")
    assert all(label in info.value.expected for label in load_model(detection_run)[0].state["labels"])
    assert not (tmp_path / "no").exists()
