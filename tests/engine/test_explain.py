"""The explain mode: where results go (never over anything), what they hold, and the model left as it was."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import torchworks
from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError, DataError, OutputError
from torchworks.tasks.image_classification.task import ImageClassification


@pytest.fixture
def run(image_run, tmp_path):
    """A private copy of the shared image run (explanations are written inside it)."""
    return shutil.copytree(image_run, tmp_path / "run")


def test_results_go_to_a_new_folder_in_the_run_with_json_pngs_and_a_self_contained_page(run, shapes_dir):
    images = [str(shapes_dir / "circle" / "000.png"), str(shapes_dir / "square")]
    result = torchworks.explain(run, images, method="saliency")
    assert result.path.parent == run / "explanations" and result.method == "saliency"
    document = json.loads((result.path / "explanations.json").read_text())
    assert document["task"] == "image-classification" and document["method"] == "saliency"
    assert document["explanations"] == result.records and len(result.records) == 1 + 12
    for record in result.records:
        assert {"input", "prediction", "method", "target", "attributions", "figures"} <= set(record)
        assert all((result.path / name).is_file() for name in record["figures"])
    page = (result.path / "explanation.html").read_text()
    assert page.count("data:image/png;base64,") == 13 and "http" not in page.replace("http-equiv", "")
    assert not list(run.glob("explanations/.*")), "no temporary folder is left behind"
    again = torchworks.explain(run, images[:1])
    assert again.path != result.path and again.method == "gradcam", "a second run never reuses a folder"


def test_an_output_folder_must_be_new_or_empty(run, shapes_dir, tmp_path):
    image = str(shapes_dir / "circle" / "000.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert torchworks.explain(run, image, output=empty).path == empty
    document = json.loads((empty / "explanations.json").read_text())
    assert [record["input"] for record in document["explanations"]] == [image] and document["method"] == "gradcam"
    with pytest.raises(OutputError, match="already exists") as info:
        torchworks.explain(run, image, output=empty)
    assert "a folder with files in it" in info.value.got
    nested = tmp_path / "new" / "deeper"
    page = (torchworks.explain(run, image, output=nested).path / "explanation.html").read_text()
    assert page.count("data:image/png;base64,") == 1


def test_a_corrupt_input_is_named_and_nothing_is_written(run, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    with pytest.raises(DataError, match="broken.png"):
        torchworks.explain(run, str(broken))
    with pytest.raises(DataError, match="broken.png"):
        torchworks.explain(run, str(broken), output=tmp_path / "out")
    assert not (run / "explanations").exists() and not (tmp_path / "out").exists()


def test_unknown_methods_and_settings_get_a_suggestion_and_a_task_without_methods_says_so(run, shapes_dir,
                                                                                       monkeypatch):
    image = str(shapes_dir / "circle" / "000.png")
    with pytest.raises(ConfigError, match="unknown explain method 'gradcan'") as info:
        torchworks.explain(run, image, method="gradcan")
    assert info.value.hint == "did you mean 'gradcam'?" and "occlusion" in info.value.expected
    with pytest.raises(ConfigError, match="unknown explain setting 'step'") as info:
        torchworks.explain(run, image, step=3)
    assert info.value.hint == "did you mean 'steps'?"
    monkeypatch.setattr(ImageClassification, "modes", ("train", "evaluate", "predict"))
    with pytest.raises(ConfigError, match="image-classification models cannot be explained"):
        torchworks.explain(run, image)
    assert not (run / "explanations").exists()


@pytest.mark.parametrize("method", ImageClassification.explain_methods)
def test_the_model_comes_back_as_it_was_even_from_inside_inference_mode(method, image_run, shapes_dir):
    bundle, task, _, model = load_model(image_run)
    model.train()
    model.head.requires_grad_(False)
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    with torch.inference_mode():  # as a server runs
        explain_items(task, model, bundle.state, [str(shapes_dir / "circle" / "000.png")], method=method,
                      options={"steps": "4"} if method == "integrated_gradients" else {})
    assert all(module.training for module in model.modules())
    assert {name: p.requires_grad for name, p in model.named_parameters()} == before
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in model.modules())


def test_a_predictor_explains_in_memory(image_run, shapes_dir):
    predictor = torchworks.load(image_run)
    (explanation,) = predictor.explain(str(shapes_dir / "circle" / "000.png"), method="occlusion", window=4)
    assert explanation.record["attributions"]["window"] == 4 and explanation.figures["overlay"][:4] == b"\x89PNG"
    assert not (image_run / "explanations").exists()
