"""What predict writes beside its output: boxes drawn over images and videos (one colour per class), a
CSV row per box, the throughput line, and nothing of the user's replaced without --force."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from PIL import Image

from torchworks.tasks.object_detection.annotated import annotated_folder, box_rows, write_annotated
from torchworks.tasks.object_detection.drawing import PALETTE, class_colour, draw_boxes
from torchworks.tasks.object_detection.video import FrameReader, open_clip


def test_boxes_are_drawn_in_their_class_colour_with_label_score_and_id():
    picture = Image.new("RGB", (200, 120), (114, 114, 114))
    boxes = [{"xyxy": [20, 40, 80, 100], "label": "car", "score": 0.91, "track_id": 3},
             {"xyxy": [120, 40, 180, 100], "label": "person", "score": 0.5}]
    drawn = draw_boxes(picture, boxes, ["person", "car"])
    assert picture.getpixel((20, 70)) == (114, 114, 114), "the input is not drawn on"
    assert drawn.getpixel((20, 70)) == PALETTE[1] and drawn.getpixel((120, 70)) == PALETTE[0]
    assert drawn.getpixel((50, 70)) == (114, 114, 114), "boxes are outlines"
    assert PALETTE[1] in [drawn.getpixel((x, 30)) for x in range(20, 80)], "a label above the box"
    assert class_colour("car", ["person", "car"]) == PALETTE[1]


def test_a_csv_row_per_box():
    record = {"input": "v.mp4", "width": 64, "height": 48, "frame": 3, "time": 0.3, "count": 2,
              "boxes": [{"xyxy": [1, 2, 3, 4], "label": "car", "score": 0.9, "track_id": 7},
                        {"xyxy": [5, 6, 7, 8], "label": "bus", "score": 0.4, "track_id": 8}]}
    rows = box_rows(record)
    assert rows[1] == {"input": "v.mp4", "frame": 3, "time": 0.3, "width": 64, "height": 48, "x1": 5, "y1": 6,
                       "x2": 7, "y2": 8, "label": "bus", "score": 0.4, "track_id": 8}
    empty = box_rows({"input": "a.png", "width": 5, "height": 5, "count": 0, "boxes": []})
    assert empty == [{"input": "a.png", "width": 5, "height": 5, "x1": "", "y1": "", "x2": "", "y2": "",
                      "label": "", "score": ""}]


def test_annotated_copies_replace_the_folder_whole(tmp_path, clip, blob_predict):
    image = tmp_path / "still.jpg"
    Image.new("RGB", (64, 64), (114, 114, 114)).save(image)
    records = blob_predict([str(clip), str(image), str(tmp_path / "gone.png")]).records
    output = tmp_path / "det.json"
    written = write_annotated(records, output, ["red", "green"])
    folder = annotated_folder(output)
    assert [path.name for path in written] == ["still.png", "square.mp4"] and folder == tmp_path / "det_annotated"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "no temporary left"
    copy = open_clip(folder / "square.mp4", "copy", 10**8)
    assert (len(copy.times), copy.fps, copy.width) == (20, 10.0, 128)
    frame = FrameReader(copy).frame(10)
    left, top, right, bottom = records[10]["boxes"][0]["xyxy"]
    outline = frame.getpixel((round(left), round((top + bottom) / 2)))
    assert outline[2] > outline[0] + 60, f"red's box in the first colour (blue), got {outline}"

    (folder / "mine.txt").write_text("kept until the new folder is complete")
    write_annotated(records[20:21], output, ["red", "green"])
    assert sorted(p.name for p in folder.iterdir()) == ["still.png"]
    assert write_annotated([records[21]], tmp_path / "none.json", ["red"]) == []
    assert not (tmp_path / "none_annotated").exists()


def test_predict_cli_on_a_video_with_tracking(detection_run, scenes_dir, tmp_path, cli, write_clip):
    run = tmp_path / "run"
    shutil.copytree(detection_run, run)
    scene = Image.open(sorted(scenes_dir.rglob("*.jpg"))[0]).convert("RGB")
    frames = []
    for index in range(20):  # a scene image sliding across a 128 px frame
        frame = Image.new("RGB", (128, 128), (114, 114, 114))
        frame.paste(scene, (index * 2 - 20, 0))
        frames.append(frame)
    video = write_clip(tmp_path / "clip.mp4", frames)
    code, out, err = cli("predict", str(run), str(video), "track=true", "conf=0.05", "--output",
                         str(tmp_path / "det.json"))
    assert code == 0, err
    assert "predicted 20 items in " in err and "per second)" in err
    assert f"also written: {tmp_path / 'det_annotated' / 'clip.mp4'}" in out
    records = json.loads((tmp_path / "det.json").read_text())
    assert [r["frame"] for r in records] == list(range(20))
    assert all("track_id" in box for r in records for box in r["boxes"])
    assert len(open_clip(tmp_path / "det_annotated" / "clip.mp4", "x", 10**8).times) == 20

    (tmp_path / "det.json").unlink()  # the file is free, its companion folder is not
    code, _, err = cli("predict", str(run), str(video), "--output", str(tmp_path / "det.json"))
    assert code == 2 and "det_annotated' already exists" in err and "--force" in err
    assert not (tmp_path / "det.json").exists()

    code, out, err = cli("predict", str(run), str(video), "conf=0.05", "--output", str(tmp_path / "boxes.csv"))
    assert code == 0, err
    with (tmp_path / "boxes.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:9] == ["input", "frame", "time", "width", "height", "x1", "y1", "x2", "y2"]
    boxes = sum(r["count"] for r in records)  # the same frames, now one row per box (or per empty frame)
    assert len(rows) == sum(max(1, r["count"]) for r in records) or boxes == 0
    assert not any("[" in value for row in rows for value in row.values()), "no JSON inside cells"


@pytest.mark.parametrize("text", ["notes"])
def test_a_video_file_that_is_text_exits_2_naming_it(detection_run, tmp_path, cli, text):
    fake = tmp_path / "clip.mp4"
    fake.write_text(text)
    code, out, err = cli("predict", str(detection_run), str(fake))
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "clip.mp4" in lines[0] and "Traceback" not in err
