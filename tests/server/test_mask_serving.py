"""A segmentation bundle served: an image in, COCO RLE masks out (as the Python API gives them), and on
request the class map as a PNG whose pixels are the same classes; asking for what a model has not is a 4xx."""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from pycocotools import mask as coco_mask

import torchworks

BASE_URL = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def lesions_served(segmentation_run, tmp_path_factory):
    """The shared segmentation run, copied (serving writes nothing, but the fixture is shared)."""
    return shutil.copytree(segmentation_run, tmp_path_factory.mktemp("served-segmentation") / "run")


@pytest.fixture
def segmenter(make_app, lesions_served, image_run):
    app, _ = make_app([f"lesions={lesions_served}", f"shapes={image_run}"], backends={"lesions": "eager"})
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        yield client


def brightness_logits(images: torch.Tensor) -> torch.Tensor:
    """A stand-in network's logits: lesion where an image is brighter than half, background elsewhere (so
    that the expected mask is known whatever a few seconds of training taught the U-Net)."""
    grey = images.mean(dim=1)
    return torch.stack([0.5 - grey, grey - 0.5], dim=1) * 20


@pytest.fixture
def thresholding(segmenter):
    """``segmenter`` with the lesion model's network answering :func:`brightness_logits`."""
    segmenter.app.state.models["lesions"].runner.model.forward = brightness_logits
    return segmenter


@pytest.fixture(scope="module")
def scan(lesion_scans) -> tuple[str, bytes]:
    """The scan with the largest lesion."""
    def lesion_pixels(path):
        return int((np.asarray(Image.open(lesion_scans / "masks" / path.name)) > 0).sum())

    path = max(sorted((lesion_scans / "images").glob("*.png")), key=lesion_pixels)
    return str(path), path.read_bytes()


def class_map(record: dict, labels: list[str]) -> np.ndarray:
    """A record's RLE masks decoded with pycocotools into one map of class indices (-1: no mask says)."""
    classes = np.full((record["height"], record["width"]), -1, dtype=np.int64)
    for name, rle in record["masks"].items():
        decoded = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)
        assert not (classes[decoded] >= 0).any(), "the masks of two classes overlap"
        classes[decoded] = labels.index(name)
    return classes


def _assert_grammar(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "message", "hint", "request_id"} and body["error"] == error, body
    return body


def test_the_model_says_it_draws_masks_in_its_class_colours(segmenter, lesions_served):
    state = json.loads((lesions_served / "bundle.json").read_text())["state"]
    about = segmenter.get("/v1/models/lesions").json()
    assert about["draws"] == "mask" and about["extras"] == ["mask_png"]
    assert about["labels"] == state["labels"] == ["background", "lesion"]
    assert about["colours"] == state["colours"]
    shapes = segmenter.get("/v1/models/shapes").json()
    assert shapes["extras"] == [] and shapes["colours"] is None  # nothing changes for other tasks


def test_an_image_in_rle_masks_out_as_the_python_api_gives_them(segmenter, lesions_served, scan):
    path, data = scan
    response = segmenter.post("/v1/models/lesions/predict", files={"file": ("scan.png", data, "image/png")})
    assert response.status_code == 200, response.text
    [record] = response.json()["predictions"]
    assert "mask_png" not in record  # only when asked for: the default answer stays small
    assert (record["input"], record["width"], record["height"]) == ("scan.png", 96, 96)
    labels = ["background", "lesion"]
    classes = class_map(record, labels)
    assert (classes >= 0).all(), "every pixel has its class"
    assert record["pixels"] == {label: int((classes == i).sum()) for i, label in enumerate(labels) if (classes == i).any()}
    [expected] = torchworks.load(lesions_served).predict(path)
    assert record["masks"] == expected["masks"] and record["pixels"] == expected["pixels"]


@pytest.mark.parametrize("ask", ["multipart", "json"])
def test_the_mask_png_holds_the_same_classes_as_the_rle(thresholding, lesions_served, scan, ask):
    _, data = scan
    if ask == "multipart":
        response = thresholding.post("/v1/models/lesions/predict", files={"file": ("scan.png", data, "image/png")},
                                     data={"include": "mask_png"})
    else:
        response = thresholding.post("/v1/models/lesions/predict", json={
            "inputs": [{"name": "scan.png", "base64": base64.b64encode(data).decode()}], "include": ["mask_png"]})
    assert response.status_code == 200, response.text
    [record] = response.json()["predictions"]
    grey = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64).mean(axis=2) / 255
    expected = (grey > 0.5).astype(np.int64)
    assert 100 < expected.sum() < expected.size - 100, "both classes, with many runs"
    np.testing.assert_array_equal(class_map(record, ["background", "lesion"]), expected)
    picture = Image.open(io.BytesIO(base64.b64decode(record["mask_png"])))
    assert picture.format == "PNG" and picture.mode == "P" and picture.size == (96, 96)
    np.testing.assert_array_equal(np.asarray(picture), expected)  # pixel values are class indices
    colours = json.loads((lesions_served / "bundle.json").read_text())["state"]["colours"]
    palette = np.asarray(picture.getpalette()[:6]).reshape(2, 3)
    np.testing.assert_array_equal(palette, colours)  # shown in the class colours


@pytest.mark.parametrize("name, send, status, error, says", [
    ("an unknown extra in a form", lambda c, png: c.post("/v1/models/lesions/predict", data={"include": "mask_jpg"},
                                                         files={"file": ("s.png", png, "image/png")}),
     422, "unknown_include", "no extra field 'mask_jpg'"),
    ("an unknown extra in JSON", lambda c, png: c.post("/v1/models/lesions/predict", json={
        "inputs": [{"name": "s.png", "base64": base64.b64encode(png).decode()}], "include": ["mask_jpg"]}),
     422, "invalid_request", "'include.0'"),
    ("an extra of a model that has none", lambda c, png: c.post("/v1/models/shapes/predict", data={
        "include": "mask_png"}, files={"file": ("s.png", png, "image/png")}), 422, "unknown_include", "mask_png"),
    ("include in JSON to a model that has none", lambda c, png: c.post("/v1/models/shapes/predict", json={
        "inputs": [{"name": "s.png", "base64": base64.b64encode(png).decode()}], "include": ["mask_png"]}),
     422, "invalid_request", "'include'"),
])
def test_asking_for_an_extra_that_is_not_there_is_a_4xx(segmenter, scan, name, send, status, error, says):
    body = _assert_grammar(send(segmenter, scan[1]), status, error)
    assert says in body["message"], body


def test_openapi_offers_include_to_the_segmentation_model_only(segmenter):
    schema = segmenter.get("/openapi.json").json()
    body = schema["paths"]["/v1/models/lesions/predict"]["post"]["requestBody"]["content"]
    names = body["application/json"]["schema"]["properties"]["include"]["items"]
    assert names.get("enum", [names.get("const")]) == ["mask_png"]  # one name is a const
    assert "include" in body["multipart/form-data"]["schema"]["properties"]
    shapes = schema["paths"]["/v1/models/shapes/predict"]["post"]["requestBody"]["content"]
    assert "include" not in shapes["application/json"]["schema"]["properties"]
