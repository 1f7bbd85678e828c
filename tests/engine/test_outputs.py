"""Collecting a model's outputs over a dataset, including sequence outputs of different lengths."""

from __future__ import annotations

import torch

from torchworks.engine.outputs import collect_outputs


class _Echo(torch.nn.Module):
    """Returns its input: frames of a different length in each batch."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs


class _Task:
    def collate_fn(self):
        def collate(items):
            longest = max(len(x) for x, _ in items)
            frames = torch.stack([torch.nn.functional.pad(x, (0, 0, 0, longest - len(x))) for x, _ in items])
            targets = torch.nn.utils.rnn.pad_sequence([y for _, y in items], batch_first=True)
            return frames, targets

        return collate


def test_sequence_outputs_of_different_lengths_are_zero_padded_in_order():
    items = [(torch.ones(length, 2) * (i + 1), torch.arange(1, length + 1)) for i, length in enumerate([2, 5, 3])]
    outputs, targets = collect_outputs(_Task(), _Echo(), items, batch_size=2)
    assert outputs.shape == (3, 5, 2) and targets.shape == (3, 5)
    assert outputs[0, :2].eq(1).all() and outputs[0, 2:].eq(0).all()  # first batch padded from 2 to 5 frames
    assert outputs[2, :3].eq(3).all() and outputs[2, 3:].eq(0).all()
    assert targets[2].tolist() == [1, 2, 3, 0, 0]
