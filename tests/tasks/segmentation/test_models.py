"""The networks by name: unknown names and impossible weights refused at once, torchvision's models at any
size, and pretrained weights loaded into everything but the class-specific layers."""

from __future__ import annotations

import pytest
import torch

from torchworks.errors import ConfigError
from torchworks.tasks.segmentation.models import build_segmenter, check_model


def test_unknown_models_and_weights_the_unet_cannot_take_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown segmentation model") as caught:
        check_model("unte", False, None)
    assert "unet" in caught.value.hint
    with pytest.raises(ConfigError, match="no pretrained weights"):
        check_model("unet", True, None)
    with pytest.raises(ConfigError, match="does not exist"):
        check_model("lraspp_mobilenet_v3_large", False, str(tmp_path / "missing.pth"))


def test_a_torchvision_model_takes_any_size_and_pretrained_weights_all_but_its_head(tmp_path):
    torch.manual_seed(0)
    donor = build_segmenter("lraspp_mobilenet_v3_large", 21, {})
    path = tmp_path / "weights.pth"
    torch.save(donor.model.state_dict(), path)
    model = build_segmenter("lraspp_mobilenet_v3_large", 3, {}, weights_file=str(path)).eval()
    assert "pretrained tensors" in model.initialisation
    first = "backbone.0.0.weight"
    assert torch.equal(model.model.state_dict()[first], donor.model.state_dict()[first])
    assert model.model.classifier.high_classifier.out_channels == 3
    with torch.no_grad():
        assert model(torch.rand(1, 3, 70, 90)).shape == (1, 3, 70, 90)


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ConfigError, match="weights do not fit"):
        build_segmenter("lraspp_mobilenet_v3_large", 2, {}, weights_file=str(path))
