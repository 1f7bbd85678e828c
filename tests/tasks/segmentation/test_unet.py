"""The U-Net takes any height and width and returns logits of the same size, pads without leaking the padding,
and exports with free height and width."""

from __future__ import annotations

import pytest
import torch

from torchworks.tasks.segmentation.unet import UNet


@pytest.mark.parametrize("input_stride", [1, 2])
@pytest.mark.parametrize("size", [(64, 64), (33, 47), (5, 130)])
def test_any_size_in_same_size_out(size, input_stride):
    model = UNet(3, base_channels=4, depth=3, input_stride=input_stride).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, *size)


def test_widths_double_per_level_and_depth_sets_the_stride():
    model = UNet(2, base_channels=8, depth=2)
    assert model.stride == 4
    assert [block[0].out_channels for block in model.down] == [8, 16, 32]
    assert model.head.out_channels == 2


def test_input_stride_2_runs_the_levels_at_half_resolution():
    model = UNet(2, base_channels=8, depth=2, input_stride=2)
    assert model.stride == 8 and model.stem is not None
    seen = []
    model.down[0].register_forward_hook(lambda module, inputs, output: seen.append(tuple(output.shape[-2:])))
    assert model(torch.rand(1, 3, 32, 48)).shape == (1, 2, 32, 48)
    assert seen == [(16, 24)], "the top level sees half the pixels each way"
    with pytest.raises(ValueError, match="input_stride"):
        UNet(2, input_stride=4)


@pytest.mark.parametrize("input_stride", [1, 2])
def test_a_tiny_unet_learns_to_segment_a_square(input_stride):
    torch.manual_seed(0)
    images = torch.rand(8, 3, 24, 24) * 0.3
    masks = torch.zeros(8, 24, 24, dtype=torch.long)
    for i in range(8):
        y, x = 2 + 2 * i, 3 + i
        images[i, :, y:y + 8, x:x + 8] += 0.6
        masks[i, y:y + 8, x:x + 8] = 1
    model = UNet(2, base_channels=8, depth=2, input_stride=input_stride)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), masks)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    assert (predicted == masks).float().mean() > 0.97


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="depth"):
        UNet(2, depth=0)
