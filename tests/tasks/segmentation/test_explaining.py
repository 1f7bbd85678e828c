"""Segmentation explanations: per class, a map of what made the model call its predicted region that class.

A hand-wired U-Net whose evidence for each class is known (brightness for ``lesion``, darkness for
``background``, carried through its deep path) checks the values exactly: which region, the batch's
padding cut off, the map where the evidence is. The session's trained U-Net checks the engine's and
the CLI's path, targets and the records on a real model.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import torchworks
from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError
from torchworks.tasks import get_task
from torchworks.tasks.segmentation.dataset import collate_images
from torchworks.tasks.segmentation.explaining import averaged_map, explain_segments
from torchworks.tasks.segmentation.predicting import picture_inputs
from torchworks.tasks.segmentation.unet import UNet

LABELS = ["background", "lesion"]
STATE = {"labels": LABELS, "model": "unet", "architecture": {"base_channels": 2, "depth": 2}, "max_pixels": 10**7}
DARK, BRIGHT = 0.3, 0.85  # the scans' background and lesion brightness


def _wire(conv: torch.nn.Conv2d, links: list[tuple[int, int, float]], spread: bool = False) -> None:
    """``conv``'s weights zero but for ``(out, in, weight)`` links: a centre tap, or with ``spread`` a 3 x 3 mean."""
    kernel = torch.full((3, 3), 1 / 9)
    if not spread:
        kernel = torch.zeros(3, 3)
        kernel[1, 1] = 1.0
    conv.weight.zero_()
    for out, source, weight in links:
        conv.weight[out, source] = weight * kernel


def _pass(norm: torch.nn.BatchNorm2d, bias: tuple[float, ...] = ()) -> None:
    """``norm`` as the identity in eval mode, plus ``bias`` on its first channels."""
    norm.running_mean.zero_()
    norm.running_var.fill_(1 - norm.eps)
    norm.weight.fill_(1.0)
    norm.bias.zero_()
    norm.bias[:len(bias)] = torch.tensor(bias)


def brightness_unet() -> UNet:
    """A U-Net (base_channels 2, depth 2) wired by hand: channel 0 carries brightness ``b``, channel 1
    darkness ``relu(0.5 - b)``, down to the bottleneck (max-pooled) and back up, the skip connections
    cut and each decoder merge a 3 x 3 mean; the head's logits are ``10 * darkness`` (background) and
    ``10 * brightness - 5`` (lesion). So a bright spot is a lesion, and what the model says about a
    pixel comes from the bright or dark pixels around it, through ``merge.1`` (the default layer)."""
    model = UNet(2, base_channels=2, depth=2)
    kept = [(0, 0, 1.0), (1, 1, 1.0)]
    with torch.no_grad():
        first = model.down[0]
        _wire(first[0], [(0, c, 1 / 3) for c in range(3)] + [(1, c, -1 / 3) for c in range(3)])
        _pass(first[1], bias=(0.0, 0.5))
        _wire(first[3], kept)
        _pass(first[4])
        for block in (*model.down[1:], *model.merge):
            _wire(block[0], kept, spread=block in model.merge)
            _wire(block[3], kept)
            _pass(block[1])
            _pass(block[4])
        for up in model.up:
            up.weight.zero_()
            up.bias.zero_()
            up.weight[0, 0], up.weight[1, 1] = 1.0, 1.0  # nearest-neighbour upsampling of both channels
        model.head.weight.zero_()
        model.head.weight[0, 1, 0, 0], model.head.weight[1, 0, 0, 0] = 10.0, 10.0
        model.head.bias.copy_(torch.tensor([0.0, -5.0]))
    return model.eval()


