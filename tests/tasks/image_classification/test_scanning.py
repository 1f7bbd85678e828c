"""D1: every image is decoded once before training; bad files fail naming the file, or are skipped and counted."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from torchworks.errors import DataError
from torchworks.tasks.image_classification.scanning import scan_images
from torchworks.tasks.image_classification.sources import LabelledFile, find_labelled_files

MAX_PIXELS = 60_000_000


def _scan(files, bad_files="fail", cache="true", short_side=8, max_pixels=MAX_PIXELS):
    return scan_images(files, short_side, max_pixels, bad_files, cache, progress=False)


def _bomb(path: Path) -> Path:
    """A valid 20000x20000 1-bit PNG of a few tens of KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    block = b"\x00" * 2501 * 1000
    idat = b"".join(packer.compress(block) for _ in range(20)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", 20_000, 20_000, 1, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def mixed_dir(tmp_path, write_image) -> Path:
    """Two classes of mixed modes and sizes, upper-case extensions included."""
    rng = np.random.default_rng(0)
    root = tmp_path / "mixed"
    write_image(root / "cat" / "gray.PNG", rng.integers(0, 255, (20, 30), dtype=np.uint8))
    write_image(root / "cat" / "rgb.JPG", rng.integers(0, 255, (40, 16, 3), dtype=np.uint8))
    write_image(root / "cat" / "rgba.png", rng.integers(0, 255, (9, 9, 4), dtype=np.uint8), "RGBA")
    deep = root / "dog" / "deep.png"
    deep.parent.mkdir(parents=True)
    from PIL import Image

    Image.fromarray(rng.integers(0, 65535, (12, 12), dtype=np.uint16)).save(deep)
    write_image(root / "dog" / "small.bmp", rng.integers(0, 255, (8, 64, 3), dtype=np.uint8))
    return root


def test_mixed_modes_and_sizes_decode_to_the_short_side(mixed_dir):
    files, _ = find_labelled_files(str(mixed_dir))
    result = _scan(files)
    assert len(result.files) == 5 and result.skipped == []
    assert all(min(p.shape[:2]) == 8 and p.dtype == np.uint8 for p in result.pixels)
    by_name = {f.path.name: (p, g) for f, p, g in zip(result.files, result.pixels, result.gray)}
    assert by_name["gray.PNG"][1] and by_name["deep.png"][1]
    assert not by_name["rgb.JPG"][1] and by_name["rgba.png"][0].shape[2] == 3
    assert sorted(result.native_short_sides) == [8, 9, 12, 16, 20]
    assert result.channel_means.shape == (5, 3) and ((0 <= result.channel_means) & (result.channel_means <= 1)).all()


def test_cache_false_keeps_no_pixels(mixed_dir):
    files, _ = find_labelled_files(str(mixed_dir))
    result = _scan(files, cache="false")
    assert result.pixels is None and len(result.files) == 5


@pytest.fixture
def with_bad_files(shapes_dir) -> dict[str, Path]:
    bad = {"zero": shapes_dir / "circle" / "zero.png", "truncated": shapes_dir / "square" / "truncated.png",
           "text": shapes_dir / "stripes" / "text.jpg"}
    bad["zero"].write_bytes(b"")
    good = (shapes_dir / "square" / "000.png").read_bytes()
    bad["truncated"].write_bytes(good[: len(good) // 2])
    bad["text"].write_text("not a jpeg")
    return bad


@pytest.mark.parametrize("kind", ["zero", "truncated", "text"])
def test_bad_file_fails_naming_the_file(shapes_dir, with_bad_files, kind):
    bad = with_bad_files[kind]
    files = [f for f in find_labelled_files(str(shapes_dir))[0]
             if f.path == bad or f.path.name.startswith("00")]
    with pytest.raises(DataError) as info:
        _scan(files, bad_files="fail")
    assert str(bad) in info.value.what
    assert "bad_files=skip" in info.value.hint


def test_bad_files_are_skipped_and_counted(shapes_dir, with_bad_files):
    files, _ = find_labelled_files(str(shapes_dir))
    result = _scan(files, bad_files="skip")
    assert len(result.files) == 36
    assert sorted(s["file"] for s in result.skipped) == sorted(str(p) for p in with_bad_files.values())
    assert all(s["reason"] for s in result.skipped)
    assert not {f.path for f in result.files} & set(with_bad_files.values())


def test_skipped_files_are_named_on_the_console_with_their_reasons(shapes_dir, with_bad_files, capsys):
    files, _ = find_labelled_files(str(shapes_dir))
    _scan(files, bad_files="skip")

    lines = [line for line in capsys.readouterr().err.splitlines() if "skipped" in line]
    assert len(lines) == 1, "one line, however long, never wrapped"
    assert "skipped 3 unreadable images (bad_files=skip):" in lines[0]
    for name, reason in (("circle/zero.png", "not an image"), ("square/truncated.png", "truncated"),
                         ("stripes/text.jpg", "not an image")):
        assert f"{name} ({reason})" in lines[0]
    assert str(shapes_dir) not in lines[0], "names, not long paths"


def test_a_clean_scan_prints_nothing(mixed_dir, capsys):
    files, _ = find_labelled_files(str(mixed_dir))
    _scan(files)
    assert capsys.readouterr().err == ""


def test_bomb_in_the_data_is_a_bad_file(shapes_dir):
    bomb = _bomb(shapes_dir / "circle" / "bomb.png")
    files, _ = find_labelled_files(str(shapes_dir))
    with pytest.raises(DataError) as info:
        _scan(files, bad_files="fail")
    assert str(bomb) in info.value.what and "pixels" in info.value.got
    result = _scan(files, bad_files="skip")
    assert [s["file"] for s in result.skipped] == [str(bomb)]


def test_over_max_pixels_is_a_bad_file(shapes_dir):
    files, _ = find_labelled_files(str(shapes_dir))
    with pytest.raises(DataError, match="exceeds max_pixels=255"):
        _scan(files, bad_files="fail", max_pixels=255)
    assert len(_scan(files, bad_files="skip", max_pixels=255).skipped) == 36


def test_csv_row_pointing_at_a_missing_file_names_the_row(tmp_path, write_image):
    write_image(tmp_path / "a.png", np.zeros((8, 8), dtype=np.uint8))
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\na.png,cat\nmissing.png,dog\n")
    files, _ = find_labelled_files(str(csv))
    with pytest.raises(DataError) as info:
        _scan(files, bad_files="fail")
    assert f"{csv} row 3" in info.value.what and info.value.got == "file not found"


def test_order_of_results_follows_the_input(shapes_dir):
    files, _ = find_labelled_files(str(shapes_dir))
    files = list(reversed(files))
    result = _scan(files, bad_files="fail", cache="true")
    assert result.files == files
    assert isinstance(result.files[0], LabelledFile)
