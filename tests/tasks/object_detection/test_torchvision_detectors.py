"""torchvision detectors behind one interface: labels 0..C-1, padded detections, losses, COCO weights offline."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torchvision

from torchworks.errors import ConfigError
from torchworks.tasks.object_detection.torchvision_detectors import (
    MAX_DETECTIONS,
    TORCHVISION_MODELS,
    TorchvisionDetector,
    cached_weights_path,
    check_torchvision_model,
    pretrained_detector_state,
)

CLASSES = 3
FAST = ("fasterrcnn_mobilenet_v3_large_320_fpn", "ssdlite320_mobilenet_v3_large")
#: The smallest side each model is exercised at: the ResNet-50 ones are slow at any size on a CPU.
SIZES = {name: 64 if "resnet50" in name else 96 for name in TORCHVISION_MODELS}


@pytest.fixture(scope="module")
def detectors():
    """Each model once for the module, random weights, ``CLASSES`` classes."""
    torch.manual_seed(0)
    # 64 sampled RoIs per image for Faster R-CNN instead of 512: the same path, less work
    return {name: TorchvisionDetector(name, CLASSES, SIZES[name], rois_per_image=64) for name in TORCHVISION_MODELS}


def batch_with_an_empty_image(size: int) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    images = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    s = size / 64
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 50.0], [30.0, 30.0, 60.0, 62.0]]) * s,
                "labels": torch.tensor([0, CLASSES - 1])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    return images, targets


def class_outputs(name: str, model: torch.nn.Module) -> int:
    """How many classes the built model's head scores (background included where it has one)."""
    if name.startswith("fasterrcnn"):
        return model.roi_heads.box_predictor.cls_score.out_features
    if name.startswith("ssdlite"):
        return model.head.classification_head.num_columns
    return model.head.classification_head.num_classes


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_each_model_builds_for_the_users_classes_at_the_image_size(detectors, name):
    detector = detectors[name]
    background = name.startswith(("fasterrcnn", "ssdlite"))
    assert detector.label_offset == int(background)
    assert class_outputs(name, detector.model) == CLASSES + background
    transform = detector.model.transform
    assert transform.min_size == (SIZES[name],) and transform.max_size == SIZES[name]
    assert all(p.requires_grad for p in detector.parameters())  # from scratch: nothing frozen
    assert not any(isinstance(m, torchvision.ops.FrozenBatchNorm2d) for m in detector.modules())
    assert detector.replaced == () and "random weights" in detector.initialisation
    if name.startswith("fasterrcnn"):
        assert detector.model.roi_heads.fg_bg_sampler.batch_size_per_image == 64


@pytest.mark.parametrize("name", [n for n in TORCHVISION_MODELS if n != "fasterrcnn_resnet50_fpn_v2"])
def test_losses_are_finite_and_backpropagate_with_an_empty_image(detectors, name):
    # fasterrcnn_resnet50_fpn_v2 shares the Faster R-CNN path with the MobileNet ones; its box head
    # (four 3x3 convolutions per RoI) makes one step take many seconds on a CPU.
    detector = detectors[name].train()
    detector.zero_grad()
    images, targets = batch_with_an_empty_image(SIZES[name])
    losses = detector.losses(images, targets)
    assert set(losses) > {"loss"} and all(torch.isfinite(v) for v in losses.values())
    assert losses["loss"].item() == pytest.approx(sum(v.item() for k, v in losses.items() if k != "loss"), rel=1e-5)
    losses["loss"].backward()
    grads = [p.grad for p in detector.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", [n for n in TORCHVISION_MODELS if n != "fasterrcnn_resnet50_fpn_v2"])
def test_eval_forward_pads_to_a_fixed_count_in_descending_order(detectors, name):
    detector = detectors[name].eval()
    size = SIZES[name]
    with torch.no_grad():
        out = detector(torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(2)))
    assert out["boxes"].shape == (2, MAX_DETECTIONS, 4)
    assert out["scores"].shape == out["labels"].shape == (2, MAX_DETECTIONS)
    assert out["labels"].dtype == torch.int64
    assert ((out["labels"] >= 0) & (out["labels"] < CLASSES)).all()
    scores = out["scores"]
    assert (scores[:, :-1] >= scores[:, 1:]).all() and (scores >= 0).all() and (scores <= 1).all()
    real = scores > 0
    assert real.any(), "a low score threshold keeps detections even for a random model"
    assert (out["boxes"][real] >= 0).all() and (out["boxes"][real] <= size).all()
    assert (out["boxes"][~real] == 0).all() and (out["labels"][~real] == 0).all()


def test_forward_refuses_train_mode(detectors):
    detector = detectors[FAST[0]].train()
    with pytest.raises(RuntimeError, match="eval mode"):
        detector(torch.rand(1, 3, 96, 96))


