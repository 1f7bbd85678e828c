"""Mask files beside the predictions: a palette PNG in the data's own mask values and an overlay per image,
written whole; CSV rows per class."""

from __future__ import annotations

import numpy as np
from PIL import Image

from torchworks.tasks.segmentation.mask_files import class_rows, masks_folder, stored_mask, write_mask_files
from torchworks.tasks.segmentation.predicting import run_length

STATE = {"labels": ["background", "lesion"], "values": [0, 255], "colours": [[0, 0, 0], [255, 64, 64]],
         "mask_format": "binary"}


def _record(path, classes):
    return {"input": str(path), "width": classes.shape[1], "height": classes.shape[0],
            "pixels": {"background": int((classes == 0).sum()), "lesion": int((classes == 1).sum())},
            "share": {"background": 0.75, "lesion": 0.25},
            "masks": {name: run_length(classes == c) for c, name in enumerate(STATE["labels"])}}


def test_a_mask_png_in_the_datas_values_and_an_overlay_per_image(tmp_path):
    image = tmp_path / "scan.png"
    Image.new("RGB", (4, 2), (10, 10, 10)).save(image)
    classes = np.array([[0, 0, 1, 1], [0, 0, 0, 0]])
    records = [_record(image, classes), {"input": "gone.png", "error": "unreadable"}]
    written = write_mask_files(records, tmp_path / "out.json", STATE)
    folder = masks_folder(tmp_path / "out.json")
    assert folder == tmp_path / "out_masks" and sorted(p.name for p in written) == ["scan.png", "scan_overlay.png"]
    with Image.open(folder / "scan.png") as mask:
        assert mask.mode == "P" and np.asarray(mask).tolist() == [[0, 0, 255, 255], [0, 0, 0, 0]]
        assert mask.getpalette()[255 * 3:255 * 3 + 3] == [255, 64, 64]
    with Image.open(folder / "scan_overlay.png") as shown:
        pixels = np.asarray(shown)
    assert pixels[0, 0].tolist() == [10, 10, 10] and pixels[0, 2, 0] > 100
    assert not list(tmp_path.glob(".out_masks*"))  # nothing temporary left


def test_colour_mask_data_gets_class_indices_and_no_file_inputs_get_no_folder(tmp_path):
    state = {**STATE, "mask_format": "colour"}
    assert np.asarray(stored_mask(np.array([[0, 1]]), state)).tolist() == [[0, 1]]
    assert write_mask_files([{"input": "<upload>", "width": 1, "height": 1}], tmp_path / "x.json", STATE) == []
    assert not (tmp_path / "x_masks").exists()


def test_csv_rows_one_per_class_present():
    rows = class_rows({"input": "a.png", "width": 2, "height": 2, "pixels": {"road": 3, "car": 1},
                       "share": {"road": 0.75, "car": 0.25}})
    assert [(r["class"], r["pixels"], r["share"]) for r in rows] == [("road", 3, 0.75), ("car", 1, 0.25)]
    assert class_rows({"input": "b.png", "width": 1, "height": 1})[0]["class"] == ""
