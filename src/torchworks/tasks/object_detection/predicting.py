"""What a detector predicts on, and its boxes as records.

Inputs: image files, folders of them, CSVs of image paths, uploads, PIL images and numpy arrays;
video files (:mod:`~torchworks.tasks.object_detection.video`: one item per frame) and cameras. Each
image's size is read from its header when the inputs are listed, each video's frames are counted from
its packets (nothing is decoded then); the pixels are decoded lazily, one batch at a time, and
letterboxed to the model's input. With ``tile=`` a large picture becomes several items, its windows
(:mod:`~torchworks.tasks.object_detection.tiling`). Boxes go back to the stored image's pixels
(:func:`~torchworks.tasks.object_detection.transforms.to_original`), one record per image or frame;
with ``track=true`` a frame's boxes carry ids kept across the video
(:mod:`~torchworks.tasks.object_detection.tracking`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from torchworks.bad_inputs import pass_over
from torchworks.errors import DataError
from torchworks.image_files import decode_rgb, picture_size
from torchworks.image_inputs import Source, expand_input, input_name
from torchworks.tasks.object_detection.decoding import decode
from torchworks.tasks.object_detection.tiling import (
    Tile,
    cut_by_window,
    merge_boxes,
    tiles_of,
)
from torchworks.tasks.object_detection.transforms import eval_transform, in_image
from torchworks.tasks.object_detection.video import (
    VIDEO_SUFFIXES,
    Clip,
    FrameItem,
    FrameReader,
    camera_device,
    frames_of,
    is_video,
    open_camera,
    open_clip,
)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
TRACK_LOW = 0.1  # with track=true, weaker boxes than conf down to this may continue a track


@dataclass(frozen=True)
class ImageItem:
    """One picture to predict on: its name in records, its source and its stored size."""

    name: str
    source: Source
    height: int
    width: int


class ImageInputs(torch.utils.data.Dataset):
    """Letterboxed pictures (images, video frames, or windows of either), decoded when an item is asked
    for; a bad one raises DataError naming it. The last picture decoded is kept for its next window,
    and each video is read in order by one :class:`~torchworks.tasks.object_detection.video.FrameReader`."""

    def __init__(self, items: list[Any], state: dict[str, Any]):
        self.items = items
        self.state = state
        self.transform = eval_transform(state["image_size"])
        self._last: tuple[Any, Image.Image | DataError] | None = None
        self._reader: FrameReader | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.items[index]
        if isinstance(item, Tile):
            return self.transform(self.picture(item.picture).crop(item.window))
        return self.transform(self.picture(item))

    def picture(self, item: ImageItem | FrameItem) -> Image.Image:
        """The decoded pixels of an image or frame item (the last one is kept).

        Raises:
            DataError: It cannot be read (raised again for each of its windows).
        """
        if self._last is None or self._last[0] is not item:
            try:
                self._last = (item, self._decode(item))
            except DataError as error:
                self._last = (item, error)
        found = self._last[1]
        if isinstance(found, DataError):
            raise found
        return found

    def _decode(self, item: ImageItem | FrameItem) -> Image.Image:
        if isinstance(item, FrameItem):
            if self._reader is None or self._reader.clip is not item.clip:
                if self._reader is not None:
                    self._reader.close()
                self._reader = FrameReader(item.clip)
            return self._reader.frame(item.index)
        return read_picture(item.source, item.name, self.state["max_pixels"])

    def __del__(self) -> None:
        if getattr(self, "_reader", None) is not None:
            self._reader.close()


def read_picture(source: Source, name: str, max_pixels: int) -> Image.Image:
    """The image ``source`` fully decoded as stored (no EXIF rotation: boxes are in stored pixels), in RGB.

    Raises:
        DataError: Unreadable, truncated, or over ``max_pixels`` (judged before decoding).
    """
    return decode_rgb(source, max_pixels, name)


def image_inputs(inputs: Sequence[Any], state: dict[str, Any]) -> tuple[ImageInputs, list[Any]]:
    """The pictures of ``inputs`` (image headers read, videos probed, nothing decoded) and one id per
    item: an :class:`ImageItem`, a :class:`~torchworks.tasks.object_detection.video.FrameItem` per
    frame, or with ``tile=`` a :class:`~torchworks.tasks.object_detection.tiling.Tile` per window."""
    options = prediction_settings(state)
    pictures: list[ImageItem | FrameItem] = []
    for item in inputs:
        device = camera_device(item)
        if device is not None:
            try:
                pictures += frames_of(open_camera(item, device))
            except DataError as error:
                pass_over(str(item), error, len(pictures))
            continue
        try:
            found = expand_input(item, IMAGE_SUFFIXES | VIDEO_SUFFIXES, what="an image or video file")
        except DataError as error:
            pass_over(input_name(item), error, len(pictures))
            continue
        for source, name in found:
            try:
                pictures += _listed(source, name, state)
            except DataError as error:
                pass_over(name, error, len(pictures))
    if not pictures:
        raise DataError("nothing to predict", expected="image or video files, folders of them or a CSV of paths",
                        got="no images or videos in the inputs given")
    items = [part for picture in pictures for part in tiles_of(picture, options["tile"], options["overlap"])]
    return ImageInputs(items, state), items


def _listed(source: Source, name: str, state: dict[str, Any]) -> list[ImageItem | FrameItem]:
    """The picture items of one listed source: an image, or a video's frames."""
    if is_video(source):
        return frames_of(open_clip(source, name, state["max_pixels"]))
    width, height = picture_size(source, name)
    return [ImageItem(name, source, height, width)]


