"""Finding Grad-CAM's feature map and layers by name, with clear errors when there is none."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchworks.errors import ConfigError
from torchworks.attribution.layers import find_module, last_feature_map
from torchworks.tasks.image_classification.models import build_classifier


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_smallcnn_reads_the_activation_of_its_last_convolution_not_the_pooled_map():
    model = build_classifier("smallcnn", 10, 1, 0.0).eval()
    name, module = last_feature_map(model, torch.zeros(1, 1, 32, 32))
    assert name == "backbone.16" and isinstance(module, nn.ReLU), "the activation closing the last conv stage"
    assert _hooks(model) == 0


def test_a_resnet_reads_its_last_block_and_a_tiny_input_an_earlier_map():
    model = build_classifier("resnet18", 3, 3, 0.0).eval()
    assert last_feature_map(model, torch.zeros(1, 3, 64, 64))[0] == "backbone.layer4"
    # at 32 x 32 layer4 is 1 x 1: the last map that still says where is layer3's
    assert last_feature_map(model, torch.zeros(1, 3, 32, 32))[0] == "backbone.layer3"


def test_a_model_without_convolutions_is_refused_with_other_methods_as_hint():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with pytest.raises(ConfigError) as info:
        last_feature_map(model, torch.zeros(1, 1, 4, 4))
    assert "no convolutional layer" in info.value.what and "saliency" in info.value.hint


def test_a_layer_is_found_by_name_or_a_close_name_is_suggested():
    model = build_classifier("smallcnn", 2, 1, 0.0)
    assert isinstance(find_module(model, "backbone.0"), nn.Conv2d)
    with pytest.raises(ConfigError) as info:
        find_module(model, "backbone.O")
    assert "did you mean" in info.value.hint
