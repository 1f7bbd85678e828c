"""scikit-learn's 1,797 real handwritten digits (8x8, 10 classes) as an image-folder tree."""

from __future__ import annotations

from pathlib import Path

from torchworks.datasets import SampleDataset, materialize_once, register_sample


def materialize_digits(target: Path) -> Path:
    """Write ``target/<digit>/<index>.png`` once; a finished tree is marked by ``.complete``."""
    if (target / ".complete").exists():
        return target
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()

    def write(folder: Path) -> None:
        for index, (pixels, label) in enumerate(zip(digits.images, digits.target)):
            (folder / str(label)).mkdir(exist_ok=True)
            image = np.clip(pixels * (255.0 / 16.0), 0, 255).astype("uint8")
            Image.fromarray(image, mode="L").save(folder / str(label) / f"{index:04d}.png")
        (folder / ".complete").write_text("1797 images\n")

    materialize_once(target, write)
    return target


DIGITS = register_sample(
    SampleDataset(
        name="digits",
        task="image-classification",
        description="1,797 handwritten digits, 8x8 grayscale, 10 classes",
        source="scikit-learn (UCI optical recognition of handwritten digits)",
        materialize=materialize_digits,
        defaults={"model": "smallcnn", "image_size": 32, "crop": 1.0, "hflip": 0.0, "scale_min": 0.85,
                  "rotation": 8.0, "epochs": 10,
                  "lr": 3e-3, "batch_size": 64},
    )
)
