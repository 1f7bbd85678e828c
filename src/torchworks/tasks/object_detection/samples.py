"""The object-detection sample: generated street scenes with their boxes as COCO JSON.

``torchworks data make detection-scenes out=FOLDER n=2000`` writes a fresh copy; ``data=detection-scenes``
(or ``data=scenes`` where no ``scenes`` folder exists) trains on a cached copy made once. Either way the
scenes are read by the real COCO loader. The generator (numpy, PIL) loads only when it runs.
"""

from __future__ import annotations

from pathlib import Path

from torchworks.datasets import (
    SampleDataset,
    materialize_once,
    refuse_existing,
    register_sample,
)

SAMPLE_IMAGES = 2000  # the cached copy: enough for the default recipe to reach its quality targets


def make_detection_scenes(out: Path, n: int = SAMPLE_IMAGES, size: int = 320, seed: int = 0,
                          empty_share: float = 0.1, progress: bool = True) -> Path:
    """Write ``n`` scenes of ``size`` x ``size`` pixels into ``out`` (a new or empty folder):
    ``images/*.jpg`` and ``annotations.json`` (COCO). The same ``seed`` gives the same pixels.

    Raises:
        DataError: ``out`` exists and is not empty.
        ConfigError: ``n`` or ``size`` out of range.
    """
    from torchworks.errors import ConfigError
    from torchworks.tasks.object_detection.coco_scenes import make_scenes

    if not 1 <= n <= 1_000_000:
        raise ConfigError("n is out of range", expected="1 to 1,000,000 scenes", got=str(n))
    if not 64 <= size <= 4096:
        raise ConfigError("size is out of range", expected="64 to 4096 pixels", got=str(size))
    if not 0 <= empty_share <= 1:
        raise ConfigError("empty_share is out of range", expected="a share in [0, 1]", got=str(empty_share))
    out = Path(out)
    refuse_existing(out, "the detection-scenes dataset")
    materialize_once(out, lambda folder: make_scenes(folder, n=n, size=size, seed=seed, empty_share=empty_share,
                                                     progress=progress))
    return out


def materialize_scenes(target: Path) -> Path:
    """The cached sample, drawn once (about half a minute); a finished copy holds ``annotations.json``."""
    if (target / "annotations.json").exists():
        return target
    from torchworks.tasks.object_detection.coco_scenes import make_scenes

    materialize_once(target, lambda folder: make_scenes(folder, n=SAMPLE_IMAGES, progress=True))
    return target


SCENES = register_sample(
    SampleDataset(
        name="detection-scenes",
        task="object-detection",
        description="2,000 street-like scenes (car, person, sign, cone; small to large, occluded, 10% empty)",
        source="generated (COCO JSON); `torchworks data make detection-scenes` makes more",
        materialize=materialize_scenes,
        generator="torchworks.tasks.object_detection.samples:make_detection_scenes",
        aliases=("scenes",),
        # the default recipe: as many epochs as fit in nine minutes of training, sixteen at most
        defaults={"epochs": 16, "max_minutes": 9.0},
    )
)
