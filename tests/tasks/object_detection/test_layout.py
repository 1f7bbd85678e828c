import pytest

from torchworks.errors import DataError
from torchworks.tasks.object_detection.layout import detect_layout, read_detection_data

CATS = [{"id": 1, "name": "box"}]


def test_a_json_file_and_a_folder_with_one_json_read_as_coco(tmp_path, png, coco):
    png(tmp_path / "a.png")
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}],
                [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}], CATS)
    assert detect_layout(path) == ("coco-file", path)
    assert detect_layout(tmp_path) == ("coco-file", path)
    data = read_detection_data(str(path))
    assert data.format == "COCO" and data.classes == ["box"] and len(data.images) == 1
    assert data.summary() == "COCO: 1 images (all 1), 1 boxes, 1 classes, 0 images without boxes"


def test_a_coco_folder_a_yolo_yaml_or_its_folder_and_a_voc_folder_are_told_apart(tmp_path, png, coco):
    coco_dir = tmp_path / "coco"
    png(coco_dir / "train" / "a.png")
    coco(coco_dir / "annotations" / "instances_train.json", [{"id": 1, "file_name": "a.png"}], [], CATS)
    assert detect_layout(coco_dir)[0] == "coco-folder"
    assert read_detection_data(coco_dir).splits["train"][0].path == coco_dir / "train" / "a.png"

    yolo_dir = tmp_path / "yolo"
    png(yolo_dir / "images" / "train" / "a.png")
    (yolo_dir / "data.yaml").write_text("train: images/train\nnames: [box]\n")
    assert detect_layout(yolo_dir) == ("yolo", yolo_dir / "data.yaml")
    assert detect_layout(yolo_dir / "data.yaml")[0] == "yolo"
    assert read_detection_data(yolo_dir).format == "YOLO"

    voc_dir = tmp_path / "VOCdevkit" / "VOC2012"
    png(voc_dir / "JPEGImages" / "a.png")
    (voc_dir / "Annotations").mkdir()
    (voc_dir / "Annotations" / "a.xml").write_text("<annotation><filename>a.png</filename></annotation>")
    assert detect_layout(voc_dir) == ("voc", voc_dir)
    assert detect_layout(tmp_path / "VOCdevkit") == ("voc", voc_dir)
    data = read_detection_data(tmp_path / "VOCdevkit")
    assert data.format == "Pascal VOC" and data.images[0].width == 32 and data.classes == []


def test_an_unknown_layout_lists_the_layouts_understood(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"not a detection data layout torchworks reads: expected a COCO JSON file"
                                        r".*YOLO data.yaml.*Pascal VOC folder") as error:
        read_detection_data(tmp_path)
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match=r"got a file ending in \.txt"):
        read_detection_data(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"does not exist"):
        read_detection_data(tmp_path / "nowhere")


def test_bad_files_and_max_pixels_pass_through_and_nothing_usable_is_an_error(tmp_path, png, coco):
    png(tmp_path / "a.png", (64, 64))
    path = coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}], [], CATS)
    with pytest.raises(DataError, match=r"image b.png named in ann.json cannot be used"):
        read_detection_data(path, bad_files="fail")
    with pytest.raises(DataError, match=r"no usable images in .*ann.json.*got 2 skipped, e.g. a.png \(64x64"):
        read_detection_data(path, max_pixels=1000)
    with pytest.raises(DataError, match=r"bad_files has an unknown value: expected skip or fail"):
        read_detection_data(path, bad_files="ignore")
