"""Decoding for training: pixels as stored, RGB always, a broken file named in a DataError; collate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from torchworks.errors import DataError
from torchworks.image_files import decode_rgb
from torchworks.tasks.object_detection.annotations import DetectionImage
from torchworks.tasks.object_detection.dataset import DetectionDataset, collate
from torchworks.tasks.object_detection.transforms import eval_transform, train_transform


def item(path: Path, size=(40, 30), boxes=((4, 5, 20, 25),), labels=(1,)) -> DetectionImage:
    return DetectionImage(path, size[0], size[1], np.array(boxes, dtype=np.float32).reshape(-1, 4),
                          np.array(labels, dtype=np.int64), np.zeros(len(labels), dtype=bool), "annotations.json")


def test_an_item_has_the_image_and_the_full_target(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (40, 30), (255, 0, 0)).save(path)
    image, target = DetectionDataset([item(path)], None)[0]
    assert image.shape == (3, 30, 40) and image.dtype == torch.float32
    assert torch.allclose(image[:, 0, 0], torch.tensor([1.0, 0, 0]))
    assert torch.equal(target["boxes"], torch.tensor([[4.0, 5, 20, 25]])) and target["boxes"].dtype == torch.float32
    assert target["labels"].tolist() == [1] and target["iscrowd"].tolist() == [False]
    assert int(target["image_id"]) == 0 and target["orig_size"].tolist() == [30, 40]


def test_a_grey_png_and_an_rgba_png_become_three_channels(tmp_path):
    grey, rgba = tmp_path / "grey.png", tmp_path / "rgba.png"
    Image.new("L", (40, 30), 77).save(grey)
    Image.new("RGBA", (40, 30), (10, 20, 30, 0)).save(rgba)
    dataset = DetectionDataset([item(grey), item(rgba)], eval_transform(64))
    image, target = dataset[0]
    assert image.shape == (3, 64, 64)
    assert torch.allclose(image[:, 0, 0], torch.full((3,), 77 / 255), atol=1e-6)
    assert torch.allclose(dataset[1][0][:, 0, 0], torch.ones(3))  # transparent -> white
    assert decode_rgb(grey).mode == "RGB"
    assert torch.allclose(target["boxes"], torch.tensor([[6.4, 8.0, 32.0, 40.0]]))


def test_exif_orientation_is_not_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.new("RGB", (40, 30), (0, 0, 255)).save(path, exif=exif.tobytes())
    image, target = DetectionDataset([item(path)], None)[0]
    assert image.shape == (3, 30, 40)
    assert target["boxes"].tolist() == [[4.0, 5.0, 20.0, 25.0]]


def test_a_truncated_image_raises_a_data_error_naming_it(tmp_path):
    path = tmp_path / "broken.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError) as info:
        DetectionDataset([item(path)], eval_transform(32))[0]
    assert "broken.jpg" in info.value.what


def test_a_missing_file_and_text_as_image_are_data_errors(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path in (tmp_path / "gone.png", text):
        with pytest.raises(DataError) as info:
            DetectionDataset([item(path)], None)[0]
        assert path.name in info.value.what


def test_an_image_of_another_size_than_annotated_is_named(tmp_path):
    path = tmp_path / "b.png"
    Image.new("RGB", (30, 40)).save(path)
    with pytest.raises(DataError) as info:
        DetectionDataset([item(path, size=(40, 30))], None)[0]
    assert "b.png" in info.value.what and "EXIF" in info.value.hint


def test_an_image_over_max_pixels_is_refused(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 30)).save(path)
    with pytest.raises(DataError, match="big.png"):
        DetectionDataset([item(path)], None, max_pixels=1000)[0]


def test_generated_scenes_batch_through_a_data_loader(tmp_path):
    from torchworks.tasks.object_detection.coco_scenes import make_scenes
    from torchworks.tasks.object_detection.layout import read_detection_data

    data = read_detection_data(make_scenes(tmp_path / "scenes", n=12, size=128) / "annotations.json")
    torch.manual_seed(0)
    dataset = DetectionDataset(data.images, train_transform(96))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, collate_fn=collate)
    seen_negative = False
    for images, targets in loader:
        assert images.shape == (len(targets), 3, 96, 96) and images.dtype == torch.float32
        for target in targets:
            assert set(target) == {"boxes", "labels", "iscrowd", "image_id", "orig_size"}
            assert target["boxes"].shape == (len(target["labels"]), 4)
            assert type(target["boxes"]) is torch.Tensor
            seen_negative |= len(target["labels"]) == 0
    assert seen_negative or not any(len(image) == 0 for image in data.images)
    images, targets = collate([DetectionDataset(data.images, eval_transform(64))[i] for i in range(3)])
    assert images.shape == (3, 3, 64, 64) and [int(t["image_id"]) for t in targets] == [0, 1, 2]
    orig = data.images[0]
    expected = torch.as_tensor(orig.boxes) * 0.5
    assert torch.allclose(targets[0]["boxes"], expected, atol=1e-4)


def test_collate_refuses_images_of_different_sizes():
    target = {"boxes": torch.zeros(0, 4)}
    with pytest.raises(ValueError, match="different sizes"):
        collate([(torch.zeros(3, 8, 8), target), (torch.zeros(3, 8, 9), target)])
