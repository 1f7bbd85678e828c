"""Both registry stores behind one interface: versions, aliases, promotion, rollback, lineage,
concurrent writers, unsafe names and archives, and foreign MLflow models."""

from __future__ import annotations

import io
import json
import multiprocessing
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from torchworks.errors import BundleError, ConfigError
from torchworks.registry import open_registry, resolve_registry_reference


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shapes_images(run: Path) -> list[str]:
    """The images ``image_run`` was trained on (``<root>/shapes``, the run being ``<root>/runs/<task>/shapes``)."""
    return sorted(str(p) for p in (run.parents[2] / "shapes").rglob("*.png"))[::6]


@pytest.fixture(params=["dir", "mlflow"])
def location(request, tmp_path) -> str:
    return f"dir:{tmp_path / 'registry'}" if request.param == "dir" else f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"


def test_versions_aliases_promotion_and_rollback(location, image_run):
    registry = open_registry(location)
    first = registry.add(image_run, "shapes")
    second = registry.add(image_run, "shapes")
    assert (first.version, second.version) == (1, 2)
    source = json.loads((image_run / "bundle.json").read_text())
    assert json.loads((second.bundle / "bundle.json").read_text()) == source
    assert not (second.bundle / "checkpoints").exists() and second.bundle != first.bundle
    assert second.lineage["task"] == "image-classification"
    assert second.lineage["data_fingerprint"] == source["data"]["fingerprint"] and source["data"]["fingerprint"]
    assert second.lineage["weights_sha256"] == _sha256(image_run / "model.safetensors") == source["weights"]["sha256"]
    assert _sha256(second.bundle / "model.safetensors") == second.lineage["weights_sha256"]
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert second.lineage["metrics"]["accuracy"] == pytest.approx(metrics["accuracy"])
    assert second.lineage["metrics"]["test_samples"] == metrics["test_samples"] == 6

    registry.promote("shapes", 1, "production")
    assert resolve_registry_reference("shapes@production", location).version == 1
    registry.promote("shapes", 2, "production")
    assert registry.get("shapes", alias="production").version == 2
    assert registry.versions("shapes")[1].aliases == ["production"]
    assert registry.rollback("shapes", "production").version == 1
    assert resolve_registry_reference("shapes", location).version == 2  # the latest
    assert resolve_registry_reference("shapes/2", location).bundle == second.bundle
    with pytest.raises(ConfigError, match="nothing to roll back"):
        registry.rollback("shapes", "production")


def test_a_registered_copy_survives_its_run(location, image_run, tmp_path):
    import shutil

    import torchworks

    run = shutil.copytree(image_run, tmp_path / "run")
    version = open_registry(location).add(run, "shapes")
    shutil.rmtree(run)
    assert _sha256(version.bundle / "model.safetensors") == _sha256(image_run / "model.safetensors")
    images = _shapes_images(image_run)
    assert len(images) == 6
    # the copy loads on its own and answers exactly as the original does
    assert torchworks.load(version.bundle).predict(images) == torchworks.load(image_run).predict(images)


@pytest.mark.parametrize("bad", ["../x", "/abs", "a#b", "//proc/self/root", "file:///etc", "", "a" * 65, "x/../../y"])
def test_unsafe_names_are_refused(location, image_run, bad):
    registry = open_registry(location)
    with pytest.raises(ConfigError):
        registry.add(image_run, bad)
    with pytest.raises(ConfigError):
        resolve_registry_reference(bad, location)


@pytest.mark.parametrize("alias", ["latest", "v3", "../x", "pro duction"])
def test_unsafe_aliases_are_refused(location, image_run, alias):
    registry = open_registry(location)
    registry.add(image_run, "shapes")
    with pytest.raises(ConfigError):
        registry.promote("shapes", 1, alias)


def test_unknown_names_versions_and_aliases_say_what_exists(location, image_run):
    registry = open_registry(location)
    registry.add(image_run, "shapes")
    with pytest.raises(ConfigError, match="shapes"):
        registry.get("shape")
    with pytest.raises(ConfigError, match="no version 9"):
        registry.get("shapes", version=9)
    with pytest.raises(ConfigError, match="no alias 'production'"):
        registry.get("shapes", alias="production")


