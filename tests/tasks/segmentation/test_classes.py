"""The class map: classes.yaml's grammar and its refusals, classes inferred from mask values, colours, and
the coder from stored values or colours to class indices."""

from __future__ import annotations

import numpy as np
import pytest

from torchworks.errors import ConfigError, DataError
from torchworks.tasks.segmentation.classes import (
    ClassMap,
    MaskCoder,
    class_map_of_state,
    colour_code,
    distinct_colours,
    filled_colours,
    infer_class_map,
    read_class_map,
)


def class_file(tmp_path, text: str):
    path = tmp_path / "classes.yaml"
    path.write_text(text)
    return path


def test_a_mapping_of_values_and_colours_is_read_ordered_by_value(tmp_path):
    path = class_file(tmp_path, "road: {value: 2, colour: '#804080'}\nbackground: 0\n"
                                "car: {value: 1, colour: [0, 0, 142]}\n")
    classes = read_class_map(path)
    assert classes.names == ["background", "car", "road"]
    assert classes.values == [0, 1, 2]
    assert classes.colours == [None, (0, 0, 142), (128, 64, 128)]
    assert classes.source == str(path) and classes.has_colours


def test_a_list_of_names_takes_positions_and_color_is_accepted_for_colour(tmp_path):
    assert read_class_map(class_file(tmp_path, "- background\n- cat\n- dog\n")).values == [0, 1, 2]
    classes = read_class_map(class_file(tmp_path, "sky: {color: [0, 0, 255]}\nground: {colour: [0, 255, 0]}\n"))
    assert classes.names == ["sky", "ground"] and classes.values == [0, 1]  # colour only: value = position
    assert classes.colours == [(0, 0, 255), (0, 255, 0)]


