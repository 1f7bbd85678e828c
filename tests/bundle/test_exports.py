"""Exports are loaded only as written: from exports/, hash as recorded, no external data (M2, M5)."""

from __future__ import annotations

import json
import shutil

import onnx
import pytest
from onnx import TensorProto, helper

from torchworks.bundle.exports import record_export, verified_export
from torchworks.bundle.io import read_bundle
from torchworks.errors import BundleError


@pytest.fixture
def exported(image_run, tmp_path):
    return shutil.copytree(image_run, tmp_path / "run")  # image_run carries an ONNX export


def test_an_untouched_export_verifies(exported):
    path, entry = verified_export(read_bundle(exported), "onnx")
    assert path == exported / "exports" / "model.onnx" and entry["inputs"] == ["input"]


def test_one_flipped_byte_is_refused(exported):
    path = exported / "exports" / "model.onnx"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="changed after it was written"):
        verified_export(read_bundle(exported), "onnx")


def test_an_export_pointing_elsewhere_or_a_symlink_is_refused(exported, tmp_path):
    manifest = json.loads((exported / "bundle.json").read_text())
    manifest["exports"]["onnx"]["file"] = "../../elsewhere.onnx"
    (exported / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="not where torchworks writes it"):
        verified_export(read_bundle(exported), "onnx")

    manifest["exports"]["onnx"]["file"] = "exports/model.onnx"
    (exported / "bundle.json").write_text(json.dumps(manifest))
    foreign = tmp_path / "foreign.onnx"
    shutil.move(exported / "exports" / "model.onnx", foreign)
    (exported / "exports" / "model.onnx").symlink_to(foreign)
    with pytest.raises(BundleError, match="not where torchworks writes it"):
        verified_export(read_bundle(exported), "onnx")


def test_a_missing_export_says_how_to_make_one(exported):
    with pytest.raises(BundleError, match="torchworks export"):
        verified_export(read_bundle(exported), "torchscript")


@pytest.mark.parametrize("location", ["../../secret.bin", "/etc/passwd", "weights.bin"])
def test_onnx_external_data_is_refused_before_any_session(exported, location):
    """Even with its hash recorded (an attacker who also edited bundle.json), an ONNX file whose
    weights live in an outside file is refused."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
    weight.data_location = TensorProto.EXTERNAL
    del weight.float_data[:]
    entry = weight.external_data.add()
    entry.key, entry.value = "location", location
    graph = helper.make_graph([helper.make_node("Add", ["input", "w"], ["output"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])], [weight])
    onnx.save(helper.make_model(graph), str(exported / "exports" / "model.onnx"))
    bundle = read_bundle(exported)
    record_export(bundle, "onnx", {"inputs": ["input"], "status": "passed"})  # the hash now matches the planted file
    with pytest.raises(BundleError, match="outside file"):
        verified_export(read_bundle(exported), "onnx")
