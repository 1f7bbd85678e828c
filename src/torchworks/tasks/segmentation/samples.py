"""The segmentation samples: street scenes with class-index masks, and lesion scans with binary masks.

``torchworks data make segmentation-scenes out=FOLDER n=1000`` and ``torchworks data make lesions
out=FOLDER n=800`` write fresh copies; ``data=segmentation-scenes`` and ``data=lesions`` train on cached
copies made once. Each copy is a folder of ``images/``, ``masks/`` (same file stem) and ``classes.yaml``,
the class map, written last and atomically so that its presence marks a finished sample. The pictures come
from :mod:`torchworks.scenes`; numpy, PIL and PyYAML load only when a generator runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torchworks.datasets import SampleDataset, materialize_once, refuse_existing, register_sample

SCENE_IMAGES = 1000  # the cached copies: enough for the default recipe to learn every class
SCENE_SIZE = 256
LESION_IMAGES = 800
LESION_SIZE = 192
CLASS_MAP = "classes.yaml"

# class name -> mask value and display colour, in the grammar the segmentation reader takes
SCENE_CLASSES: dict[str, dict[str, Any]] = {
    "background": {"value": 0, "colour": [0, 0, 0]},
    "car": {"value": 1, "colour": [230, 25, 75]},
    "person": {"value": 2, "colour": [60, 180, 75]},
    "sign": {"value": 3, "colour": [255, 225, 25]},
    "cone": {"value": 4, "colour": [245, 130, 48]},
}
LESION_CLASSES: dict[str, dict[str, Any]] = {
    "background": {"value": 0, "colour": [0, 0, 0]},
    "lesion": {"value": 255, "colour": [255, 64, 64]},  # 0/255 so the masks are viewable as they are
}


def _check_ranges(n: int, size: int) -> None:
    """Refuse counts and sizes no generator should be asked for.

    Raises:
        ConfigError: ``n`` or ``size`` out of range.
    """
    from torchworks.errors import ConfigError

    if not 1 <= n <= 1_000_000:
        raise ConfigError("n is out of range", expected="1 to 1,000,000 images", got=str(n))
    if not 64 <= size <= 4096:
        raise ConfigError("size is out of range", expected="64 to 4096 pixels", got=str(size))


def _write_class_map(folder: Path, classes: dict[str, dict[str, Any]], title: str) -> None:
    """Write ``classes.yaml`` (classes in the given order) atomically: the last file of a sample."""
    import yaml

    from torchworks.bundle.atomic import atomic_write_bytes

    body = yaml.safe_dump(classes, sort_keys=False, default_flow_style=None)  # colours stay on one line
    atomic_write_bytes(folder / CLASS_MAP, f"# {title}\n{body}".encode("utf-8"))


def _write_pairs(folder: Path, n: int, draw: Callable[[int], tuple[Any, Any]], image_format: str,
                 description: str, progress: bool) -> None:
    """Write ``images/<index>.<image_format>`` and ``masks/<index>.png`` for ``draw(index) -> (image, mask)``."""
    from PIL import Image

    from torchworks.progress import track

    images, masks = folder / "images", folder / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for index in track(range(n), description, total=n, enabled=progress):
        image, mask = draw(index)
        picture = Image.fromarray(image)
        if image_format == "jpg":
            picture.save(images / f"{index:06d}.jpg", format="JPEG", quality=92, subsampling=0)
        else:
            picture.save(images / f"{index:06d}.png", format="PNG", compress_level=6)
        # masks are always lossless PNG: one 8-bit value per pixel
        Image.fromarray(mask.astype("uint8")).save(masks / f"{index:06d}.png", format="PNG", compress_level=6)


def _scenes_into(folder: Path, n: int, size: int, seed: int, empty_share: float, progress: bool) -> None:
    """Fill ``folder`` with ``n`` street scenes and their class-index masks."""
    from torchworks.scenes.street import render_scene

    def draw(index: int) -> tuple[Any, Any]:
        scene = render_scene(index, size=size, seed=seed, empty_share=empty_share)
        return scene.image, scene.mask

    _write_pairs(folder, n, draw, "jpg", "drawing scenes", progress)
    _write_class_map(folder, SCENE_CLASSES, "segmentation-scenes: class name -> mask value and colour")


def _lesions_into(folder: Path, n: int, size: int, seed: int, progress: bool) -> None:
    """Fill ``folder`` with ``n`` lesion scans and their 0/255 masks."""
    from torchworks.scenes.lesions import render_lesion_scan

    lesion = LESION_CLASSES["lesion"]["value"]

    def draw(index: int) -> tuple[Any, Any]:
        scan = render_lesion_scan(index, size=size, seed=seed)
        return scan.image[:, :, 0], scan.mask * lesion  # one channel is the scan; 8-bit greyscale PNG

    _write_pairs(folder, n, draw, "png", "drawing lesion scans", progress)
    _write_class_map(folder, LESION_CLASSES, "lesions: class name -> mask value and colour")


def make_segmentation_scenes(out: Path, n: int = SCENE_IMAGES, size: int = SCENE_SIZE, seed: int = 0,
                             empty_share: float = 0.05, progress: bool = True) -> Path:
    """Write ``n`` street scenes of ``size`` x ``size`` pixels into ``out`` (a new or empty folder):
    ``images/*.jpg``, ``masks/*.png`` (0 background, 1 car, 2 person, 3 sign, 4 cone) and ``classes.yaml``.
    The same ``seed`` gives the same pixels; scene ``i`` does not depend on ``n``.

    Returns:
        ``out``.

    Raises:
        DataError: ``out`` exists and is not an empty folder.
        ConfigError: ``n``, ``size`` or ``empty_share`` out of range.
    """
    from torchworks.errors import ConfigError

    _check_ranges(n, size)
    if not 0 <= empty_share <= 1:
        raise ConfigError("empty_share is out of range", expected="a share in [0, 1]", got=str(empty_share))
    out = Path(out)
    refuse_existing(out, "the segmentation-scenes dataset")
    materialize_once(out, lambda folder: _scenes_into(folder, n, size, seed, empty_share, progress))
    return out


def make_lesions(out: Path, n: int = LESION_IMAGES, size: int = LESION_SIZE, seed: int = 0,
                 progress: bool = True) -> Path:
    """Write ``n`` lesion scans of ``size`` x ``size`` pixels into ``out`` (a new or empty folder):
    ``images/*.png`` (8-bit greyscale), ``masks/*.png`` (0 background, 255 lesion) and ``classes.yaml``.
    The same ``seed`` gives the same pixels; scan ``i`` does not depend on ``n``.

    Returns:
        ``out``.

    Raises:
        DataError: ``out`` exists and is not an empty folder.
        ConfigError: ``n`` or ``size`` out of range.
    """
    _check_ranges(n, size)
    out = Path(out)
    refuse_existing(out, "the lesions dataset")
    materialize_once(out, lambda folder: _lesions_into(folder, n, size, seed, progress))
    return out


def materialize_segmentation_scenes(target: Path) -> Path:
    """The cached scenes, drawn once (about half a minute); a finished copy holds ``classes.yaml``."""
    if not (target / CLASS_MAP).exists():
        materialize_once(target, lambda folder: _scenes_into(folder, SCENE_IMAGES, SCENE_SIZE, 0, 0.05, True))
    return target


def materialize_lesions(target: Path) -> Path:
    """The cached lesion scans, drawn once (a few seconds); a finished copy holds ``classes.yaml``."""
    if not (target / CLASS_MAP).exists():
        materialize_once(target, lambda folder: _lesions_into(folder, LESION_IMAGES, LESION_SIZE, 0, True))
    return target


SCENES = register_sample(
    SampleDataset(
        name="segmentation-scenes",
        task="segmentation",
        description="1,000 street-like scenes with pixel masks (car, person, sign, cone; occluded, 5% empty)",
        source="generated (images/, masks/, classes.yaml); `torchworks data make segmentation-scenes` makes more",
        materialize=materialize_segmentation_scenes,
        generator="torchworks.tasks.segmentation.samples:make_segmentation_scenes",
        # the default recipe: a U-Net at half resolution (about 20 s an epoch on 2 CPU cores at 192 px crops),
        # as many epochs as fit in nine minutes of training
        defaults={"epochs": 40, "max_minutes": 9.0, "image_size": 192, "input_stride": 2, "base_channels": 16,
                  "depth": 3},
    )
)

LESIONS = register_sample(
    SampleDataset(
        name="lesions",
        task="segmentation",
        description="800 greyscale scans with binary lesion masks (tiny to large, faint, decoys; some empty)",
        source="generated (images/, masks/, classes.yaml); `torchworks data make lesions` makes more",
        materialize=materialize_lesions,
        generator="torchworks.tasks.segmentation.samples:make_lesions",
        # 160 px crops of the 192 px scans: fifteen epochs fit in nine minutes on 2 CPU cores
        defaults={"epochs": 30, "max_minutes": 9.0, "image_size": 160},
    )
)
