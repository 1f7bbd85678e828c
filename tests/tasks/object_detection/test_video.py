"""Video inputs: probed without decoding, frames decoded in order one at a time, a record per frame with
``frame`` and ``time``; a text file named .mp4 and a missing camera are one-line errors naming them."""

from __future__ import annotations

import pytest
from PIL import Image

from torchworks.bad_inputs import collecting_bad_inputs
from torchworks.errors import DataError
from torchworks.tasks.object_detection import video
from torchworks.tasks.object_detection.predicting import image_inputs
from torchworks.tasks.object_detection.video import FrameReader, camera_device, open_camera, open_clip, write_video


def test_a_clip_is_probed_without_decoding_and_its_frames_read_in_order(clip):
    probed = open_clip(clip, "square.mp4", 10**8)
    assert (probed.width, probed.height, probed.fps, probed.codec) == (128, 128, 10.0, "h264")
    assert probed.times == pytest.approx([i / 10 for i in range(20)])

    reader = FrameReader(probed)
    starts = []
    original = reader._start
    reader._start = lambda: (starts.append(1), original())[1]
    frames = [reader.frame(i) for i in (0, 1, 5, 19)]  # forward, skipping frames: one pass
    assert len(starts) == 1
    assert all(isinstance(f, Image.Image) and f.size == (128, 128) for f in frames)
    red = frames[2].getpixel((8 + 5 * 4 + 8, 48))  # inside frame 5's square
    assert red[0] > 200 and red[1] < 60
    assert reader.frame(2).getpixel((8 + 2 * 4 + 8, 48))[0] > 200 and len(starts) == 2  # back: starts over
    with pytest.raises(DataError, match="frame 20 of video 'square.mp4'"):
        reader.frame(20)
    reader.close()


def test_predict_gives_a_record_per_frame_with_its_index_and_time(clip, blob_predict):
    result = blob_predict([str(clip)])
    assert [r["frame"] for r in result.records] == list(range(20))
    assert [r["time"] for r in result.records] == pytest.approx([i / 10 for i in range(20)])
    assert result.inputs == 20 and not result.bad
    first, last = result.records[0], result.records[-1]
    assert first["input"] == str(clip) and first["count"] == 1 and first["boxes"][0]["label"] == "red"
    assert first["boxes"][0]["xyxy"] == pytest.approx([8, 40, 24, 56], abs=2)
    assert last["boxes"][0]["xyxy"] == pytest.approx([8 + 76, 40, 24 + 76, 56], abs=2)


def test_a_long_video_streams(tmp_path, write_clip):
    frames = [Image.new("RGB", (32, 24), (i % 256, 0, 0)) for i in range(1200)]
    long = write_clip(tmp_path / "long.mkv", frames, fps=30)
    dataset, ids = image_inputs([str(long)], {"image_size": 64, "max_pixels": 10**8})
    assert len(ids) == 1200 and ids[-1].index == 1199 and ids[-1].time == pytest.approx(1199 / 30, abs=1e-3)
    opened = []
    original = FrameReader._start

    def counting(self):
        opened.append(1)
        original(self)

    FrameReader._start = counting
    try:
        for index in range(len(dataset)):
            assert dataset[index].shape == (3, 64, 64)
    finally:
        FrameReader._start = original
    assert len(opened) == 1, "decoded in one pass, never from the start again"


def test_a_text_file_named_mp4_is_a_one_line_error_naming_it(tmp_path, blob_predict, png):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is not a video\n")
    with pytest.raises(DataError) as error:
        open_clip(fake, str(fake), 10**8)
    message = str(error.value)
    assert "holiday.mp4" in message and "\n" not in message and "video" in message

    image = png(tmp_path / "scene.png", (64, 64))
    result = blob_predict([str(fake), str(image)])  # bad_files=skip: an error row in its place
    assert result.records[0] == {"input": str(fake), "error": result.bad[0].message}
    assert "cannot read video" in result.records[0]["error"] and result.records[1]["input"] == str(image)


def test_a_folder_holds_videos_and_images(tmp_path, png, write_clip, square_frames):
    folder = tmp_path / "mixed"
    write_clip(folder.mkdir() or folder / "a.mp4", square_frames(count=3))
    png(folder / "b.png", (64, 48))
    (folder / "notes.txt").write_text("x")
    _, ids = image_inputs([str(folder)], {"image_size": 64, "max_pixels": 10**8})
    assert [(type(i).__name__, i.name.split("/")[-1]) for i in ids] == [("FrameItem", "a.mp4")] * 3 + [
        ("ImageItem", "b.png")]


def test_a_camera_index_without_a_camera_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert camera_device("0") == "/dev/video0" and camera_device(2) == "/dev/video2"
    assert camera_device("/dev/video1") == "/dev/video1" and camera_device("clip.mp4") is None
    (tmp_path / "3").write_text("a file named 3")
    assert camera_device("3") is None, "an existing file is a file"
    with pytest.raises(DataError, match=r"no camera '7': expected a camera at /dev/video7.*does not exist"):
        open_camera("7", "/dev/video7")
    with collecting_bad_inputs() as bad, pytest.raises(DataError, match="nothing to predict"):
        image_inputs(["7"], {"image_size": 64, "max_pixels": 10**8})
    assert bad.found[0].input == "7"


def test_write_video_keeps_size_rate_and_an_odd_side(tmp_path, write_clip):
    frames = [Image.new("RGB", (33, 21), (0, 200, 0)) for _ in range(5)]
    source = open_clip(write_clip(tmp_path / "in.mp4", [f.resize((34, 22)) for f in frames], fps=12),
                       "in.mp4", 10**8)
    target = tmp_path / "out.mp4"
    write_video(iter(frames), target, source)
    back = open_clip(target, "out.mp4", 10**8)
    assert (back.width, back.height, len(back.times), back.fps, back.codec) == (34, 22, 5, 12.0, "h264")
    assert video.VIDEO_SUFFIXES >= {".mp4", ".mov", ".mkv", ".avi", ".webm"}