class FixedDetections(torch.nn.Module):
    """Stands in for a torchvision model: known detections in eval mode, records the targets in train mode."""

    def __init__(self):
        super().__init__()
        self.targets = None

    def forward(self, images, targets=None):
        if targets is not None:
            self.targets = targets
            return {"loss_a": torch.tensor(1.0), "loss_b": torch.tensor(2.0)}
        return [{"boxes": torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]),
                 "scores": torch.tensor([0.2, 0.9]), "labels": torch.tensor([1, 3])}] * len(images)


def test_labels_are_shifted_past_the_background_both_ways():
    detector = TorchvisionDetector("fasterrcnn_mobilenet_v3_large_320_fpn", CLASSES, 64).eval()
    detector.model = FixedDetections()
    out = detector(torch.zeros(2, 3, 64, 64))
    assert out["labels"][0, :3].tolist() == [2, 0, 0]  # sorted by score, shifted down, padding 0
    assert out["scores"][1, :3].tolist() == pytest.approx([0.9, 0.2, 0.0])
    assert out["boxes"][0, 0].tolist() == [5.0, 6.0, 7.0, 8.0] and (out["boxes"][0, 2:] == 0).all()

    detector.train()
    targets = [{"boxes": torch.tensor([[0.0, 0.0, 5.0, 5.0], [3.0, 3.0, 3.0, 9.0]]), "labels": torch.tensor([0, 2])}]
    losses = detector.losses(torch.zeros(1, 3, 64, 64), targets)
    assert losses["loss"].item() == 3.0
    assert detector.model.targets[0]["labels"].tolist() == [1]  # shifted up; the zero-width box is left out
    assert detector.model.targets[0]["boxes"].shape == (1, 4)


def test_losses_in_eval_mode_leave_running_statistics_alone(detectors):
    detector = detectors["ssdlite320_mobilenet_v3_large"].eval()
    norms = [m for m in detector.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in norms]
    images, targets = batch_with_an_empty_image(96)
    with torch.no_grad():
        losses = detector.losses(images, targets)
    assert math.isfinite(losses["loss"].item())
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, norms))
    assert not any(m.training for m in detector.modules())


def test_a_few_steps_on_a_bright_square_lower_the_loss():
    torch.manual_seed(0)
    detector = TorchvisionDetector("ssdlite320_mobilenet_v3_large", 1, 64).train()
    images = torch.full((2, 3, 64, 64), 0.1)
    images[:, :, 20:48, 12:40] = 0.9
    targets = [{"boxes": torch.tensor([[12.0, 20.0, 40.0, 48.0]]), "labels": torch.tensor([0])}] * 2
    optimizer = torch.optim.Adam(detector.parameters(), lr=3e-3)
    history = []
    for _ in range(5):
        loss = detector.losses(images, targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.8 * history[0], history


@pytest.mark.filterwarnings("ignore:SSD always returns a .Losses, Detections. tuple in scripting")
def test_the_wrapper_scripts_and_matches_eager(detectors):
    detector = detectors["ssdlite320_mobilenet_v3_large"].eval()
    images = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(3))
    scripted = torch.jit.script(detector)
    with torch.no_grad():
        eager, script = detector(images), scripted(images)
    for key in ("boxes", "scores", "labels"):
        torch.testing.assert_close(script[key], eager[key])


# -- pretrained weights, offline ---------------------------------------------------------------------------


