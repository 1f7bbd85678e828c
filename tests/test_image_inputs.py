import numpy as np
import pytest
from PIL import Image

from torchworks.errors import DataError
from torchworks.image_inputs import array_image, expand_input, input_name
from torchworks.uploads import Upload


def test_arrays_that_are_not_images_are_refused():
    with pytest.raises(DataError, match="not an image"):
        array_image(np.zeros((2, 3, 5), dtype=np.uint8))
    with pytest.raises(DataError, match=r"values in \[0, 1\]"):
        array_image(np.full((4, 4), 3.0))
    assert array_image(np.zeros((4, 4, 1), dtype=np.uint8)).mode == "L"
    assert array_image(np.full((2, 2, 3), 0.5)).getpixel((0, 0)) == (128, 128, 128)


def test_a_folder_lists_only_the_suffixes_asked_for_in_order(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt", ".hidden.png", "sub/c.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    names = [name for _, name in expand_input(tmp_path, {".png", ".jpg"})]
    assert names == [str(tmp_path / "a.jpg"), str(tmp_path / "b.png")]
    with_videos = [name for _, name in expand_input(tmp_path, {".png", ".jpg", ".mp4"})]
    assert with_videos[-1] == str(tmp_path / "sub" / "c.mp4")


def test_a_csv_lists_paths_relative_to_its_folder_and_a_csv_of_texts_is_refused(tmp_path):
    (tmp_path / "list.csv").write_text("path\nimgs/one.png\n/abs/two.jpg\n")
    assert [name for _, name in expand_input(tmp_path / "list.csv", {".png", ".jpg"})] == \
        [str(tmp_path / "imgs" / "one.png"), "/abs/two.jpg"]
    (tmp_path / "texts.csv").write_text("text\nhello there\n")
    with pytest.raises(DataError, match="lists no image files"):
        expand_input(tmp_path / "texts.csv", {".png"})


def test_memory_inputs_keep_their_kind_and_get_names():
    upload = Upload("street.png", b"\x89PNG")
    assert expand_input(upload, {".png"}) == [(upload, "street.png")]
    picture = Image.new("RGB", (5, 4))
    assert expand_input(picture, {".png"})[0][1] == "<image 5x4>"
    assert input_name(np.zeros((4, 5, 3), dtype=np.uint8)) == "<array 4x5x3>"
    with pytest.raises(DataError, match="does not exist"):
        expand_input("/no/such/file.png", {".png"})
    with pytest.raises(DataError, match="cannot predict on this input"):
        expand_input(3.5, {".png"})