def kept_boxes(outputs: dict[str, torch.Tensor], state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A batch's outputs as the boxes :func:`box_records` may keep, padded (``boxes`` ``[B, K, 4]``,
    ``scores`` ``[B, K]``, 0 for padding, ``labels``): a few KB a picture instead of the dense maps."""
    size = state["image_size"]
    options = prediction_settings(state)
    conf = min(options["conf"], TRACK_LOW) if options["track"] else options["conf"]
    found = decode(outputs, (size, size), conf=conf, iou=options["iou"], max_det=options["max_det"],
                   classes=wanted_classes(options["classes"], state["labels"]))
    most = max([1, *(len(d["scores"]) for d in found)])
    kept = {"boxes": torch.zeros(len(found), most, 4), "scores": torch.zeros(len(found), most),
            "labels": torch.zeros(len(found), most, dtype=torch.int64)}
    for row, detections in enumerate(found):
        count = len(detections["scores"])
        kept["boxes"][row, :count] = detections["boxes"]
        kept["scores"][row, :count] = detections["scores"]
        kept["labels"][row, :count] = detections["labels"]
    return kept


def box_records(outputs: dict[str, torch.Tensor], items: list[Any], state: dict[str, Any]
                ) -> list[dict[str, Any]]:
    """One record per image or frame: its boxes in the stored picture's pixels (``xyxy``), class and
    score, best first; a frame's record also has ``frame`` and ``time``, and with ``track=true`` its
    boxes a ``track_id``. The windows of a tiled picture are merged into its one record."""
    size = state["image_size"]
    classes = state["labels"]
    options = prediction_settings(state)
    track = bool(options["track"])
    conf = min(options["conf"], TRACK_LOW) if track else options["conf"]
    found = decode(outputs, (size, size), conf=conf, iou=options["iou"], max_det=options["max_det"],
                   classes=wanted_classes(options["classes"], classes))
    records = []
    for picture, parts in _by_picture(items, found, size):
        boxes, scores, labels = (np.concatenate([part[key] for part in parts]) for key in range(3))
        if len(parts) > 1 or isinstance(picture, Tile):
            cut = np.concatenate([part[3] for part in parts])
            boxes, scores, labels = merge_boxes(boxes, scores, labels, cut, iou=options["iou"],
                                                max_det=options["max_det"])
        picture = picture.picture if isinstance(picture, Tile) else picture
        ids = None
        if track and isinstance(picture, FrameItem):
            ids = _tracker(picture.clip, options).update(boxes, scores, labels, picture.index)
            kept = ids > 0
            boxes, scores, labels, ids = boxes[kept], scores[kept], labels[kept], ids[kept]
        elif track:  # an image is no video: no ids, and the weak boxes kept for tracking go
            kept = scores >= options["conf"]
            boxes, scores, labels = boxes[kept], scores[kept], labels[kept]
        record: dict[str, Any] = {"input": picture.name, "width": picture.width, "height": picture.height}
        if isinstance(picture, FrameItem):
            record.update(frame=picture.index, time=picture.time)
        record["count"] = len(boxes)
        record["boxes"] = [{"xyxy": [round(float(v), 1) for v in box], "label": classes[int(label)],
                            "score": round(float(score), 4)} for box, label, score in zip(boxes, labels, scores)]
        if ids is not None:
            for box, track_id in zip(record["boxes"], ids):
                box["track_id"] = int(track_id)
        records.append(record)
    return records


def _by_picture(items: list[Any], found: list[dict[str, torch.Tensor]], size: int
                ) -> list[tuple[Any, list[tuple[np.ndarray, ...]]]]:
    """Detections grouped by picture, in its pixels: ``(picture, [(boxes, scores, labels, cut), ...])``
    with a part per window of a tiled picture (``cut``: which boxes an inner window edge cuts)."""
    groups: list[tuple[Any, list[tuple[np.ndarray, ...]]]] = []
    for item, detections in zip(items, found):
        if isinstance(item, Tile):
            detections = in_image(detections, (item.height, item.width), size)
            left, top = item.window[:2]
            boxes = detections["boxes"].detach().double().numpy() + np.array([left, top, left, top])
            cut = cut_by_window(boxes, item.window, item.picture.height, item.picture.width)
        else:
            detections = in_image(detections, (item.height, item.width), size)
            boxes = detections["boxes"].detach().double().numpy()
            cut = np.zeros(len(boxes), dtype=bool)
        part = (boxes, detections["scores"].detach().double().numpy(), detections["labels"].numpy(), cut)
        picture = item.picture if isinstance(item, Tile) else item
        if groups and isinstance(item, Tile) and _picture_of(groups[-1][0]) is picture:
            groups[-1][1].append(part)
        else:
            groups.append((item, [part]))
    return groups


def _picture_of(item: Any) -> Any:
    return item.picture if isinstance(item, Tile) else item


def _tracker(clip: Clip, options: dict[str, Any]) -> Any:
    """The clip's tracker, made at its first frame: ids start at 1 for each video."""
    if clip.tracker is None:
        from torchworks.tasks.object_detection.tracking import Tracker

        clip.tracker = Tracker(high=options["conf"], low=TRACK_LOW, keep_lost=max(1, round(clip.fps)))
    return clip.tracker


def prediction_settings(state: dict[str, Any]) -> dict[str, Any]:
    """The prediction options given (``conf=0.5``) over the config's defaults."""
    from torchworks.tasks.object_detection.config import ObjectDetectionConfig

    fields = ObjectDetectionConfig.model_fields
    return {name: state.get(name, fields[name].default)
            for name in ("conf", "iou", "max_det", "classes", "track", "tile", "overlap")}


def wanted_classes(names: str | None, classes: list[str]) -> set[int] | None:
    """Indices of ``classes=`` (comma-separated names), or None for all.

    Raises:
        ConfigError: A name that is not one of the model's classes.
    """
    if not names:
        return None
    from torchworks.errors import ConfigError, did_you_mean

    wanted = set()
    for name in (part.strip() for part in names.split(",")):
        if not name:
            continue
        if name not in classes:
            raise ConfigError(f"classes= names an unknown class '{name}'", expected=", ".join(classes), got=name,
                              hint=did_you_mean(name, classes))
        wanted.add(classes.index(name))
    return wanted
