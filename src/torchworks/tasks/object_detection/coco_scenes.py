"""The street scenes of :mod:`torchworks.scenes.street` written as a detection dataset: JPEG or PNG images
and their boxes as COCO JSON, so the sample also exercises the real COCO reader."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from torchworks.scenes.street import CLASSES, SUPERCATEGORY, VERSION, render_scene


def make_scenes(out: Path, n: int = 2000, size: int = 320, seed: int = 0, *, empty_share: float = 0.1,
                max_objects: int = 8, max_hidden: float = 0.7, image_format: str = "jpg",
                quality: int = 92, progress: bool = False) -> Path:
    """Write ``out/images/<index>.<format>`` and ``out/annotations.json`` (COCO) for ``n`` scenes.

    The annotations file is written last and atomically: its presence marks a finished sample.
    Returns ``out``.
    """
    from torchworks.bundle.atomic import atomic_write_bytes
    from torchworks.progress import track

    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
    out = Path(out)
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in track(range(n), "drawing scenes", total=n, enabled=progress):
        scene = render_scene(index, size=size, seed=seed, empty_share=empty_share,
                             max_objects=max_objects, max_hidden=max_hidden)
        name = f"{index:06d}.{image_format}"
        picture = Image.fromarray(scene.image)
        if image_format == "jpg":
            picture.save(images_dir / name, format="JPEG", quality=quality, subsampling=0)
        else:
            picture.save(images_dir / name, format="PNG", compress_level=6)
        images.append({"id": index + 1, "file_name": f"images/{name}", "width": size, "height": size})
        for box, label, visible in zip(scene.boxes, scene.labels, scene.visibility):
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": label + 1,
                                "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
                                "visibility": round(visible, 3)})
    coco = {
        "info": {"description": "detection-scenes: generated street-like scenes", "version": str(VERSION),
                 "seed": seed, "size": size, "images": n},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": name, "supercategory": SUPERCATEGORY[name]}
                       for i, name in enumerate(CLASSES)],
    }
    atomic_write_bytes(out / "annotations.json", (json.dumps(coco, indent=1) + "\n").encode("utf-8"))
    return out
