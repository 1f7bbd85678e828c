"""Annotated copies of the inputs, written next to a predictions file, and its CSV rows (one per box).

``--output detections.json`` also writes the folder ``detections_annotated/``: each image input as a
PNG with its boxes drawn (:mod:`~torchworks.tasks.object_detection.drawing`), each video as a video of
the same container (MP4, MOV, MKV, AVI; others as MP4) with every frame annotated. Inputs that are
not files any more (in-memory pictures, uploads, a live camera) cannot be drawn again and are left
out. The folder is built whole (:mod:`torchworks.companion_folders`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from torchworks.companion_folders import FreeNames, folder_built_whole

BOX_COLUMNS = ("x1", "y1", "x2", "y2", "label", "score", "track_id")
_VIDEO_KEEPS = (".mp4", ".mov", ".mkv", ".avi")


def annotated_folder(output: Path) -> Path:
    """Where the annotated copies of ``output``'s inputs go: ``<stem>_annotated`` beside it."""
    return output.with_name(f"{output.stem}_annotated")


def box_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A detection record as CSV rows: one per box (``input``, ``frame``, ``time``, ``x1`` ... ``track_id``),
    or one row with empty box cells for a picture without boxes."""
    head = {key: record[key] for key in ("input", "frame", "time") if key in record}
    head.update(width=record.get("width"), height=record.get("height"))
    rows = []
    for box in record.get("boxes") or []:
        x1, y1, x2, y2 = box["xyxy"]
        row = {**head, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "label": box["label"], "score": box["score"]}
        if "track_id" in box:
            row["track_id"] = box["track_id"]
        rows.append(row)
    return rows or [{**head, **dict.fromkeys(BOX_COLUMNS[:-1], "")}]


def write_annotated(records: list[dict[str, Any]], output: Path, classes: list[str]) -> list[Path]:
    """Draw ``records`` over their inputs into :func:`annotated_folder` (replacing it whole); the files
    written, or none (and no folder) when no input is a file that can be read again."""
    from torchworks.tasks.object_detection.drawing import draw_boxes
    from torchworks.tasks.object_detection.predicting import read_picture

    images, videos = _inputs(records)
    if not images and not videos:
        return []
    folder = annotated_folder(output)
    written: list[str] = []
    with folder_built_whole(folder) as building:
        names = FreeNames()
        for name, record in images.items():
            target = building / names.take(Path(name).stem, ".png")
            draw_boxes(read_picture(Path(name), name, 2**62), record.get("boxes", []), classes).save(target)
            written.append(target.name)
        for name, frames in videos.items():
            suffix = Path(name).suffix.lower()
            target = building / names.take(Path(name).stem, suffix if suffix in _VIDEO_KEEPS else ".mp4")
            _write_clip(name, frames, target, classes)
            written.append(target.name)
    return [folder / name for name in written]


def _inputs(records: list[dict[str, Any]]) -> tuple[dict[str, dict], dict[str, dict[int, dict]]]:
    """The readable records by input: images (``name -> record``) and videos (``name -> {frame: record}``),
    only those whose input is a file."""
    images: dict[str, dict] = {}
    videos: dict[str, dict[int, dict]] = {}
    for record in records:
        name = record.get("input")
        if "error" in record or not isinstance(name, str) or not Path(name).is_file():
            continue
        if record.get("frame") is not None:
            videos.setdefault(name, {})[int(record["frame"])] = record
        else:
            images.setdefault(name, record)
    return images, videos


def _write_clip(name: str, frames: dict[int, dict], target: Path, classes: list[str]) -> None:
    """The video ``name`` decoded again, each frame drawn with its record's boxes, encoded to ``target``."""
    from torchworks.tasks.object_detection.drawing import draw_boxes
    from torchworks.tasks.object_detection.video import FrameReader, open_clip, write_video

    clip = open_clip(Path(name), name, 2**62)
    reader = FrameReader(clip)

    def annotated() -> Iterator[Image.Image]:
        try:
            for index in range(len(clip.times)):
                try:
                    picture = reader.frame(index)
                except Exception:  # noqa: BLE001 -- a frame that cannot be decoded ends the copy there
                    return
                yield draw_boxes(picture, frames.get(index, {}).get("boxes", []), classes)
        finally:
            reader.close()

    write_video(annotated(), target, clip)
