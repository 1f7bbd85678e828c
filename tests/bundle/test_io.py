"""Bundles: safetensors + bundle.json round trip; tampered, unfinished, pickled, NaN bundles refused."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from torchworks.bundle.io import FORMAT, MANIFEST, WEIGHTS, Bundle, load_weights, read_bundle, save_weights, write_manifest
from torchworks.errors import BundleError


class Canary:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def make_bundle(folder: Path, model: torch.nn.Module | None = None) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = model or torch.nn.Linear(3, 2)
    folder.mkdir(parents=True, exist_ok=True)
    weights = save_weights(folder, model)
    write_manifest(folder, {"task": "toy", "config": {"data": "x"}, "state": {"labels": ["a", "b"]}, "weights": weights})
    return folder, model


def edit_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest.update(changes)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def rewrite_weights(folder: Path, tensors: dict[str, torch.Tensor], *, fix_hash: bool = True) -> None:
    """Replace the weights; optionally keep bundle.json's hash in step (a careful attacker or a bug)."""
    data = save(tensors)
    (folder / WEIGHTS).write_bytes(data)
    if fix_hash:
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest["weights"]["sha256"] = hashlib.sha256(data).hexdigest()
        manifest["weights"]["tensors"] = {k: list(v.shape) for k, v in tensors.items()}
        (folder / MANIFEST).write_text(json.dumps(manifest))


def test_round_trip_restores_the_weights(tmp_path):
    folder, model = make_bundle(tmp_path / "run")
    bundle = read_bundle(folder)
    assert isinstance(bundle, Bundle)
    assert bundle.task == "toy" and bundle.state == {"labels": ["a", "b"]} and bundle.config == {"data": "x"}
    assert bundle.weights_path == folder / WEIGHTS
    manifest = bundle.manifest
    assert manifest["format"] == FORMAT and manifest["created"] and manifest["versions"]["torch"]
    assert manifest["weights"]["sha256"] == hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
    assert manifest["weights"]["tensors"] == {"weight": [2, 3], "bias": [2]}
    fresh = torch.nn.Linear(3, 2)
    torch.nn.init.zeros_(fresh.weight)
    load_weights(bundle, fresh)
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor)


def test_no_temp_files_are_left_after_saving(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, WEIGHTS]


def test_missing_run_folder(tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        read_bundle(tmp_path / "nope")


def test_unfinished_run_without_bundle_json_says_how_to_resume(tmp_path):
    folder = tmp_path / "unfinished"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"x")
    with pytest.raises(BundleError) as info:
        read_bundle(folder)
    assert "not a finished bundle" in info.value.what and MANIFEST in info.value.what
    assert info.value.got == "an unfinished run"
    assert "resume=true name=unfinished" in info.value.hint


def test_folder_without_a_bundle(tmp_path):
    folder = tmp_path / "random"
    folder.mkdir()
    with pytest.raises(BundleError) as info:
        read_bundle(folder)
    assert info.value.got == "a folder without a bundle"


def test_weights_saved_but_manifest_missing_never_loads(tmp_path):
    """bundle.json is the commit point: a crash between the two writes leaves no loadable bundle."""
    folder = tmp_path / "crashed"
    folder.mkdir()
    save_weights(folder, torch.nn.Linear(3, 2))
    with pytest.raises(BundleError, match="not a finished bundle"):
        read_bundle(folder)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\xfa", b"[1, 2]", b'{"format": "other"}'])
def test_broken_manifest_is_refused(tmp_path, content):
    folder, _ = make_bundle(tmp_path / "run")
    (folder / MANIFEST).write_bytes(content)
    with pytest.raises(BundleError) as info:
        read_bundle(folder)
    assert MANIFEST in info.value.what


def test_manifest_from_a_newer_format_is_refused(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    edit_manifest(folder, format_version=999)
    with pytest.raises(BundleError, match="newer torchworks"):
        read_bundle(folder)


@pytest.mark.parametrize("key", ["task", "config", "state", "weights"])
def test_manifest_missing_a_key_is_refused(tmp_path, key):
    folder, _ = make_bundle(tmp_path / "run")
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest[key]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=key):
        read_bundle(folder)


# --- M1: weights that point at a pickle, outside the folder, or through a symlink ------------


