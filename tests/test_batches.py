"""Outputs of any structure: joined across batches, rows picked, compared between runtimes."""

from __future__ import annotations

import math

import torch

from torchworks.batches import (
    count_rows,
    join_batches,
    largest_difference,
    output_layout,
    rebuild_outputs,
    take_rows,
    to_cpu_float,
)


def test_sequence_outputs_of_different_lengths_are_zero_padded_in_order():
    first = torch.ones(2, 2, 2)  # two samples of 2 frames
    second = torch.full((1, 5, 2), 3.0)  # one sample of 5 frames
    joined = join_batches([first, second])
    assert joined.shape == (3, 5, 2)
    assert joined[0, :2].eq(1).all() and joined[0, 2:].eq(0).all()  # padded from 2 to 5 frames
    assert joined[2].eq(3).all()


def test_structured_outputs_keep_their_structure_when_joined():
    batches = [
        {"boxes": [torch.zeros(2, 4)], "scores": torch.tensor([0.5])},
        {"boxes": [torch.ones(1, 4), torch.ones(0, 4)], "scores": torch.tensor([0.7, 0.1])},
    ]
    joined = join_batches(batches)
    assert [b.shape[0] for b in joined["boxes"]] == [2, 1, 0]  # one entry per sample, chained
    assert joined["scores"].tolist() == [0.5, 0.699999988079071, 0.10000000149011612]
    pair = join_batches([(torch.tensor([1]), torch.tensor([[2, 2]])), (torch.tensor([3]), torch.tensor([[4, 4]]))])
    assert pair[0].tolist() == [1, 3] and pair[1].tolist() == [[2, 2], [4, 4]]


def test_rows_are_taken_from_every_part_of_a_structure():
    outputs = {"logits": torch.arange(8).reshape(4, 2), "records": ["a", "b", "c", "d"]}
    picked = take_rows(outputs, [2, 0])
    assert picked["logits"].tolist() == [[4, 5], [0, 1]] and picked["records"] == ["c", "a"]
    sliced = take_rows(outputs, slice(1, 3))
    assert sliced["logits"].tolist() == [[2, 3], [4, 5]] and sliced["records"] == ["b", "c"]
    assert count_rows(outputs) == 4 and count_rows((torch.zeros(3, 1), torch.zeros(3))) == 3


def test_to_cpu_float_keeps_integer_tensors():
    converted = to_cpu_float({"scores": torch.ones(2, dtype=torch.float64), "ids": torch.tensor([1, 2])})
    assert converted["scores"].dtype == torch.float32 and converted["ids"].dtype == torch.int64


def test_an_export_rebuilds_the_structure_it_recorded():
    outputs = {"mean": torch.zeros(2), "scale": torch.ones(2)}
    layout = output_layout(outputs)
    assert layout == {"kind": "dict", "names": ["mean", "scale"]}
    rebuilt = rebuild_outputs([torch.zeros(2), torch.ones(2)], layout)
    assert list(rebuilt) == ["mean", "scale"] and rebuilt["scale"].tolist() == [1.0, 1.0]
    assert output_layout(torch.zeros(1)) == {"kind": "tensor", "names": ["output"]}
    assert output_layout((1, 2)) == {"kind": "tuple", "names": ["output_0", "output_1"]}
    rebuilt = rebuild_outputs([torch.zeros(1), torch.ones(1)], output_layout((1, 2)))
    assert isinstance(rebuilt, tuple) and [t.tolist() for t in rebuilt] == [[0.0], [1.0]]
    assert rebuild_outputs([torch.ones(1)], None).tolist() == [1.0]  # exports made before layouts were recorded


def test_largest_difference_over_every_output_and_infinite_when_shapes_differ():
    a = {"x": torch.zeros(2), "y": torch.zeros(3)}
    b = {"x": torch.tensor([0.0, 0.25]), "y": torch.tensor([0.0, -0.5, 0.0])}
    assert largest_difference(a, b) == 0.5
    assert math.isinf(largest_difference(a, {"x": torch.zeros(2), "y": torch.zeros(4)}))
    assert math.isinf(largest_difference(torch.zeros(2), (torch.zeros(2), torch.zeros(2))))
