"""The segmentation samples: what the writers put on disk, the class map, determinism, refusals and the CLI."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from torchworks.datasets import get_sample
from torchworks.errors import ConfigError, DataError
from torchworks.scenes.lesions import render_lesion_scan
from torchworks.scenes.street import render_scene
from torchworks.tasks.segmentation import samples  # importing registers the samples
from torchworks.tasks.segmentation.samples import make_lesions, make_segmentation_scenes

SCENE_MAP = {
    "background": {"value": 0, "colour": [0, 0, 0]},
    "car": {"value": 1, "colour": [230, 25, 75]},
    "person": {"value": 2, "colour": [60, 180, 75]},
    "sign": {"value": 3, "colour": [255, 225, 25]},
    "cone": {"value": 4, "colour": [245, 130, 48]},
}
LESION_MAP = {"background": {"value": 0, "colour": [0, 0, 0]}, "lesion": {"value": 255, "colour": [255, 64, 64]}}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture)


def read_class_map(folder: Path) -> dict:
    text = (folder / "classes.yaml").read_text(encoding="utf-8")
    assert text.startswith("# ") and "\n" in text  # one comment line saying what the file is
    return yaml.safe_load(text)


def test_scenes_writer_writes_jpegs_class_index_masks_and_the_class_map(tmp_path: Path) -> None:
    out = make_segmentation_scenes(tmp_path / "seg", n=3, size=64, progress=False)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["000000.jpg", "000001.jpg", "000002.jpg"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    for index in range(3):
        scene = render_scene(index, size=64, seed=0, empty_share=0.05)
        with Image.open(out / "masks" / f"{index:06d}.png") as mask:
            assert mask.mode == "L" and mask.size == (64, 64)
            assert np.array_equal(np.asarray(mask), scene.mask)  # lossless, the renderer's classes
        image = pixels(out / "images" / f"{index:06d}.jpg")
        assert image.shape == (64, 64, 3)
        assert np.abs(image.astype(int) - scene.image.astype(int)).mean() < 6  # JPEG at quality 92
        assert set(np.unique(scene.mask)) <= {0, 1, 2, 3, 4}
    assert read_class_map(out) == SCENE_MAP
    assert list(read_class_map(out)) == list(SCENE_MAP)  # the order is kept


def test_lesions_writer_writes_grey_pngs_and_0_255_masks(tmp_path: Path) -> None:
    out = make_lesions(tmp_path / "les", n=4, size=64, progress=False)
    values = set()
    for index in range(4):
        scan = render_lesion_scan(index, size=64, seed=0)
        image, mask = pixels(out / "images" / f"{index:06d}.png"), pixels(out / "masks" / f"{index:06d}.png")
        assert np.array_equal(image, scan.image[..., 0]) and mask.shape == image.shape == (64, 64)
        assert np.array_equal(mask, scan.mask * 255)
        values |= set(np.unique(mask).tolist())
    assert values == {0, 255}
    assert read_class_map(out) == LESION_MAP


def test_same_seed_same_bytes_and_an_image_does_not_depend_on_n(tmp_path: Path) -> None:
    small = make_lesions(tmp_path / "a", n=2, size=64, progress=False)
    large = make_lesions(tmp_path / "b", n=3, size=64, progress=False)
    other = make_lesions(tmp_path / "c", n=2, size=64, seed=1, progress=False)
    for name in ("images/000000.png", "images/000001.png", "masks/000001.png", "classes.yaml"):
        assert (small / name).read_bytes() == (large / name).read_bytes()
    assert not np.array_equal(pixels(small / "images/000000.png"), pixels(other / "images/000000.png"))
    first = make_segmentation_scenes(tmp_path / "d", n=1, size=64, progress=False)
    second = make_segmentation_scenes(tmp_path / "e", n=2, size=64, progress=False)
    assert (first / "images/000000.jpg").read_bytes() == (second / "images/000000.jpg").read_bytes()


@pytest.mark.parametrize("make", [make_lesions, make_segmentation_scenes])
def test_writers_refuse_a_folder_that_is_not_empty_and_take_an_empty_one(tmp_path: Path, make) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty|will not write"):
        make(full, n=1, size=64, progress=False)
    assert [p.name for p in full.iterdir()] == ["notes.txt"]  # nothing of the user's touched, nothing added
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (make(empty, n=1, size=64, progress=False) / "classes.yaml").is_file()


@pytest.mark.parametrize("settings", [{"n": 0}, {"size": 32}, {"size": 5000}])
def test_writers_check_their_ranges(tmp_path: Path, settings: dict) -> None:
    for make in (make_lesions, make_segmentation_scenes):
        with pytest.raises(ConfigError):
            make(tmp_path / "x", progress=False, **{"n": 1, "size": 64, **settings})
    with pytest.raises(ConfigError, match="empty_share"):
        make_segmentation_scenes(tmp_path / "y", n=1, size=64, empty_share=1.5, progress=False)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_samples_are_registered_with_their_recipe_and_cached_with_the_default_size(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    scenes, lesions = get_sample("segmentation-scenes"), get_sample("lesions")
    assert scenes.task == lesions.task == "segmentation" and scenes.aliases == ()
    assert scenes.defaults == {"epochs": 40, "max_minutes": 9.0, "image_size": 192, "input_stride": 2,
                               "base_channels": 16, "depth": 3}
    assert lesions.defaults == {"epochs": 30, "max_minutes": 9.0, "image_size": 160}
    assert scenes.generator_function() is make_segmentation_scenes and lesions.generator_function() is make_lesions
    lesion_defaults = inspect.signature(make_lesions).parameters
    assert (lesion_defaults["n"].default, lesion_defaults["size"].default) == (800, 192)
    scene_defaults = inspect.signature(make_segmentation_scenes).parameters
    assert (scene_defaults["n"].default, scene_defaults["size"].default) == (1000, 256)
    monkeypatch.setattr(samples, "LESION_IMAGES", 2)  # the cache's count, made tiny for the test
    cached = lesions.materialize(tmp_path / "cache")
    assert len(list((cached / "images").iterdir())) == 2 and pixels(cached / "images/000000.png").shape == (192, 192)
    stamp = (cached / "classes.yaml").stat().st_mtime_ns
    assert lesions.materialize(tmp_path / "cache") == cached  # made once: a finished copy is reused
    assert (cached / "classes.yaml").stat().st_mtime_ns == stamp


def test_data_make_from_the_command_line(tmp_path: Path, cli) -> None:
    code, out, err = cli("data", "make", "lesions", f"out={tmp_path / 'les'}", "n=4", "size=64")
    assert code == 0, err
    assert out.strip().endswith(str(tmp_path / "les"))
    assert len(list((tmp_path / "les" / "masks").iterdir())) == 4 and (tmp_path / "les" / "classes.yaml").is_file()
    code, _, err = cli("data", "make", "segmentation-scenes", f"out={tmp_path / 'seg'}", "n=2", "size=64",
                       "empty_share=0")
    assert code == 0, err
    assert set(np.unique(pixels(tmp_path / "seg" / "masks" / "000000.png"))) - {0}  # objects in every scene
    code, _, err = cli("data", "make", "lesions", f"out={tmp_path / 'les'}", "n=4")
    assert code == 2 and "not empty" in err
