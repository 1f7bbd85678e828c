"""prepare_segmentation_data end to end on tiny generated data: every mask kind and layout, the state and the
splits it gives, the summary, the refusals (each naming its file) and the warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from torchworks.errors import ConfigError, DataError
from torchworks.tasks.segmentation.config import SegmentationConfig
from torchworks.tasks.segmentation.data import prepare_segmentation_data, target_ignore
from torchworks.tasks.segmentation.state import SegmentationState

ROAD, CAR = (128, 64, 128), (0, 0, 142)


def config(data, **settings) -> SegmentationConfig:
    return SegmentationConfig(data=str(data), image_size=32, **settings)


def stored(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture)


@pytest.fixture
def said(monkeypatch):
    messages: list[str] = []
    monkeypatch.setattr("torchworks.tasks.segmentation.data.say", messages.append)
    return messages


def test_a_folder_of_index_masks_gives_the_state_splits_and_summary(tmp_path, make_seg_folder, said):
    root = make_seg_folder(tmp_path / "data", count=10)
    prepared = prepare_segmentation_data(config(root, model="unet", depth=2))
    state = prepared.state
    SegmentationState(**state)  # exactly the declared fields, of the declared types
    assert state["labels"] == ["background", "class_1", "class_2"] and state["values"] == [0, 1, 2]
    assert state["mask_format"] == "index" and state["ignore_index"] == 255 and state["colours"][0] == [0, 0, 0]
    assert state["architecture"] == {"base_channels": 16, "depth": 2, "input_stride": 1} and state["image_size"] == 32
    assert state["class_weights"] is None and state["loss"] == "ce_dice"
    assert (len(prepared.train), len(prepared.val), len(prepared.test)) == (8, 1, 1)
    expected = np.bincount(np.concatenate([stored(item.mask).ravel() for item in prepared.train.items]), minlength=3)
    assert list(state["train_pixels"].values()) == expected.tolist()
    assert prepared.summary == {
        "source": str(root), "format": "image and mask folders", "mask format": "index",
        "classes": "background, class_1, class_2", "class map": "inferred from the masks", "train images": 8,
        "val images": 1, "test images": 1, "masks with ignored pixels": 0, "ignored pixels": 0, "skipped files": 0}
    image, mask = prepared.train[0]
    assert image.shape == (3, 32, 32) and mask.shape == (32, 32)  # 16 px padded to the crop, padding ignored
    assert set(mask.unique().tolist()) <= {0, 1, 2, 255} and (mask == 255).sum() >= 32 * 32 - 20 * 20  # scale <= 1.25
    assert prepared.val[0][1].shape == (16, 16)  # whole images
    assert len(prepared.fingerprint) == 16 and said == []


def test_the_split_and_fingerprint_repeat_and_the_fingerprint_follows_the_masks(tmp_path, make_seg_folder,
                                                                                 save_picture):
    root = make_seg_folder(tmp_path / "data", count=10)
    first, second = (prepare_segmentation_data(config(root)) for _ in range(2))
    assert first.fingerprint == second.fingerprint and first.test.names == second.test.names
    save_picture(root / "masks" / "00.png", np.zeros((16, 16), np.uint8) + np.eye(16, dtype=np.uint8))
    assert prepare_segmentation_data(config(root)).fingerprint != first.fingerprint


def test_binary_masks_become_background_and_foreground(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=10, values=(0, 255))
    prepared = prepare_segmentation_data(config(root))
    assert prepared.state["labels"] == ["background", "foreground"] and prepared.state["values"] == [0, 255]
    assert prepared.state["mask_format"] == "binary" and set(prepared.val[0][1].unique().tolist()) == {0, 1}


def test_a_declared_class_at_255_wins_over_the_ignore_index(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=10, values=(0, 255))
    (root / "classes.yaml").write_text("background: {value: 0, colour: [0, 0, 0]}\nlesion: {value: 255, "
                                       "colour: [255, 64, 64]}\n")
    prepared = prepare_segmentation_data(config(root))
    state = prepared.state
    assert state["labels"] == ["background", "lesion"] and state["colours"] == [[0, 0, 0], [255, 64, 64]]
    assert state["train_pixels"]["lesion"] == 25 * 8 and prepared.summary["ignored pixels"] == 0
    assert prepared.summary["class map"] == str(root / "classes.yaml")


def test_palette_masks_keep_their_indices_colours_and_ignore_255_borders(tmp_path, save_picture):
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 252 + [224, 224, 192]

    def bordered(index):
        mask = np.zeros((16, 16), np.uint8)
        mask[4:12, 4:12] = 1 + index % 2
        mask[3, 3:13] = 255  # a border line, as in Pascal VOC
        return Image.fromarray(mask, mode="P")

    root = tmp_path / "data"
    for index in range(10):
        picture = bordered(index)
        picture.putpalette(palette)
        (root / "masks").mkdir(parents=True, exist_ok=True)
        picture.save(root / "masks" / f"{index:02d}.png")
        save_picture(root / "images" / f"{index:02d}.png", np.full((16, 16, 3), index * 20, np.uint8))
    prepared = prepare_segmentation_data(config(root))
    state = prepared.state
    assert state["labels"] == ["background", "class_1", "class_2"] and state["mask_format"] == "index"
    assert state["colours"] == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]  # the PNG's own palette
    assert prepared.summary["masks with ignored pixels"] == 10 and prepared.summary["ignored pixels"] == 100
    assert prepared.val[0][1][3, 3:13].eq(255).all()
    assert sum(state["train_pixels"].values()) == len(prepared.train) * (256 - 10)


def write_colour_folder(root, save_picture, count=10, strange=None):
    for index in range(count):
        mask = np.zeros((16, 16, 3), np.uint8)
        mask[: 4 + index % 5] = ROAD
        mask[10:, 10:] = CAR
        if strange is not None and index == 3:
            mask[0, 0] = strange
        save_picture(root / "masks" / f"{index:02d}.png", mask)
        save_picture(root / "images" / f"{index:02d}.jpg", mask[..., ::-1].copy())
    return root


def test_rgb_colour_masks_are_read_through_the_colours_of_classes_yaml(tmp_path, save_picture):
    root = write_colour_folder(tmp_path / "data", save_picture)
    (root / "classes.yaml").write_text("background: {value: 0, colour: [0, 0, 0]}\nroad: {value: 1, colour: "
                                       "'#804080'}\ncar: {value: 2, colour: [0, 0, 142]}\n")
    prepared = prepare_segmentation_data(config(root))
    state = prepared.state
    assert state["mask_format"] == "colour" and state["values"] == [0, 1, 2]
    assert state["colours"] == [[0, 0, 0], list(ROAD), list(CAR)]
    mask = prepared.val[0][1]
    assert mask[15, 15] == 2 and mask[0, 0] == 1 and mask[9, 0] == 0


def test_an_unknown_colour_is_named_with_its_file_and_rgb(tmp_path, save_picture):
    root = write_colour_folder(tmp_path / "data", save_picture, strange=(7, 8, 9))
    (root / "classes.yaml").write_text("background: {value: 0, colour: [0, 0, 0]}\nroad: {value: 1, colour: "
                                       "[128, 64, 128]}\ncar: {value: 2, colour: [0, 0, 142]}\n")
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(root))
    assert "masks/03.png" in str(error.value) and "colours (7, 8, 9) not declared" in str(error.value)


def test_colour_masks_without_a_class_map_ask_for_classes_yaml_with_an_example(tmp_path, save_picture):
    root = write_colour_folder(tmp_path / "data", save_picture)
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(root))
    message = str(error.value)
    assert "masks/00.png" in message and "classes.yaml" in message and "colour: [0, 0, 0]" in message


def test_a_csv_with_a_split_column_keeps_its_splits(tmp_path, make_seg_folder):
    make_seg_folder(tmp_path, count=8)
    splits = ["train"] * 4 + ["val"] * 2 + ["test"] * 2
    rows = "".join(f"images/{i:02d}.png,masks/{i:02d}.png,{split}\n" for i, split in enumerate(splits))
    (tmp_path / "pairs.csv").write_text("image,mask,split\n" + rows)
    prepared = prepare_segmentation_data(config(tmp_path / "pairs.csv"))
    assert prepared.val.names == ["images/04.png", "images/05.png"]
    assert prepared.test.names == ["images/06.png", "images/07.png"] and len(prepared.train) == 4
    assert prepared.summary["format"] == "CSV of image and mask paths"


def test_a_pre_split_folder_is_read_as_given(tmp_path, make_seg_folder):
    root = tmp_path / "data"
    for split, count in (("train", 5), ("val", 2), ("test", 3)):
        make_seg_folder(root, count=count, split=split)
    prepared = prepare_segmentation_data(config(root))
    assert (len(prepared.train), len(prepared.val), len(prepared.test)) == (5, 2, 3)
    assert prepared.test.names == ["test/00.png", "test/01.png", "test/02.png"]


def test_a_coco_file_is_rasterised_with_crowds_ignored(tmp_path, save_picture):
    images, annotations = [], []
    for index in range(10):
        save_picture(tmp_path / "images" / f"{index}.png", np.zeros((8, 8, 3), np.uint8))
        images.append({"id": index, "file_name": f"{index}.png", "width": 8, "height": 8})
        annotations.append({"id": 100 + index, "image_id": index, "category_id": 5,
                            "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]]})
        annotations.append({"id": 200 + index, "image_id": index, "category_id": 9, "iscrowd": 1,
                            "segmentation": {"size": [8, 8], "counts": [0, 8, 56]}})  # column 0
    (tmp_path / "instances.json").write_text(json.dumps({"images": images, "annotations": annotations, "categories": [
        {"id": 9, "name": "crowd of people"}, {"id": 5, "name": "cat"}]}))
    prepared = prepare_segmentation_data(config(tmp_path / "instances.json"))
    state = prepared.state
    assert state["labels"] == ["background", "cat", "crowd of people"] and state["values"] == [0, 1, 2]
    assert state["train_pixels"] == {"background": 8 * 31, "cat": 8 * 25, "crowd of people": 0}
    image, mask = prepared.val[0]
    assert mask[:, 0].eq(255).all() and mask[1:6, 1:6].eq(1).all() and image.shape == (3, 8, 8)
    assert prepared.summary["format"] == "COCO JSON" and prepared.summary["masks with ignored pixels"] == 10


def test_a_mask_of_another_size_fails_naming_both_files_and_sizes(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=10)
    save_picture(root / "masks" / "04.png", np.zeros((20, 16), np.uint8))
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(root))
    assert "masks/04.png" in str(error.value) and "16x16" in str(error.value) and "16x20" in str(error.value)


def test_values_not_in_classes_yaml_are_listed_with_the_file(tmp_path, make_seg_folder, save_picture):
    root = make_seg_folder(tmp_path / "data", count=10)
    (root / "classes.yaml").write_text("background: 0\nroad: 1\ncar: 2\n")
    save_picture(root / "masks" / "02.png", np.full((16, 16), 7, np.uint8))
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(root))
    assert "masks/02.png" in str(error.value) and "values 7 not declared; declared 0, 1, 2" in str(error.value)


def test_missing_masks_are_skipped_counted_and_named_or_fail(tmp_path, make_seg_folder, said):
    root = make_seg_folder(tmp_path / "data", count=12)
    (root / "masks" / "03.png").unlink()
    prepared = prepare_segmentation_data(config(root))
    assert prepared.summary["skipped files"] == 1 and prepared.summary["skipped: 03.png"] == "no mask masks/03.png"
    assert len(prepared.train) + len(prepared.val) + len(prepared.test) == 11
    assert any("skipped 1 image" in message and "03.png" in message for message in said)
    with pytest.raises(DataError, match="03.png"):
        prepare_segmentation_data(config(root, bad_files="fail"))


def test_no_usable_images_and_too_few_to_split_are_data_errors(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=2)
    for mask in (root / "masks").iterdir():
        mask.write_bytes(b"broken")
    with pytest.raises(DataError, match="no usable images"):
        prepare_segmentation_data(config(root))
    small = make_seg_folder(tmp_path / "small", count=2)
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(small))
    assert "too few images" in str(error.value) and "Hint" in str(error.value)


def test_fractions_leaving_nothing_to_train_on_are_a_config_error(tmp_path, make_seg_folder):
    with pytest.raises(ConfigError):
        prepare_segmentation_data(config(make_seg_folder(tmp_path / "data", count=10), val_fraction=0.5,
                                         test_fraction=0.5))


def test_classes_never_in_training_and_single_class_masks_are_warned_about(tmp_path, make_seg_folder, said):
    root = make_seg_folder(tmp_path / "data", count=10, values=(0, 1))
    (root / "classes.yaml").write_text("background: 0\nroad: 1\ntruck: 3\n")
    prepare_segmentation_data(config(root))
    assert any("truck never occurs" in message for message in said)
    flat = make_seg_folder(tmp_path / "flat", count=10, mask_for=lambda i: np.full((16, 16), i % 2, np.uint8))
    said.clear()
    prepare_segmentation_data(config(flat))
    assert any("every mask holds a single class" in message for message in said)


def test_an_ignore_index_of_the_users_choice_is_ignored_and_coded_apart_from_classes(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=10, values=(0, 1, 2, 9))
    prepared = prepare_segmentation_data(config(root, ignore_index=2))
    state = prepared.state
    assert state["labels"] == ["background", "class_1", "class_9"] and state["values"] == [0, 1, 9]
    assert state["ignore_index"] == target_ignore(3) == 255 and prepared.summary["masks with ignored pixels"] > 0
    assert set(prepared.val[0][1].unique().tolist()) <= {0, 1, 2, 255}


def test_a_class_map_named_by_classes_overrides_the_folders_and_auto_weights_are_kept(tmp_path, make_seg_folder):
    root = make_seg_folder(tmp_path / "data", count=10)
    (root / "classes.yaml").write_text("- background\n- a\n- b\n")
    other = tmp_path / "mine.yaml"
    other.write_text("background: 0\nroad: 1\ncar: 2\n")
    prepared = prepare_segmentation_data(config(root, classes=str(other), class_weights="auto", augment=False))
    assert prepared.state["labels"] == ["background", "road", "car"]
    assert len(prepared.state["class_weights"]) == 3 and prepared.state["class_weights"][0] < 1
    assert prepared.train[0][0].shape == (3, 32, 32)  # without augmentation training still crops
    with pytest.raises(ConfigError, match="nothing.yaml"):
        prepare_segmentation_data(config(root, classes=str(tmp_path / "nothing.yaml")))


def test_a_trained_models_state_is_kept_and_data_it_does_not_know_is_refused(tmp_path, make_seg_folder,
                                                                            save_picture):
    state = prepare_segmentation_data(config(make_seg_folder(tmp_path / "train", count=10, values=(0, 255)))).state
    new = make_seg_folder(tmp_path / "new", count=10, values=(0, 255))
    prepared = prepare_segmentation_data(config(new), state=state)
    assert prepared.state is state and set(prepared.val[0][1].unique().tolist()) == {0, 1}
    (new / "classes.yaml").write_text("background: 0\nforeground: 255\nother: 7\n")
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(new), state=state)
    assert "classes.yaml" in str(error.value) and "'other'" in str(error.value)
    (new / "classes.yaml").unlink()
    save_picture(new / "masks" / "05.png", np.full((16, 16), 7, np.uint8))
    with pytest.raises(DataError, match="masks/05.png.*values 7 not declared"):
        prepare_segmentation_data(config(new), state=state)


def test_an_unknown_layout_names_what_was_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError) as error:
        prepare_segmentation_data(config(tmp_path / "notes.txt"))
    assert "images/ and masks/" in str(error.value) and ".txt" in str(error.value)


def test_the_training_set_feeds_a_loader_with_the_default_collate_of_the_task(tmp_path, make_seg_folder):
    from torchworks.tasks.segmentation.dataset import collate

    prepared = prepare_segmentation_data(config(make_seg_folder(tmp_path / "data", count=10)))
    images, masks = next(iter(torch.utils.data.DataLoader(prepared.val, batch_size=1, collate_fn=collate)))
    assert images.shape == (1, 3, 16, 16) and masks.dtype == torch.int64
