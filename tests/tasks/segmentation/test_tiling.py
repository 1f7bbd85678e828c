"""Sliding-window prediction: the blend weights, exact agreement with a whole-image pass for a network
that looks at one pixel at a time, agreement away from the image edge for a trained U-Net, windows no
larger than the tile, and ``tile=`` through predict on an image over ``max_pixels``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import torchworks
from torchworks.errors import DataError
from torchworks.tasks.segmentation.predicting import class_map_of, class_maps
from torchworks.tasks.segmentation.tiling import EDGE_WEIGHT, SlidingWindow, WholePicture, window_weights


def test_window_weights_are_one_in_the_middle_and_small_but_positive_at_the_edges():
    weights = window_weights(32, 48)
    assert weights.shape == (32, 48)
    assert weights.max() == pytest.approx(1.0, abs=0.01) and weights.min() > 0
    assert EDGE_WEIGHT ** 2 <= weights[0, 0] <= 2 * EDGE_WEIGHT ** 2, "a corner: the edge weight squared"
    assert torch.allclose(weights, weights.flip(0)) and torch.allclose(weights, weights.flip(1)), "symmetric"


class _Recording(torch.nn.Module):
    """Wraps a network and records the shape of every batch of windows it is given."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(images.shape))
        return self.network(images)


def _pixels(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (3, height, width), dtype=np.uint8))


def test_a_pixelwise_network_gives_the_whole_image_answer_exactly_and_windows_stay_tile_sized():
    torch.manual_seed(0)
    network = _Recording(torch.nn.Conv2d(3, 4, 1))  # each output pixel sees its own input pixel only
    pixels = _pixels(70, 97)
    tiled = SlidingWindow(network, tile=32, overlap=0.25, num_classes=4, windows_per_call=3).predict(pixels)
    whole = class_maps(network(pixels[None].float() / 255), {"labels": list("abcd")})
    assert tiled["classes"].shape == (70, 97) and tiled["classes"].dtype == torch.uint8
    assert torch.equal(tiled["classes"], whole["classes"][0])
    assert (tiled["confidence"].int() - whole["confidence"][0].int()).abs().max() <= 1
    windows = network.shapes[:-1]
    assert windows and all(shape[0] <= 3 and shape[2:] == (32, 32) for shape in windows), "never more than a tile"
    assert sum(shape[0] for shape in windows) == 3 * 4, "rows at 0, 24, 38 and columns at 0, 24, 48, 65"


def test_a_side_shorter_than_the_tile_is_one_window_of_its_own_length():
    network = _Recording(torch.nn.Conv2d(3, 2, 1))
    result = SlidingWindow(network, tile=64, overlap=0.5, num_classes=2).predict(_pixels(20, 150))
    assert result["classes"].shape == (20, 150)
    assert {shape[2:] for shape in network.shapes} == {(20, 64)}


@pytest.fixture(scope="module")
def lesion_model(segmentation_run):
    predictor = torchworks.load(segmentation_run)
    return predictor.model


def test_tiled_and_whole_predictions_of_a_trained_unet_agree_away_from_the_image_edge(lesion_model, lesion_scans):
    scans = [np.asarray(Image.open(path).convert("RGB")) for path in sorted((lesion_scans / "images").glob("*.png"))]
    picture = np.concatenate([np.concatenate(scans[row * 3:row * 3 + 3], axis=1) for row in range(2)], axis=0)
    pixels = torch.from_numpy(picture).permute(2, 0, 1).contiguous()  # 192 x 288: a 2 x 3 mosaic of scans
    with torch.inference_mode():
        whole = lesion_model(pixels[None].float() / 255).argmax(1)[0]
    tiled = SlidingWindow(lesion_model, tile=64, overlap=0.5, num_classes=2).predict(pixels)["classes"]
    inner = (slice(16, -16), slice(16, -16))
    agreement = (tiled[inner] == whole[inner]).float().mean().item()
    assert whole[inner].sum() > 100, "the model finds lesions, so agreement is not agreement on background alone"
    assert agreement >= 0.985, f"tiled and whole predictions agree on {agreement:.3%} of the inner pixels"


def test_predict_with_tile_reads_an_image_over_max_pixels_and_writes_whole_records(segmentation_run, lesion_scans,
                                                                                   tmp_path):
    run = tmp_path / "run"
    shutil.copytree(segmentation_run, run)
    scans = [np.asarray(Image.open(path)) for path in sorted((lesion_scans / "images").glob("*.png"))[:4]]
    big = tmp_path / "big.png"
    Image.fromarray(np.concatenate(scans, axis=1)).save(big)  # 96 x 384
    predictor = torchworks.load(run)
    predictor.bundle.state["max_pixels"] = 96 * 200  # the bundle's limit, as if trained with max_pixels=19200
    with pytest.raises(DataError, match="too large") as refused:
        predictor.predict([str(big)])
    assert "tile=" in str(refused.value)
    [record] = predictor.predict([str(big)], tile=64, overlap=0.25)
    assert (record["width"], record["height"]) == (384, 96)
    assert sum(record["pixels"].values()) == 384 * 96
    assert class_map_of(record, predictor.labels).shape == (96, 384)
    assert isinstance(predictor.task.predict_inputs([str(big)], {**predictor.bundle.state, "tile": 64})[0][0],
                      WholePicture)