def scan(height: int = 45, width: int = 61, spot: tuple[int, int] | None = (20, 38), radius: int = 6,
         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dark noisy scan ``height x width`` (uint8 RGB) with a bright disc at ``spot`` (row, column), and the disc."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[:height, :width]
    disc = np.zeros((height, width), bool) if spot is None else \
        (rows - spot[0]) ** 2 + (columns - spot[1]) ** 2 <= radius**2
    brightness = np.where(disc, BRIGHT, DARK) + rng.normal(0, 0.02, (height, width))
    pixels = np.repeat((np.clip(brightness, 0, 1) * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    return pixels, disc


@pytest.fixture(scope="module")
def wired():
    return get_task("segmentation"), brightness_unet()


def _explain(wired, pictures, **settings):
    task, model = wired
    return explain_items(task, model, STATE, list(pictures), **settings)


def test_gradcam_of_the_lesion_lies_in_its_predicted_region(wired):
    pixels, disc = scan()
    (explanation,) = _explain(wired, [pixels], target="lesion")
    record, attributions = explanation.record, explanation.record["attributions"]
    assert record["target"] == "lesion" and record["method"] == "gradcam"
    assert record["prediction"]["classes"]["lesion"] == attributions["region_pixels"] >= disc.sum()
    assert sum(record["prediction"]["classes"].values()) == 45 * 61
    assert attributions["layer"] == "merge.1" and attributions["layer_size"] == [24, 32]
    assert attributions["shape"] == [45, 61] and attributions["cell"] == [1.0, 1.0]
    assert attributions["inside_share"] > 0.8 > 8 * attributions["region_share"]
    heat = np.array(attributions["map"])
    hottest = np.unravel_index(heat.argmax(), heat.shape)
    assert abs(hottest[0] - 20) <= 6 and abs(hottest[1] - 38) <= 6, hottest
    assert heat[:, :20].max() == 0, "nothing far left of the lesion speaks for it"
    assert "lesion" in explanation.summary and "inside its region" in explanation.summary
    assert explanation.figures["overlay"][:4] == b"\x89PNG"


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients"])
def test_saliency_and_integrated_gradients_give_finite_maps_of_the_image_size(wired, method):
    pixels, _ = scan(height=37, width=50, spot=(18, 12))
    (explanation,) = _explain(wired, [pixels], method=method, target="lesion", options={"steps": "8"})
    attributions = explanation.record["attributions"]
    heat = np.array(attributions["map"])
    assert heat.shape == (37, 50) == tuple(attributions["shape"]) and np.isfinite(heat).all()
    assert np.abs(heat).sum() > 0
    assert attributions["inside_share"] > 3 * attributions["region_share"]
    if method == "integrated_gradients":
        assert attributions["steps"] == 8 and np.isfinite(attributions["convergence_delta"])


def test_by_default_each_predicted_class_but_the_background_is_explained(wired):
    with_lesions, _ = scan(height=48, width=80, spot=(24, 20))
    with_lesions[10:22, 55:67] = round(BRIGHT * 255)  # a second, square lesion: the same class, one region
    records = [e.record for e in _explain(wired, [with_lesions])]
    assert [r["target"] for r in records] == ["lesion"]
    assert set(records[0]["prediction"]["classes"]) == {"background", "lesion"}


def test_an_image_predicted_as_background_alone_gets_the_background_explained(wired):
    plain, _ = scan(spot=None)
    (explanation,) = _explain(wired, [plain])
    record = explanation.record
    assert record["prediction"] == {"classes": {"background": 45 * 61}} and record["target"] == "background"
    assert record["attributions"]["region_share"] == 1.0 and np.array(record["attributions"]["map"]).max() > 0


def test_target_background_explains_the_rest_of_the_image(wired):
    pixels, disc = scan()
    (explanation,) = _explain(wired, [pixels], target="background")
    attributions = explanation.record["attributions"]
    assert attributions["class"] == "background"
    assert attributions["region_pixels"] == explanation.record["prediction"]["classes"]["background"]
    assert attributions["inside_share"] > 0.95 and attributions["region_share"] < 1 - disc.mean() + 0.01
    heat = np.array(attributions["map"])
    assert heat[18:23, 36:41].max() < 0.1 * heat.max(), "the lesion's middle says little for the background"


def test_a_class_absent_from_the_prediction_gets_a_record_saying_so(wired):
    plain, _ = scan(spot=None)
    (explanation,) = _explain(wired, [plain], target="lesion")
    record = explanation.record
    assert record["attributions"] is None and not explanation.figures
    assert record["target"].startswith("no pixel predicted as lesion") and "background (2745 px)" in record["target"]
    assert "no pixel predicted as lesion" in explanation.summary


def test_an_unknown_target_names_the_classes(wired):
    pixels, _ = scan()
    with pytest.raises(ConfigError) as info:
        _explain(wired, [pixels], target="lesoin")
    assert "background, lesion" in info.value.expected and "lesion" in info.value.hint


def test_a_padded_batch_is_cut_back_to_each_image(wired):
    """Two scans of different sizes in one padded batch: each map covers its own image, its lesion in place."""
    task, model = wired
    small, _ = scan(height=30, width=40, spot=(14, 28), radius=5)
    large, _ = scan(height=52, width=60, spot=(30, 15))
    dataset, items = picture_inputs([small, large], STATE)
    batch = collate_images([dataset[0], dataset[1]])
    assert tuple(batch.shape[-2:]) == (52, 60)
    explanations = explain_segments(model, batch, items, STATE, "gradcam", "lesion", {})
    for explanation, (height, width) in zip(explanations, [(30, 40), (52, 60)]):
        attributions = explanation.record["attributions"]
        assert attributions["shape"] == [height, width]
        assert sum(explanation.record["prediction"]["classes"].values()) == height * width
        assert attributions["inside_share"] > 0.8


def test_a_large_map_is_averaged_down_for_the_record_and_says_its_cell():
    heat = np.random.default_rng(0).random((150, 96)).astype(np.float32)
    small = averaged_map(heat)
    assert small.shape == (64, 41) and abs(small.mean() - heat.mean()) < 0.01
    assert averaged_map(heat[:40, :30]) is not None and averaged_map(heat[:40, :30]).shape == (40, 30)


def test_a_large_scan_records_a_small_map_with_its_cell_size(wired):
    pixels, _ = scan(height=128, width=100, spot=(64, 50), radius=12)
    attributions = _explain(wired, [pixels], target="lesion")[0].record["attributions"]
    assert attributions["shape"] == [64, 50] and attributions["cell"] == [2.0, 2.0]
    assert len(attributions["map"]) == 64 and len(attributions["map"][0]) == 50


def test_layer_option_picks_the_layer_and_an_unknown_layer_is_named(wired):
    pixels, _ = scan()
    attributions = _explain(wired, [pixels], target="lesion", options={"layer": "down.2"})[0].record["attributions"]
    assert attributions["layer"] == "down.2" and attributions["layer_size"] == [12, 16]
    with pytest.raises(ConfigError) as info:
        _explain(wired, [pixels], options={"layer": "merge.7"})
    assert "merge.7" in info.value.what and "merge." in info.value.hint


def test_no_hooks_remain_and_the_model_is_left_as_it_was(wired):
    task, model = wired
    pixels, _ = scan()
    model.train()
    try:
        for method in task.explain_methods:
            _explain(wired, [pixels], method=method, options={"steps": "4"})
        assert model.training and all(parameter.requires_grad for parameter in model.parameters())
        assert not any(module._forward_hooks or module._backward_hooks for module in model.modules())
    finally:
        model.eval()


def test_the_trained_unet_explains_a_scan_through_the_engine(segmentation_run, lesion_scans):
    bundle, task, _, model = load_model(segmentation_run)
    path = sorted((lesion_scans / "images").glob("*.png"))[0]
    explanations = explain_items(task, model, bundle.state, [str(path)], target="background")
    (explanation,) = explanations
    record = explanation.record
    assert record["input"] == str(path) and (record["width"], record["height"]) == Image.open(path).size
    attributions = record["attributions"]
    assert attributions["class"] == "background" and attributions["layer"] == "merge.2"  # depth 3
    heat = np.array(attributions["map"])
    assert heat.shape == (64, 64) and attributions["cell"] == [1.5, 1.5] and np.isfinite(heat).all()
    assert not any(module._forward_hooks for module in model.modules())
    for explanation in explain_items(task, model, bundle.state, [str(path)]):  # the default target
        assert explanation.record["target"] in LABELS and explanation.record["attributions"]


def test_explain_from_the_cli_writes_the_maps_and_the_records(segmentation_run, lesion_scans, tmp_path, cli):
    run = shutil.copytree(segmentation_run, tmp_path / "run")
    path = sorted((lesion_scans / "images").glob("*.png"))[1]
    code, out, err = cli("explain", str(run), str(path), "target=background", "--output", str(tmp_path / "why"))
    assert code == 0, err
    document = json.loads((tmp_path / "why" / "explanations.json").read_text())
    (record,) = document["explanations"]
    assert document["method"] == "gradcam" and record["target"] == "background"
    assert record["attributions"]["inside_share"] >= 0 and record["figures"]
    assert (tmp_path / "why" / record["figures"][0]).read_bytes()[:4] == b"\x89PNG"


def test_an_unknown_target_on_a_run_fails_before_anything_is_written(segmentation_run, lesion_scans, tmp_path):
    path = sorted((lesion_scans / "images").glob("*.png"))[0]
    with pytest.raises(ConfigError) as info:
        torchworks.explain(segmentation_run, [str(path)], target="tumour", output=tmp_path / "no")
    assert "unknown target class 'tumour'" in info.value.what and "background, lesion" in info.value.expected
    assert not (tmp_path / "no").exists()


def test_a_volume_is_explained_slice_by_slice(wired, tmp_path):
    stack = np.stack([scan(spot=None)[0][..., 0], scan()[0][..., 0]])  # a .npy stack [slices, H, W] of grey scans
    np.save(tmp_path / "stack.npy", stack)
    records = [e.record for e in _explain(wired, [str(tmp_path / "stack.npy")])]
    assert [(r["slice"], r["target"]) for r in records] == [(0, "background"), (1, "lesion")]
    assert records[1]["attributions"]["inside_share"] > 0.8


def test_pictures_kept_whole_for_the_sliding_window_are_explained_as_images(wired):
    task, model = wired
    pixels, _ = scan()
    tiled = {**STATE, "tile": 32, "overlap": 0.25}
    dataset, items = picture_inputs([pixels], tiled)
    batch = collate_images([dataset[0]])
    assert isinstance(batch, list)  # uint8 pictures, not a float batch
    (whole,) = explain_segments(model, batch, items, tiled, "gradcam", "lesion", {})
    (plain,) = _explain(wired, [pixels], target="lesion")
    assert whole.record["attributions"]["map"] == plain.record["attributions"]["map"]


def test_a_torchvision_model_is_explained_at_its_backbone_last_feature_map():
    from torchworks.tasks.segmentation.models import build_segmenter

    torch.manual_seed(0)
    model = build_segmenter("lraspp_mobilenet_v3_large", 2, {}).eval()
    state = {**STATE, "model": "lraspp_mobilenet_v3_large", "architecture": {}}
    pixels, _ = scan(height=70, width=90)
    explanations = explain_items(get_task("segmentation"), model, state, [pixels])
    assert explanations
    for explanation in explanations:
        attributions = explanation.record["attributions"]
        assert attributions["layer"].startswith("model.backbone.") and attributions["shape"] == [50, 64]
        assert np.isfinite(np.array(attributions["map"])).all()
    assert not any(module._forward_hooks for module in model.modules())


def test_a_class_winning_only_by_evidence_against_the_others_gets_an_empty_map_and_says_so(wired):
    """Logits ``-10 * darkness - 1`` (lesion) and ``3 - 10 * brightness`` (background): a bright spot is
    still a lesion, but only because it is less background; nothing speaks *for* the lesion."""
    task = wired[0]
    model = brightness_unet()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.weight[1, 1, 0, 0], model.head.weight[0, 0, 0, 0] = -10.0, -10.0
        model.head.bias.copy_(torch.tensor([3.0, -1.0]))
    pixels, _ = scan()
    (explanation,) = explain_items(task, model, STATE, [pixels], target="lesion")
    attributions = explanation.record["attributions"]
    assert attributions["region_pixels"] > 0 and attributions["inside_share"] == 0
    assert not np.array(attributions["map"]).any()
    assert "the gradcam map for lesion is empty: nothing at merge.1 speaks for lesion" in explanation.summary
