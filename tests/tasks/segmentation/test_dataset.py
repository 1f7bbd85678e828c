"""The dataset decodes images and codes masks into class indices; .plain(), .items and .names; a mask of the
wrong size is named; collate pads images with 0 and masks with the ignore index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchworks.errors import DataError
from torchworks.tasks.segmentation.classes import ClassMap, MaskCoder
from torchworks.tasks.segmentation.dataset import SegmentationDataset, collate, collate_images
from torchworks.tasks.segmentation.reading import BadFiles, read_folders
from torchworks.tasks.segmentation.transforms import train_transform


def coder(values=(0, 1, 2), colours=None, ignore_index=255):
    names = [f"c{v}" for v in values]
    classes = ClassMap(names, list(values), list(colours or [None] * len(values)), "classes.yaml")
    return MaskCoder(classes, colour=colours is not None, raw_ignore=255, ignore_index=ignore_index)


def test_an_item_is_a_float_image_and_a_mask_of_class_indices(tmp_path, make_seg_folder, draw_mask):
    root = make_seg_folder(tmp_path / "data", count=2, values=(0, 10, 20))
    items, _ = read_folders(root, BadFiles())
    dataset = SegmentationDataset(items, coder((0, 10, 20)))
    image, mask = dataset[1]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    stored = draw_mask(1, 16, (0, 10, 20))
    assert mask.dtype == torch.int64 and mask.tolist() == (stored // 10).tolist()  # values 0/10/20 -> 0/1/2
    assert torch.allclose(image[0] * 255, torch.from_numpy(stored.astype(np.int64) * 50 % 256).float())
    assert dataset.names == ["00.png", "01.png"] and dataset.items == items and len(dataset) == 2
    assert dataset.ignore_index == 255


def test_plain_gives_the_same_items_without_augmentation(tmp_path, make_seg_folder):
    items, _ = read_folders(make_seg_folder(tmp_path / "data", count=1), BadFiles())
    augmented = SegmentationDataset(items, coder(), transform=train_transform(8, 255))
    assert augmented[0][0].shape == (3, 8, 8)
    plain = augmented.plain()
    assert plain.items == augmented.items and plain.transform is None and plain[0][0].shape == (3, 16, 16)


def test_colour_masks_are_coded_into_class_indices(tmp_path, save_picture):
    save_picture(tmp_path / "images" / "a.png", np.zeros((4, 4, 3), np.uint8))
    colours = np.zeros((4, 4, 3), np.uint8)
    colours[:2] = (128, 64, 128)
    save_picture(tmp_path / "masks" / "a.png", colours)
    items, _ = read_folders(tmp_path, BadFiles())
    dataset = SegmentationDataset(items, coder((0, 1), colours=[(0, 0, 0), (128, 64, 128)]))
    assert dataset[0][1].tolist() == [[1] * 4] * 2 + [[0] * 4] * 2


def test_a_mask_of_another_size_than_its_image_names_both(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=1)
    items, _ = read_folders(root, BadFiles())
    save_picture(root / "masks" / "00.png", np.zeros((16, 10), np.uint8))
    with pytest.raises(DataError) as error:
        SegmentationDataset(items, coder())[0]
    message = str(error.value)
    assert "masks/00.png" in message and "'00.png'" in message and "16x16" in message and "10x16" in message


def test_a_mask_whose_values_changed_since_reading_is_named(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=1)
    items, _ = read_folders(root, BadFiles())
    save_picture(root / "masks" / "00.png", np.full((16, 16), 7, np.uint8))
    with pytest.raises(DataError, match="masks/00.png.*values 7 not declared"):
        SegmentationDataset(items, coder())[0]


def test_collate_pads_images_with_zero_and_masks_with_the_ignore_index():
    batch = [(torch.ones(3, 2, 3), torch.zeros(2, 3, dtype=torch.int64)),
             (torch.ones(3, 4, 2), torch.ones(4, 2, dtype=torch.int64))]
    images, masks = collate(batch, ignore_index=99)
    assert images.shape == (2, 3, 4, 3) and masks.shape == (2, 4, 3) and masks.dtype == torch.int64
    assert images[0, :, 2:].eq(0).all() and images[0, :, :2].eq(1).all() and images[1, :, :, 2].eq(0).all()
    assert masks[0, 2:].eq(99).all() and masks[0, :2].eq(0).all() and masks[1, :, 2].eq(99).all()
    assert collate(batch)[1][0, 3, 0] == 255  # the default ignore index


def test_collate_images_pads_unlabelled_items_the_same_way():
    stacked = collate_images([torch.ones(3, 5, 2), torch.ones(3, 1, 4)])
    assert stacked.shape == (2, 3, 5, 4) and stacked[0, :, :, 2:].eq(0).all() and stacked[1, :, 1:].eq(0).all()
    assert stacked.sum() == 3 * (10 + 4)


def test_the_dataset_works_in_data_loader_workers(tmp_path, make_seg_folder):
    items, _ = read_folders(make_seg_folder(tmp_path / "data", count=4), BadFiles())
    dataset = SegmentationDataset(items, coder(), transform=train_transform(16, 255))
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=1, collate_fn=collate)
    shapes = [(tuple(images.shape), tuple(masks.shape)) for images, masks in loader]
    assert shapes == [((2, 3, 16, 16), (2, 16, 16))] * 2