@pytest.mark.parametrize("text, words", [
    ("background: 0\ncar: 0\n", ["'background'", "'car'", "same value"]),
    ("a: {value: 0, colour: [1, 2, 3]}\nb: {value: 1, colour: '#010203'}\n", ["'a'", "'b'", "same colour"]),
    ("car: 1\ncar: 2\n", ["class 'car' appears twice", "line 2"]),
    ("- car\n- car\n", ["class 'car' appears twice"]),
    ("car: {value: 1, colur: [1, 2, 3]}\n", ["'car'", "unknown key 'colur'", "did you mean 'colour'"]),
    ("car: 1.5\n", ["'car'", "1.5"]),
    ("car: true\n", ["'car'", "True"]),
    ("car: '1'\n", ["'car'", "'1'"]),
    ("car: 70000\n", ["'car'", "0..65535"]),
    ("car: {value: 1, colour: [1, 2]}\n", ["'car'", "not RGB"]),
    ("car: {value: 1, colour: '#12345'}\n", ["'car'", "not RGB"]),
    ("car: {value: 1, colour: [1, 2, 300]}\n", ["'car'", "not RGB"]),
    ("car: {}\n", ["'car'", "neither a value nor a colour"]),
    ("0: background\n", ["class name 0", "name first"]),
    ("", ["holds no classes"]),
    ("car: [1\n", ["not valid YAML", "line"]),
])
def test_bad_class_maps_raise_a_config_error_naming_the_file_and_class(tmp_path, text, words):
    path = class_file(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        read_class_map(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message


def test_a_missing_class_map_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_class_map(tmp_path / "nope.yaml")


def test_binary_masks_infer_background_and_foreground():
    classes = infer_class_map({0, 255}, raw_ignore=255)
    assert classes.names == ["background", "foreground"] and classes.values == [0, 255]


def test_index_masks_infer_a_class_per_value_and_leave_the_ignore_value_out():
    classes = infer_class_map([0, 1, 2, 255, 1], raw_ignore=255)
    assert classes.names == ["background", "class_1", "class_2"] and classes.values == [0, 1, 2]
    assert infer_class_map({3, 7}, raw_ignore=None).names == ["class_3", "class_7"]


def test_palette_masks_of_0_and_255_are_not_binary_there_255_is_a_border():
    with pytest.raises(DataError, match="fewer than two classes"):
        infer_class_map({0, 255}, raw_ignore=255, binary_allowed=False)


def test_one_value_or_instance_ids_are_data_errors():
    with pytest.raises(DataError, match="fewer than two classes"):
        infer_class_map({0}, raw_ignore=255)
    with pytest.raises(DataError, match="instance ids"):
        infer_class_map(range(400), raw_ignore=None)


def test_distinct_colours_start_black_avoid_taken_colours_and_never_repeat():
    colours = distinct_colours(40, taken=[(242, 24, 24)])
    assert colours[0] == (0, 0, 0) and len(set(colours)) == 40 and (242, 24, 24) not in colours
    assert all(0 <= c <= 255 for colour in colours for c in colour)
    assert distinct_colours(5) == distinct_colours(5)  # fixed


def test_filled_colours_keep_declared_ones_and_use_a_palette_pngs_colours():
    classes = ClassMap(["background", "car", "road"], [0, 1, 2], [None, (0, 0, 0), None], "x")
    filled = filled_colours(classes)
    assert filled[1] == [0, 0, 0] and len({tuple(c) for c in filled}) == 3
    palette = [(0, 0, 0), (128, 0, 0), (0, 128, 0)]
    inferred = ClassMap(["background", "class_1", "class_2"], [0, 1, 2], [None] * 3, "x")
    assert filled_colours(inferred, palette) == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]


def test_the_state_gives_back_its_class_map():
    state = {"labels": ["background", "lesion"], "values": [0, 255], "colours": [[0, 0, 0], [255, 64, 64]]}
    classes = class_map_of_state(state)
    assert classes.names == ["background", "lesion"] and classes.values == [0, 255]
    assert classes.colours == [(0, 0, 0), (255, 64, 64)]


def test_the_coder_maps_values_to_indices_and_undeclared_ignore_values_to_the_ignore_index():
    coder = MaskCoder(ClassMap(["background", "a", "b"], [0, 10, 20], [None] * 3, "x"), colour=False,
                      raw_ignore=255, ignore_index=255)
    raw = np.array([[0, 10], [20, 255]], dtype=np.uint8)
    assert coder.encode(raw, "m.png").tolist() == [[0, 1], [2, 255]]
    assert coder.encode(raw.astype(np.int32), "m.png").tolist() == [[0, 1], [2, 255]]  # the hashed path
    with pytest.raises(DataError, match="values 3, 70000 not declared"):
        coder.encode(np.array([[0, 70000, 3]], dtype=np.int64), "m.png")
    pixels, ignored = coder.class_pixels(np.array([0, 20, 255]), np.array([5, 3, 2]), "m.png")
    assert pixels.tolist() == [5, 0, 3] and ignored == 2


def test_a_declared_class_wins_over_the_ignore_value():
    coder = MaskCoder(ClassMap(["background", "lesion"], [0, 255], [None, None], "x"), colour=False,
                      raw_ignore=255, ignore_index=255)
    assert coder.encode(np.array([[0, 255]], dtype=np.uint8), "m.png").tolist() == [[0, 1]]


def test_undeclared_values_raise_a_data_error_listing_them_and_the_declared_ones():
    coder = MaskCoder(ClassMap(["a", "b", "c"], [0, 1, 2], [None] * 3, "classes.yaml"), colour=False,
                      raw_ignore=255, ignore_index=255)
    with pytest.raises(DataError) as error:
        coder.encode(np.array([[0, 7], [9, 7]], dtype=np.uint8), "masks/a.png")
    message = str(error.value)
    assert "masks/a.png" in message and "values 7, 9 not declared; declared 0, 1, 2" in message
    with pytest.raises(DataError, match="JPEG"):
        coder.class_pixels(np.array([0, 3]), np.array([1, 1]), "masks/a.jpg")


def test_colour_masks_are_coded_by_colour_and_unknown_colours_are_listed_as_rgb():
    classes = ClassMap(["background", "road"], [0, 1], [(0, 0, 0), (128, 64, 128)], "classes.yaml")
    coder = MaskCoder(classes, colour=True, raw_ignore=255, ignore_index=255)
    rgb = np.array([[[0, 0, 0], [128, 64, 128]]], dtype=np.uint8)
    assert coder.encode(colour_code(rgb), "m.png").tolist() == [[0, 1]]
    strange = np.array([[[1, 2, 3], [4, 5, 6], [0, 0, 0]]], dtype=np.uint8)
    with pytest.raises(DataError) as error:
        coder.encode(colour_code(strange), "masks/m.png")
    assert "masks/m.png" in str(error.value) and "(1, 2, 3), (4, 5, 6) not declared" in str(error.value)


def test_an_ignore_index_that_is_a_class_index_is_refused():
    with pytest.raises(ValueError):
        MaskCoder(ClassMap(["a", "b"], [0, 1], [None, None], "x"), colour=False, raw_ignore=None, ignore_index=1)