def test_the_canary_works(tmp_path):
    """Control: the crafted pickle really runs code when unpickled."""
    canary = tmp_path / "control-canary"
    pickle.loads(pickle.dumps(Canary(canary)))
    assert canary.exists()


@pytest.mark.parametrize("as_torch_save", [False, True])
def test_weights_pointing_at_a_pickle_are_refused_and_never_unpickled(tmp_path, as_torch_save):
    folder, _ = make_bundle(tmp_path / "run")
    canary = tmp_path / "canary"
    evil = folder / "model.pt"
    if as_torch_save:
        torch.save(Canary(canary), evil)
    else:
        evil.write_bytes(pickle.dumps(Canary(canary)))
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["weights"]["file"] = "model.pt"
    manifest["weights"]["sha256"] = hashlib.sha256(evil.read_bytes()).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as info:
        load_weights(read_bundle(folder), torch.nn.Linear(3, 2))
    assert "model.pt" in info.value.render()
    assert not canary.exists()


def test_a_pickle_named_model_safetensors_is_refused_and_never_unpickled(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    canary = tmp_path / "canary"
    data = pickle.dumps(Canary(canary))
    (folder / WEIGHTS).write_bytes(data)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["weights"]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as info:
        load_weights(read_bundle(folder), torch.nn.Linear(3, 2))
    assert str(folder / WEIGHTS) in info.value.render()
    assert not canary.exists()


@pytest.mark.parametrize("name", ["../model.safetensors", "sub/../model.safetensors", "./model.safetensors",
                                  "/etc/passwd", "ABSOLUTE", "model.safetensors/", ""])
def test_weights_outside_the_folder_are_refused(tmp_path, name):
    folder, _ = make_bundle(tmp_path / "run")
    outside = tmp_path / WEIGHTS  # a valid file just outside the run folder
    outside.write_bytes((folder / WEIGHTS).read_bytes())
    if name == "ABSOLUTE":
        name = str(outside)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["weights"]["file"] = name
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as info:
        read_bundle(folder)
    assert "tampered" in info.value.hint


def test_weights_that_are_a_symlink_are_refused(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    real = tmp_path / "elsewhere.safetensors"
    (folder / WEIGHTS).rename(real)
    os.symlink(real, folder / WEIGHTS)
    with pytest.raises(BundleError):
        read_bundle(folder)


def test_missing_weights_file_is_refused(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    (folder / WEIGHTS).unlink()
    with pytest.raises(BundleError, match="missing"):
        read_bundle(folder)


# --- M3 / M4: tampered, mismatched or non-finite weights ------------------------------------


def test_tampered_weights_fail_the_sha256_check(tmp_path):
    folder, model = make_bundle(tmp_path / "run")
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    tensors["bias"][0] += 1.0
    rewrite_weights(folder, tensors, fix_hash=False)
    with pytest.raises(BundleError) as info:
        load_weights(read_bundle(folder), torch.nn.Linear(3, 2))
    assert "changed after training" in info.value.what
    assert str(folder / WEIGHTS) in info.value.what


def test_one_flipped_byte_fails_the_sha256_check(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-1] ^= 0x01  # inside the tensor data: header stays valid
    (folder / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="changed after training"):
        load_weights(read_bundle(folder), torch.nn.Linear(3, 2))


def test_weights_shaped_unlike_the_model_are_refused(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    with pytest.raises(BundleError) as info:
        load_weights(read_bundle(folder), torch.nn.Linear(4, 2))
    assert "do not match the model" in info.value.what
    assert "'weight' shaped [2, 3] instead of [2, 4]" in info.value.got


def test_weights_with_other_names_than_the_model_are_refused(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    with pytest.raises(BundleError) as info:
        load_weights(read_bundle(folder), torch.nn.Sequential(torch.nn.Linear(3, 2)))
    assert "missing" in info.value.got and "unexpected" in info.value.got


def test_weights_shaped_unlike_bundle_json_are_refused(tmp_path):
    folder, _ = make_bundle(tmp_path / "run")
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["weights"]["tensors"]["weight"] = [2, 4]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="do not match the bundle.json"):
        load_weights(read_bundle(folder), torch.nn.Linear(3, 2))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(tmp_path, bad):
    folder, model = make_bundle(tmp_path / "run")
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    tensors["weight"][1, 2] = bad
    rewrite_weights(folder, tensors)  # hash kept in step: only the finiteness check can catch it
    target = torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(BundleError) as info:
        load_weights(read_bundle(folder), target)
    assert "NaN or infinite" in info.value.what and "'weight'" in info.value.got
    for name, tensor in target.state_dict().items():
        assert torch.equal(tensor, before[name]), "the model was not touched"


def test_integer_buffers_are_fine(tmp_path):
    model = torch.nn.BatchNorm1d(3)  # has an int64 num_batches_tracked buffer
    folder, _ = make_bundle(tmp_path / "run", model)
    load_weights(read_bundle(folder), torch.nn.BatchNorm1d(3))


def test_a_tasks_extra_files_round_trip_with_their_hashes(tmp_path):
    from torchworks.bundle.io import read_bundle_files, save_files

    folder, _ = make_bundle(tmp_path / "run")
    entries = save_files(folder, {"item_index.faiss": b"\x00index", "notes.txt": b"hello"})
    assert entries["notes.txt"] == {"bytes": 5, "sha256": hashlib.sha256(b"hello").hexdigest()}
    edit_manifest(folder, files=entries)
    assert read_bundle_files(read_bundle(folder)) == {"item_index.faiss": b"\x00index", "notes.txt": b"hello"}
    edit_manifest(folder, files={})
    assert read_bundle_files(read_bundle(folder)) == {}


@pytest.mark.parametrize("name", ["../outside.bin", "model.safetensors", "bundle.json", "Upper.bin", "no_suffix",
                                  "a/b.bin"])
def test_a_task_cannot_write_or_a_manifest_name_a_file_outside_the_plain_names(tmp_path, name):
    from torchworks.bundle.io import read_bundle_files, save_files

    folder, _ = make_bundle(tmp_path / "run")
    with pytest.raises(ValueError, match="cannot be called"):
        save_files(folder, {name: b"x"})
    edit_manifest(folder, files={name: {"bytes": 1, "sha256": hashlib.sha256(b"x").hexdigest()}})
    with pytest.raises(BundleError, match="lists a bundle file"):
        read_bundle_files(read_bundle(folder))


def test_a_changed_linked_or_missing_extra_file_is_refused(tmp_path):
    from torchworks.bundle.io import read_bundle_files, save_files

    folder, _ = make_bundle(tmp_path / "run")
    edit_manifest(folder, files=save_files(folder, {"index.bin": b"original"}))
    (folder / "index.bin").write_bytes(b"0riginal")
    with pytest.raises(BundleError, match="changed after training"):
        read_bundle_files(read_bundle(folder))
    (folder / "index.bin").unlink()
    (tmp_path / "elsewhere.bin").write_bytes(b"original")
    (folder / "index.bin").symlink_to(tmp_path / "elsewhere.bin")
    with pytest.raises(BundleError, match="missing") as error:
        read_bundle_files(read_bundle(folder))
    assert error.value.got == "a symlink"
    edit_manifest(folder, files=["index.bin"])
    with pytest.raises(BundleError, match="malformed files entry"):
        read_bundle_files(read_bundle(folder))


def test_a_large_state_keeps_its_growing_keys_in_arrow_files_and_reads_back_whole(tmp_path, monkeypatch):
    from torchworks.bundle import io

    state = {"items": ["a", "b", "c"], "histories": [[0, 2], [], [1]], "genres": [["x"], [], ["y", "z"]],
             "popularity": [3, 0, 1], "k": 10}
    fields = ("items", "histories", "genres", "popularity", "absent")
    assert io.split_state(state, fields) == (state, {})  # small: all in bundle.json
    monkeypatch.setattr(io, "STATE_INLINE_BYTES", 10)
    inline, apart = io.split_state(state, fields)
    assert inline == {"k": 10} and set(apart) == {"items", "histories", "genres", "popularity"}
    folder = tmp_path / "run"
    folder.mkdir()
    weights = save_weights(folder, torch.nn.Linear(3, 2))
    write_manifest(folder, {"task": "toy", "config": {}, "state": inline, "weights": weights,
                            "state_files": io.save_state_files(folder, apart)})
    assert (folder / "state_histories.arrow").is_file()
    assert read_bundle(folder).state == state
    data = bytearray((folder / "state_items.arrow").read_bytes())
    data[-3] ^= 1
    (folder / "state_items.arrow").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="changed after training"):
        read_bundle(folder)
