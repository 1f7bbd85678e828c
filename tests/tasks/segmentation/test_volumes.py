"""Volumes predicted slice by slice: NIfTI (uint8, and HU-like values stored as int16 with a scale factor and
non-unit spacing) and .npy stacks give the same classes as their slices saved as 8-bit PNGs; the mask volume
beside the predictions has the input's shape, affine and a label header; bad volumes are named (exit 2 alone,
an error row among others); nothing is replaced without --force.

The session's U-Net is small and briefly trained: unsure, it may call every pixel background, and an answer
that is all background agrees with anything. Its lesion logit is therefore raised (:class:`_Bolder`) until
about a tenth of the pixels are lesion: then a slice read transposed, scaled wrongly or put back in the wrong
place changes the answer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

import torchworks
from torchworks.errors import DataError
from torchworks.tasks.segmentation.mask_files import class_rows
from torchworks.tasks.segmentation.predicting import class_map_of
from torchworks.tasks.segmentation.volume_intensity import sampled_slices, slice_bytes
from torchworks.tasks.segmentation.volume_masks import class_volume_of
from torchworks.tasks.segmentation.volume_reading import volume_stem, volume_suffix

SLICES = 6
AFFINE = np.array([[-0.7, 0, 0, 90.0], [0, 0.8, 0, -120.0], [0, 0, 2.5, -40.0], [0, 0, 0, 1]])  # L, A, S
LESION_SHARE = 0.1


class _Bolder(torch.nn.Module):
    """A segmentation network with the logit of class 1 raised by ``shift``."""

    def __init__(self, network: torch.nn.Module, shift: float):
        super().__init__()
        self.network, self.shift = network, shift

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.network(images).clone()
        logits[:, 1] += self.shift
        return logits


@pytest.fixture(scope="module")
def scans(lesion_scans) -> np.ndarray:
    """``[6, 96, 96]`` uint8: six greyscale lesion scans as a stack."""
    paths = sorted((lesion_scans / "images").glob("*.png"))[:SLICES]
    return np.stack([np.asarray(Image.open(path).convert("L")) for path in paths])


@pytest.fixture(scope="module")
def shift(segmentation_run, scans) -> float:
    """What raises the U-Net's lesion logit over its background logit on :data:`LESION_SHARE` of the scans' pixels."""
    network = torchworks.load(segmentation_run).model.eval()
    with torch.inference_mode():
        logits = network(torch.from_numpy(scans).float().div(255)[:, None].repeat(1, 3, 1, 1))
    return float(np.quantile((logits[:, 0] - logits[:, 1]).numpy(), LESION_SHARE))


@pytest.fixture(scope="module")
def predictor(segmentation_run, shift):
    predictor = torchworks.load(segmentation_run)
    predictor.model = _Bolder(predictor.model, shift)
    return predictor


@pytest.fixture
def bold_cli(cli, monkeypatch, shift):
    """The CLI, its model loaded :class:`_Bolder`."""
    import torchworks.engine.predict as predicting

    load = predicting.load_model

    def load_bolder(run):
        bundle, task, config, model = load(run)
        return bundle, task, config, _Bolder(model, shift)

    monkeypatch.setattr(predicting, "load_model", load_bolder)
    return cli


def _save_nifti(path: Path, stack: np.ndarray, dtype=None, affine=AFFINE) -> Path:
    """``stack`` ``[slices, H, W]`` as a NIfTI volume ``H x W x slices`` (slice k is ``data[:, :, k]``)."""
    image = nib.Nifti1Image(np.moveaxis(stack, 0, -1), affine)
    if dtype is not None:
        image.set_data_dtype(dtype)  # floats into int16: nibabel stores a scale factor
    image.header.set_xyzt_units("mm")
    nib.save(image, path)
    return path


def _png_classes(predictor, stack: np.ndarray, folder: Path) -> np.ndarray:
    """The classes predicted for each slice of a uint8 stack saved as a greyscale PNG: ``[slices, H, W]``."""
    folder.mkdir()
    paths = []
    for index, pixels in enumerate(stack):
        paths.append(folder / f"{index}.png")
        Image.fromarray(pixels).save(paths[-1])
    records = predictor.predict([str(p) for p in paths])
    return np.stack([class_map_of(record, predictor.labels) for record in records])


def _values(predictor) -> np.ndarray:
    return np.asarray(predictor.bundle.state["values"], dtype=np.uint8)  # 0/255: the lesion data's mask values


def test_a_uint8_nifti_volume_gives_its_slices_png_predictions_and_a_mask_volume_with_its_geometry(
        predictor, scans, tmp_path):
    volume = _save_nifti(tmp_path / "scan.nii.gz", scans)
    [record] = predictor.predict([str(volume)])
    expected = _png_classes(predictor, scans, tmp_path / "pngs")
    assert (expected == 1).sum() > 100, "the model finds lesions: agreement is not on background alone"

    assert (record["format"], record["shape"], record["slices"], record["height"], record["width"]) == \
        ("nifti", [96, 96, SLICES], SLICES, 96, 96)
    assert record["spacing"] == [0.7, 0.8, 2.5] and record["orientation"] == "LAS"
    assert record["intensity"] == {"low": 0.0, "high": 255.0}, "uint8 voxels keep their value, as a PNG's"
    classes = class_volume_of(record, predictor.labels)
    assert np.array_equal(classes, expected)
    lesion = predictor.labels[1]
    assert record["pixels"][lesion] == int((expected == 1).sum()) and sum(record["pixels"].values()) == classes.size
    assert record["slice_pixels"][lesion] == [int((s == 1).sum()) for s in expected]
    assert record["share"][lesion] == pytest.approx((expected == 1).mean(), abs=1e-6)
    assert 0.5 < record["mean_confidence"] <= 1

    (tmp_path / "out").mkdir()
    written = predictor.save([record], tmp_path / "out" / "p.json")
    mask_path = tmp_path / "out" / "p_masks" / "scan_mask.nii.gz"
    assert written[1:] == [mask_path]
    mask, source = nib.load(mask_path), nib.load(volume)
    assert mask.shape == source.shape and np.allclose(mask.affine, source.affine)
    assert mask.get_data_dtype() == np.uint8 and mask.header.get_intent()[0] == "label"
    assert mask.header.get_zooms() == source.header.get_zooms() and mask.header.get_xyzt_units()[0] == "mm"
    data = np.asarray(mask.dataobj)
    assert data.dtype == np.uint8 and np.array_equal(np.moveaxis(data, -1, 0), _values(predictor)[expected])
    assert b"255=" + lesion.encode() in mask.header["descrip"].tobytes()


def test_hu_like_values_with_a_scale_factor_are_scaled_by_robust_bounds(predictor, scans, tmp_path):
    hu = scans.astype(np.float64) * 4.0 - 1000.0
    hu[0, 0, 0] = 3000.0  # one bright outlier (metal) must not squash the rest
    volume = _save_nifti(tmp_path / "ct.nii.gz", hu, dtype=np.int16)
    stored = nib.load(volume)
    assert stored.dataobj.slope != 1.0, "the file holds int16 with a scale factor"
    voxels = np.moveaxis(np.asarray(stored.dataobj, dtype=np.float64), -1, 0)
    low, high = np.percentile(voxels, [0.5, 99.5])  # 6 slices of 96 x 96: every voxel is in the sample
    [record] = predictor.predict([str(volume)])
    assert record["intensity"]["low"] == pytest.approx(low) and record["intensity"]["high"] == pytest.approx(high)
    assert high < 1000, "the outlier is clipped, not used as the top"
    eight_bit = np.rint(np.clip((voxels - low) / (high - low), 0, 1) * 255).astype(np.uint8)
    expected = _png_classes(predictor, eight_bit, tmp_path / "pngs")
    assert (expected == 1).sum() > 100
    assert np.array_equal(class_volume_of(record, predictor.labels), expected)

    predictor.save([record], tmp_path / "p.json")
    mask = nib.load(tmp_path / "p_masks" / "ct_mask.nii.gz")
    assert mask.get_data_dtype() == np.uint8 and mask.header.get_slope_inter() == (None, None), \
        "the input's scale factor is not the mask's"
    assert (mask.header["cal_min"], mask.header["cal_max"]) == (0, 255)
    assert np.array_equal(np.moveaxis(np.asarray(mask.dataobj), -1, 0), _values(predictor)[expected])


def test_the_cli_writes_the_mask_volume_and_replaces_nothing_without_force(segmentation_run, predictor, scans,
                                                                           tmp_path, bold_cli):
    run, cli = segmentation_run, bold_cli
    volume = _save_nifti(tmp_path / "scan.nii", scans)
    out = tmp_path / "out"
    out.mkdir()
    code, stdout, err = cli("predict", str(run), str(volume), "--output", str(out / "p.json"))
    assert code == 0, err
    mask_path = out / "p_masks" / "scan_mask.nii.gz"
    assert f"predictions: {out / 'p.json'} (1 records)" in stdout and f"also written: {mask_path}" in stdout
    [record] = json.loads((out / "p.json").read_text())
    assert np.array_equal(class_volume_of(record, predictor.labels), _png_classes(predictor, scans, tmp_path / "pngs"))
    mask = nib.load(mask_path)
    assert mask.shape == (96, 96, SLICES) and np.allclose(mask.affine, AFFINE)
    assert np.array_equal(np.moveaxis(np.asarray(mask.dataobj), -1, 0),
                          _values(predictor)[class_volume_of(record, predictor.labels)])

    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    code, stdout, err = cli("predict", str(run), str(volume), "--output", str(out / "p.json"))
    assert code == 2 and "already exists" in err and "--force" in err
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    code, _, err = cli("predict", str(run), str(volume), "--output", str(out / "p.json"), "--force")
    assert code == 0, err

    code, _, err = cli("predict", str(run), str(volume), "--output", str(out / "q.csv"))
    assert code == 0, err
    with (out / "q.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["class"], row["slices"], row["pixels"]) for row in rows] == \
        [(name, str(SLICES), str(count)) for name, count in record["pixels"].items()]


def test_npy_stacks_grey_and_colour_round_trip_and_a_folder_mixes_volumes_and_images(predictor, scans, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    np.save(folder / "b_stack.npy", scans)
    np.save(folder / "c_colour.npy", np.repeat(scans[..., None], 3, axis=3))
    Image.fromarray(scans[2]).save(folder / "a_picture.png")
    (folder / "notes.tar.gz").write_bytes(b"not a volume")  # a folder's other .gz files are not inputs
    records = predictor.predict([str(folder)])
    assert [Path(r["input"]).name for r in records] == ["a_picture.png", "b_stack.npy", "c_colour.npy"]
    picture, grey, colour = records
    expected = _png_classes(predictor, scans, tmp_path / "pngs")
    assert (grey["format"], grey["shape"], grey["dtype"]) == ("npy", [SLICES, 96, 96], "uint8")
    assert "spacing" not in grey and colour["shape"] == [SLICES, 96, 96, 3]
    assert np.array_equal(class_volume_of(grey, predictor.labels), expected)
    assert np.array_equal(class_volume_of(colour, predictor.labels), expected)
    assert np.array_equal(class_map_of(picture, predictor.labels), expected[2])

    written = predictor.save(records, tmp_path / "p.json")
    masks = tmp_path / "p_masks"
    assert {masks / "b_stack_mask.npy", masks / "c_colour_mask.npy", masks / "a_picture.png"} <= set(written)
    for name in ("b_stack_mask.npy", "c_colour_mask.npy"):
        stored = np.load(masks / name)
        assert stored.shape == (SLICES, 96, 96) and stored.dtype == np.uint8
        assert np.array_equal(stored, _values(predictor)[expected])
    assert not list(tmp_path.glob(".p_masks*")), "nothing temporary left"


def test_tile_predicts_a_volumes_slices_in_windows(predictor, scans, tmp_path):
    np.save(tmp_path / "stack.npy", scans)
    [whole] = predictor.predict([str(tmp_path / "stack.npy")])
    [tiled] = predictor.predict([str(tmp_path / "stack.npy")], tile=64, overlap=0.5)
    assert tiled["slices"] == SLICES and sum(tiled["pixels"].values()) == scans.size
    agreement = (class_volume_of(tiled, predictor.labels) == class_volume_of(whole, predictor.labels)).mean()
    assert agreement > 0.97


def _bad_volumes(folder: Path, scans: np.ndarray) -> dict[str, str]:
    """Bad volume files -> a phrase their error must hold."""
    folder.mkdir()
    (folder / "junk.nii.gz").write_bytes(b"\x1f\x8b this is no gzip stream")
    whole = _save_nifti(folder / "whole.nii.gz", np.random.default_rng(0).normal(size=(8, 96, 96))).read_bytes()
    (folder / "truncated.nii.gz").write_bytes(whole[: len(whole) * 2 // 3])
    (folder / "whole.nii.gz").unlink()
    np.save(folder / "flat.npy", scans[0])
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4, 3), np.float32), np.eye(4)), folder / "series.nii.gz")
    np.save(folder / "objects.npy", np.array([[["a"]]], dtype=object), allow_pickle=True)
    holes = scans.astype(np.float32)
    holes[3, 10:20, 10:20] = np.nan
    np.save(folder / "holes.npy", holes)
    (folder / "archive.tar.gz").write_bytes(b"\x1f\x8b")
    return {"junk.nii.gz": "cannot read volume", "truncated.nii.gz": "cannot read slice",
            "flat.npy": "shape 96 x 96", "series.nii.gz": "3 volumes", "objects.npy": "object values",
            "holes.npy": "not numbers", "archive.tar.gz": "cannot predict from"}


def test_bad_volumes_are_named_exit_2_alone_and_error_rows_among_good_ones(segmentation_run, scans, tmp_path, cli):
    bad = _bad_volumes(tmp_path / "bad", scans)
    for name, phrase in bad.items():
        code, stdout, err = cli("predict", str(segmentation_run), str(tmp_path / "bad" / name))
        assert code == 2 and stdout == "", name
        assert name in err and phrase in " ".join(err.split()), err

    good = _save_nifti(tmp_path / "good.nii.gz", scans)
    code, stdout, err = cli("predict", str(segmentation_run), str(good), *(str(tmp_path / "bad" / n) for n in bad),
                            "--output", str(tmp_path / "p.json"))
    assert code == 0, err
    assert f"{len(bad)} of {len(bad) + 1} inputs could not be read" in " ".join(err.split())
    records = json.loads((tmp_path / "p.json").read_text())
    assert records[0]["input"] == str(good) and "error" not in records[0]
    assert [Path(r["input"]).name for r in records[1:]] == list(bad) and all("error" in r for r in records[1:])
    assert sorted(p.name for p in (tmp_path / "p_masks").iterdir()) == ["good_mask.nii.gz"]


def test_a_slice_that_fails_mid_volume_gives_one_error_row_and_no_partial_record(predictor, scans, tmp_path):
    stack = np.tile(scans.astype(np.float32), (7, 1, 1))  # 42 slices: the bounds sample 32 of them
    unsampled = next(k for k in range(stack.shape[0]) if k not in sampled_slices(stack.shape[0]))
    stack[unsampled, 5, 5] = np.inf
    np.save(tmp_path / "long.npy", stack)
    Image.fromarray(scans[0]).save(tmp_path / "after.png")
    records = predictor.predict([str(tmp_path / "long.npy"), str(tmp_path / "after.png")])
    assert len(records) == 2 and records[1]["input"] == str(tmp_path / "after.png")
    assert records[0]["input"] == str(tmp_path / "long.npy") and f"in slice {unsampled}" in records[0]["error"]


def test_a_nifti_without_nibabel_says_how_to_install_it_and_npy_needs_nothing(predictor, scans, tmp_path,
                                                                               monkeypatch):
    volume = _save_nifti(tmp_path / "scan.nii.gz", scans)
    np.save(tmp_path / "stack.npy", scans)
    monkeypatch.setitem(__import__("sys").modules, "nibabel", None)  # import nibabel now raises ImportError
    with pytest.raises(DataError, match=r"pip install 'torchworks\[volumes\]'") as raised:
        predictor.predict([str(volume)])
    assert "scan.nii.gz" in str(raised.value)
    [record] = predictor.predict([str(tmp_path / "stack.npy")])
    assert record["slices"] == SLICES


def test_names_suffixes_scaling_and_csv_rows():
    assert [volume_suffix(n) for n in ("a.NII.GZ", "a.nii", "b.npy", "c.tar.gz", "d.png")] == \
        [".nii.gz", ".nii", ".npy", None, None]
    assert [volume_stem(n) for n in ("dir/scan.nii.gz", "x.y.nii", "s.npy")] == ["scan", "x.y", "s"]
    values = np.array([[-100.0, 0.0], [50.0, 500.0]])
    scaled = slice_bytes(values, 0.0, 100.0, "v", 0)
    assert scaled.shape == (2, 2, 3) and scaled[..., 0].tolist() == [[0, 0], [128, 255]]
    assert np.array_equal(slice_bytes(np.full((2, 2), 7, np.uint8), 0.0, 255.0, "v", 0)[..., 2], np.full((2, 2), 7))
    assert slice_bytes(np.ones((1, 2)), 3.0, 3.0, "v", 0).max() == 0, "a constant volume is all 0"
    rows = class_rows({"input": "v.nii.gz", "width": 4, "height": 3, "slices": 2, "pixels": {"a": 20, "b": 4},
                       "share": {"a": 0.833333, "b": 0.166667}})
    assert [(r["class"], r["slices"], r["pixels"]) for r in rows] == [("a", 2, 20), ("b", 2, 4)]