def test_a_tampered_bundle_is_not_registered(location, image_run, tmp_path):
    import shutil

    run = shutil.copytree(image_run, tmp_path / "run")
    (run / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(BundleError):
        open_registry(location).add(run, "shapes")
    assert open_registry(location).names() == []


# ------------------------------------------------------------------ archives (M6)
def _tar(path: Path, entries: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return path


def test_a_run_archive_registers(location, image_run, tmp_path):
    archive = tmp_path / "run.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle_tar:
        bundle_tar.add(image_run, arcname="shapes")
    version = open_registry(location).add(archive, "shapes")
    assert version.version == 1
    assert _sha256(version.bundle / "model.safetensors") == _sha256(image_run / "model.safetensors")
    assert json.loads((version.bundle / "bundle.json").read_text()) == json.loads((image_run / "bundle.json").read_text())
    assert version.lineage["weights_sha256"] == _sha256(image_run / "model.safetensors")


@pytest.mark.parametrize("entry", ["../escape.txt", "/tmp/absolute-escape.txt", "a/../../escape.txt"])
def test_archives_with_unsafe_paths_are_refused_and_write_nothing(location, tmp_path, entry):
    archive = _tar(tmp_path / "bad.tar.gz", {entry: b"owned", "run/bundle.json": b"{}"})
    with pytest.raises(BundleError, match="unsafe entry"):
        open_registry(location).add(archive, "shapes")
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/absolute-escape.txt").exists()


def test_archives_with_links_are_refused(location, tmp_path):
    archive = _tar(tmp_path / "bad.tar.gz", {"run/bundle.json": b"{}"}, links={"run/model.safetensors": "/etc/passwd"})
    with pytest.raises(BundleError, match="unsafe entry"):
        open_registry(location).add(archive, "shapes")


def test_zip_with_traversal_is_refused(location, tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as bundle_zip:
        bundle_zip.writestr("../../escape.txt", b"owned")
    with pytest.raises(BundleError, match="unsafe entry"):
        open_registry(location).add(archive, "shapes")
    assert not (tmp_path.parent / "escape.txt").exists()


# ---------------------------------------------------------- concurrency (R1, R2)
def _register_many(location: str, run: str, count: int) -> None:
    registry = open_registry(location)
    for _ in range(count):
        registry.add(Path(run), "shapes")


def test_two_processes_registering_at_once_lose_nothing(location, image_run):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_register_many, args=(location, str(image_run), 3)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
        assert worker.exitcode == 0
    assert [v.version for v in open_registry(location).versions("shapes")] == [1, 2, 3, 4, 5, 6]


def test_readers_never_see_a_missing_alias_during_promotions(location, image_run):
    registry = open_registry(location)
    registry.add(image_run, "shapes")
    registry.add(image_run, "shapes")
    registry.promote("shapes", 1, "production")
    seen, stop = [], threading.Event()

    def poll() -> None:
        reader = open_registry(location)
        while not stop.is_set():
            versions = reader.versions("shapes")
            seen.append(sum("production" in v.aliases for v in versions))

    thread = threading.Thread(target=poll)
    thread.start()
    for number in range(40):
        registry.promote("shapes", 2 - number % 2, "production")
    stop.set()
    thread.join()
    assert seen and set(seen) == {1}


# ------------------------------------------------------------ foreign models (R4)
def test_a_version_registered_through_an_mlflow_flavor_is_refused(tmp_path, image_run):
    location = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = open_registry(location)
    registry.add(image_run, "shapes")
    pickled = tmp_path / "pickled-model"
    pickled.mkdir()
    (pickled / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n")
    (pickled / "model.pkl").write_bytes(b"\x80\x04cos\nsystem\n.")
    registry.client.create_model_version("shapes", source=pickled.as_uri())
    with pytest.raises(BundleError, match="not registered by torchworks"):
        resolve_registry_reference("shapes/2", location)
    assert resolve_registry_reference("shapes/1", location).version == 1


def test_cli_registry_round_trip(tmp_path, image_run):
    from typer.testing import CliRunner

    from torchworks.cli.main import app

    location = f"dir:{tmp_path / 'reg'}"
    runner = CliRunner()
    added = runner.invoke(app, ["registry", "add", str(image_run), "--name", "shapes", "--alias", "staging",
                                "--registry", location])
    assert added.exit_code == 0 and "registered shapes version 1 as staging" in added.output
    runner.invoke(app, ["registry", "add", str(image_run), "--name", "shapes", "--registry", location])
    promoted = runner.invoke(app, ["registry", "promote", "shapes", "2", "--alias", "staging", "--registry", location])
    assert "shapes@staging -> version 2" in promoted.output
    listed = runner.invoke(app, ["registry", "list", "shapes", "--registry", location])
    assert listed.exit_code == 0 and "staging" in listed.output and "image-classification" in listed.output
    rolled = runner.invoke(app, ["registry", "rollback", "shapes", "--alias", "staging", "--registry", location])
    assert "shapes@staging -> version 1" in rolled.output
    assert json.loads((tmp_path / "reg" / "shapes" / "index.json").read_text())["aliases"]["staging"] == [1]
