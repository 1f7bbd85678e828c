"""Detector exports: ONNX and TorchScript files of the compact detector pass the mAP parity gate, take any
batch and any size that is a multiple of 32, and their raw outputs decode (outside torchworks' runners)
to exactly the boxes the eager model predicts; an export the model does not support is recorded, not a crash."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from torchworks.bundle.exports import EXPORT_FILES
from torchworks.engine.export import export


@pytest.fixture(scope="module")
def exported(detection_run, tmp_path_factory):
    """A copy of the shared detection run with every format exported (made once for this module)."""
    run = shutil.copytree(detection_run, tmp_path_factory.mktemp("exported") / "run")
    results = export(run, "all", threads=1)
    return run, {result.format: result for result in results}


def _manifest(run):
    return json.loads((run / "bundle.json").read_text())


def test_float_exports_pass_the_map_gate_and_int8_is_recorded(exported):
    run, results = exported
    manifest = _manifest(run)
    for fmt in ("onnx", "torchscript"):
        assert results[fmt].passed, results[fmt].describe()
        parity = manifest["exports"][fmt]["parity"]
        assert parity["metric"] == "map" and parity["tolerance"] == 0.01
        # raw outputs agree to float32 rounding: box sides are pixels (tens), so their gap is judged relative
        assert abs(parity["delta"]) <= 0.01 and parity["max_abs_diff"] <= 1e-2
        assert manifest["exports"][fmt]["max_rel_diff"] <= 1e-4
        assert parity["eager"] == pytest.approx(json.loads((run / "metrics.json").read_text())["map"], abs=1e-6)
    # a convolutional detector has nothing either int8 quantizer handles: both are skipped, with why,
    # rather than an "int8" file that is the float model
    for fmt in ("onnx-int8", "torchscript-int8"):
        outcome = manifest["export_results"][fmt]
        assert results[fmt].status == outcome["status"] == "skipped", results[fmt].describe()
        assert "int8 quantization handles" in outcome["reason"]
    assert {path.name for path in (run / "exports").iterdir()} == {EXPORT_FILES["onnx"], EXPORT_FILES["torchscript"]}


def test_the_onnx_graph_names_its_free_axes(exported):
    import onnx

    run, _ = exported
    graph = onnx.load(str(run / "exports" / EXPORT_FILES["onnx"])).graph

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(i.name, dims(i)) for i in graph.input] == [("input", ["batch", 3, "height", "width"])]
    outputs = {o.name: dims(o) for o in graph.output}
    assert sorted(outputs) == sorted(f"{kind}_s{s}" for kind in ("cls", "box", "ctr") for s in (8, 16, 32))
    assert outputs["cls_s8"] == ["batch", len(_manifest(run)["state"]["labels"]), "height/8", "width/8"]
    assert outputs["box_s32"] == ["batch", 4, "height/32", "width/32"]


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exports_take_other_batches_and_sizes_that_are_multiples_of_32(exported, fmt):
    from torchworks.engine.loading import load_model
    from torchworks.engine.runners import load_runner_file

    run, results = exported
    _, _, _, model = load_model(run)
    entry = _manifest(run)["exports"][fmt]
    runner = load_runner_file(fmt, results[fmt].path, entry["inputs"], threads=1, layout=entry["outputs"])
    batch = torch.rand(3, 3, 96, 160, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = model(batch)
    got = runner(batch)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key].shape == value.shape, key
        assert ((got[key] - value).abs() / value.abs().clamp(min=1.0)).max() < 1e-4, key  # box sides: pixels


def _letterbox(picture, size):
    """The documented preprocessing, step by step: longer side scaled to ``size`` (bilinear, antialiased),
    grey (114) padding on the right and bottom, RGB scaled to [0, 1], as a [1, 3, size, size] batch."""
    import torchvision.transforms.v2.functional as F

    width, height = picture.size
    scale = size / max(height, width)
    new_height, new_width = round(height * scale), round(width * scale)
    pixels = F.pil_to_tensor(picture.convert("RGB"))
    pixels = F.resize(pixels, [new_height, new_width], antialias=True)
    pixels = F.pad(pixels, [0, 0, size - new_width, size - new_height], fill=114)
    return (pixels.float() / 255)[None], (new_height, new_width)


def test_onnx_outputs_decoded_outside_torchworks_give_the_eager_models_boxes(exported, scenes_dir):
    """What docs/tasks/object-detection.md tells a user running model.onnx in their own runtime:
    letterbox, run, ``decode``, undo the letterbox. The boxes must be those ``predict`` gives."""
    import onnxruntime as ort
    from PIL import Image

    import torchworks
    from torchworks.tasks.object_detection.decoding import decode

    run, _ = exported
    predictor = torchworks.load(run)
    labels = predictor.labels
    size = _manifest(run)["state"]["image_size"]
    session = ort.InferenceSession(str(run / "exports" / EXPORT_FILES["onnx"]), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    images = sorted((scenes_dir / "images").iterdir())[:4]
    compared = 0
    for path in images:
        picture = Image.open(path)
        width, height = picture.size
        batch, (new_height, new_width) = _letterbox(picture, size)
        outputs = dict(zip(names, (torch.from_numpy(a) for a in session.run(None, {"input": batch.numpy()}))))
        [found] = decode(outputs, (size, size), conf=0.01, iou=0.5, max_det=100)
        boxes = found["boxes"] * torch.tensor([width / new_width, height / new_height] * 2)
        boxes = torch.minimum(boxes.clamp(min=0), torch.tensor([width, height] * 2, dtype=boxes.dtype))
        inside = (boxes[:, 2] - boxes[:, 0] > 0.01) & (boxes[:, 3] - boxes[:, 1] > 0.01)
        mine = [(labels[int(label)], score, box) for box, label, score
                in zip(boxes[inside].tolist(), found["labels"][inside], found["scores"][inside].tolist())]
        [record] = predictor.predict([str(path)], conf=0.01)
        assert record["count"] == len(mine), path.name
        for label, score, box in mine:  # near-equal scores of an untrained model may swap places
            assert any(label == theirs["label"] and score == pytest.approx(theirs["score"], abs=2e-4)
                       and box == pytest.approx(theirs["xyxy"], abs=0.06) for theirs in record["boxes"]), (label, box)
        compared += len(mine)
    assert compared > 0  # a low threshold: the barely trained model still finds boxes to compare


def test_an_export_the_exporter_refuses_is_recorded_not_a_crash(detection_run, tmp_path, monkeypatch, cli):
    """torchvision's detectors hold operations the ONNX exporter may not take (roi_align, nms): that is a
    skipped format with the exporter's reason and exit 2 when it was asked for, never a traceback."""
    run = shutil.copytree(detection_run, tmp_path / "run")

    def refuse(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'torchvision::roi_align' to ONNX opset version 18 is not "
                           "supported.\nPlease feel free to request support")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    code, out, err = cli("export", str(run), "format=onnx", "threads=1")
    assert code == 2 and "Traceback" not in err
    assert "cannot be exported as onnx" in err and "torchvision::roi_align" in err
    assert "onnx: skipped (" in " ".join(out.split())
    outcome = _manifest(run)["export_results"]["onnx"]
    assert outcome["status"] == "skipped" and "roi_align" in outcome["reason"]
    assert not (run / "exports").exists() or not any((run / "exports").iterdir())