def fake_coco_cache(tmp_path, monkeypatch, name: str) -> dict[str, torch.Tensor]:
    """A random torchvision ``name`` (COCO's 91 classes) saved where torch keeps the COCO weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = torchvision.models.get_model_weights(name).DEFAULT
    path = tmp_path / "torch" / "hub" / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    path.parent.mkdir(parents=True)
    torch.manual_seed(5)
    state = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=91).state_dict()
    torch.save(state, path)
    return state


@pytest.mark.parametrize("name, head, head_keys", [
    ("fasterrcnn_mobilenet_v3_large_320_fpn", "roi_heads.box_predictor.cls_score.weight",
     r"roi_heads\.box_predictor\.(cls_score|bbox_pred)\.(weight|bias)"),
    ("ssdlite320_mobilenet_v3_large", "head.classification_head.module_list.0.1.weight",
     r"head\.classification_head\.module_list\.[0-5]\.1\.(weight|bias)"),  # the 1x1 convs; depthwise ones kept
])
def test_cached_coco_weights_fill_everything_but_the_class_head(tmp_path, monkeypatch, name, head, head_keys):
    coco = fake_coco_cache(tmp_path, monkeypatch, name)
    check_torchvision_model(name, pretrained=True, weights_file=None)
    state = pretrained_detector_state(name, None)
    detector = TorchvisionDetector(name, CLASSES, 96, initial_state=state)
    own = detector.model.state_dict()
    backbone = "backbone.body.0.0.weight" if name.startswith("fasterrcnn") else "backbone.features.0.0.0.weight"
    assert torch.equal(own[backbone], coco[backbone])
    assert own[head].shape[0] != coco[head].shape[0]  # a fresh head for 3 classes, not COCO's 91
    assert set(detector.replaced) == {key for key in own if re.fullmatch(head_keys, key)}
    assert detector.loaded == len([k for k in own if k not in detector.replaced])
    assert "new head for 3 classes" in detector.initialisation and head.rsplit(".", 1)[0] in detector.initialisation
    frozen = [p for p in detector.parameters() if not p.requires_grad]
    if name.startswith("fasterrcnn"):  # torchvision's fine-tuning set-up: frozen norms and first stages
        assert frozen and any(isinstance(m, torchvision.ops.FrozenBatchNorm2d) for m in detector.modules())
        assert own["backbone.body.0.1.running_var"].equal(coco["backbone.body.0.1.running_var"])
    else:  # SSDlite trains all its stages
        assert not frozen


def test_a_head_of_the_same_size_is_still_replaced(tmp_path, monkeypatch):
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    coco = fake_coco_cache(tmp_path, monkeypatch, name)
    detector = TorchvisionDetector(name, 90, 64, initial_state=pretrained_detector_state(name, None))
    own = detector.model.state_dict()
    assert own["roi_heads.box_predictor.cls_score.weight"].shape == coco["roi_heads.box_predictor.cls_score.weight"].shape
    assert not torch.equal(own["roi_heads.box_predictor.cls_score.weight"], coco["roi_heads.box_predictor.cls_score.weight"])


def test_a_saved_detector_is_a_weights_file(tmp_path):
    torch.manual_seed(6)
    name = "ssdlite320_mobilenet_v3_large"
    trained = TorchvisionDetector(name, 2, 96)
    path = tmp_path / "mine.pth"
    torch.save(trained.state_dict(), path)  # keys start with "model."
    check_torchvision_model(name, pretrained=False, weights_file=str(path))
    again = TorchvisionDetector(name, 2, 96, initial_state=pretrained_detector_state(name, str(path)))
    key = "head.regression_head.module_list.0.1.weight"
    assert torch.equal(again.model.state_dict()[key], trained.model.state_dict()[key])


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save(TorchvisionDetector("ssdlite320_mobilenet_v3_large", 2, 96).state_dict(), path)
    state = pretrained_detector_state("fasterrcnn_mobilenet_v3_large_320_fpn", str(path))
    with pytest.raises(ConfigError, match="weights do not fit fasterrcnn_mobilenet_v3_large_320_fpn"):
        TorchvisionDetector("fasterrcnn_mobilenet_v3_large_320_fpn", 2, 64, initial_state=state)


# -- configuration errors ----------------------------------------------------------------------------------


def test_missing_cached_weights_say_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    name = "fcos_resnet50_fpn"
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "fcos_resnet50_fpn_coco-99b0c9b7.pth"
    with pytest.raises(ConfigError) as caught:
        check_torchvision_model(name, pretrained=True, weights_file=None)
    message = str(caught.value)
    assert str(expected) in message and "https://download.pytorch.org/models/fcos_resnet50_fpn_coco-99b0c9b7.pth" in message
    assert "weights=" in caught.value.hint
    with pytest.raises(ConfigError, match="not on this machine"):
        pretrained_detector_state(name, None)
    assert not expected.exists()  # nothing was downloaded
    check_torchvision_model(name, pretrained=False, weights_file=None)  # from scratch needs no file


def test_bad_weights_files_are_named(tmp_path):
    name = "ssdlite320_mobilenet_v3_large"
    with pytest.raises(ConfigError, match="does not exist"):
        check_torchvision_model(name, pretrained=True, weights_file=str(tmp_path / "nope.pth"))
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(ConfigError, match="cannot read weights file") as caught:
        check_torchvision_model(name, pretrained=False, weights_file=str(text))
    assert str(text) in str(caught.value)
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    with pytest.raises(ConfigError, match="is not a state dict"):
        check_torchvision_model(name, pretrained=False, weights_file=str(listed))


def test_an_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError, match="unknown detection model") as caught:
        check_torchvision_model("fasterrcnn_mobilenet_v3_large_320", pretrained=False, weights_file=None)
    assert "fasterrcnn_mobilenet_v3_large_320_fpn" in caught.value.hint
    with pytest.raises(ConfigError):
        TorchvisionDetector("yolov8n", 2, 64)


def test_the_expected_cache_path_follows_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = tmp_path / "hub" / "checkpoints" / "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert cached_weights_path("ssdlite320_mobilenet_v3_large") == path
