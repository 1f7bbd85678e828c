"""Tiny detection datasets written into tmp_path: 32x32 PNGs and their annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


def write_png(path: Path, size: tuple[int, int] = (32, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (40, 80, 120)).save(path)
    return path


def write_coco(path: Path, images: list[dict], annotations: list[dict], categories: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


@pytest.fixture
def png():
    return write_png


@pytest.fixture
def coco():
    return write_coco


class BlobDetector:
    """A stand-in detector with exact answers, for the prediction pipeline (video, tiles, tracks): on the
    letterboxed input, each pure red blob at least ``least`` pixels wide and high is a box of class 0 and
    each pure green one of class 1, scored ``score``; outputs in the padded form torchvision's give."""

    def __init__(self, least: int = 3, score: float = 0.9):
        self.least, self.score = least, score

    def __call__(self, images):
        import torch
        from scipy import ndimage

        found = []
        for image in images.numpy():
            red, green, blue = image
            boxes = []
            for label, mask in enumerate(((red > 0.8) & (green < 0.2) & (blue < 0.2),
                                          (green > 0.8) & (red < 0.2) & (blue < 0.2))):
                for rows, cols in ndimage.find_objects(ndimage.label(mask)[0]):
                    if rows.stop - rows.start >= self.least and cols.stop - cols.start >= self.least:
                        boxes.append((cols.start, rows.start, cols.stop, rows.stop, label))
            found.append(boxes)
        most = max(1, max(len(boxes) for boxes in found))
        out = {"boxes": torch.zeros(len(found), most, 4), "scores": torch.zeros(len(found), most),
               "labels": torch.zeros(len(found), most, dtype=torch.int64)}
        for i, boxes in enumerate(found):
            for j, (*box, label) in enumerate(boxes):
                out["boxes"][i, j] = torch.tensor(box, dtype=torch.float32)
                out["scores"][i, j] = self.score
                out["labels"][i, j] = label
        return out


@pytest.fixture
def blob_detector():
    return BlobDetector


def blob_state(**options) -> dict:
    """A detection model's prediction state for :class:`BlobDetector` (128 px input, classes red and green)."""
    return {"image_size": 128, "labels": ["red", "green"], "max_pixels": 10**8, **options}


@pytest.fixture
def blob_predict():
    """``blob_predict(inputs, least=3, **options)``: the object-detection task's records for ``inputs``
    predicted by a :class:`BlobDetector`, through the engine's prediction path."""
    from torchworks.engine.predict import predict_items
    from torchworks.tasks import get_task

    def run(inputs, least: int = 3, batch_size: int = 4, **options):
        task = get_task("object-detection")
        return predict_items(task, BlobDetector(least), list(inputs), blob_state(**options), top_k=1,
                             batch_size=batch_size)

    return run


def write_clip(path: Path, frames, fps: int = 10, codec: str = "h264") -> Path:
    """Encode PIL images as a video (PyAV), its container by ``path``'s suffix."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_square_frames(count: int = 20, size: int = 128, side: int = 16, step: int = 4):
    """``count`` grey frames with a red square moving right by ``step`` pixels a frame."""
    frames = []
    for index in range(count):
        frame = Image.new("RGB", (size, size), (114, 114, 114))
        frame.paste((255, 0, 0), (8 + index * step, 40, 8 + index * step + side, 40 + side))
        frames.append(frame)
    return frames


@pytest.fixture
def clip(tmp_path):
    """A 20-frame 128 px H.264 MP4 of a red square moving right 4 pixels a frame, at 10 fps."""
    return write_clip(tmp_path / "square.mp4", moving_square_frames())


@pytest.fixture(name="write_clip")
def write_clip_fixture():
    """:func:`write_clip`: ``write_clip(path, frames, fps=10, codec="h264")``."""
    return write_clip


@pytest.fixture
def square_frames():
    """:func:`moving_square_frames`: ``square_frames(count=20, size=128, side=16, step=4)``."""
    return moving_square_frames
