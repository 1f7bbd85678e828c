"""The training objectives on hand-made scores."""

from __future__ import annotations

import math

import torch

from torchworks.tasks.recommendation.losses import bpr, negative_distribution, sampled_softmax, squared_error


def test_negatives_are_drawn_between_uniform_and_popularity():
    q = negative_distribution([0, 3, 15])
    assert torch.allclose(q.sum(), torch.tensor(1.0))
    assert q[0] < q[1] < q[2] and q[2] / q[0] < 16  # flatter than popularity itself
    assert torch.allclose(q, torch.tensor([1.0, 4 ** 0.75, 16 ** 0.75]) / (1 + 4 ** 0.75 + 16 ** 0.75))


def test_sampled_softmax_corrects_by_log_q_and_masks_accidental_hits():
    log_q = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    positive, negative = torch.tensor([2.0]), torch.tensor([[1.0, 2.0, 0.0]])
    loss = sampled_softmax(positive, negative, torch.tensor([2]), torch.tensor([0, 2, 1]), log_q)
    logits = [2.0 - math.log(0.25), 1.0 - math.log(0.5), 0.0 - math.log(0.25)]  # item 2 as a negative: masked
    expected = -logits[0] + math.log(sum(math.exp(v) for v in logits))
    assert loss.item() == torch.tensor(expected).float().item()


def test_bpr_averages_softplus_of_the_margins_over_other_items():
    loss = bpr(torch.tensor([1.0]), torch.tensor([[0.0, 1.0, 3.0]]), torch.tensor([1]), torch.tensor([0, 1, 2]))
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(2.0))) / 2
    assert abs(loss.item() - expected) < 1e-6


def test_squared_error_is_the_mean_square():
    assert squared_error(torch.tensor([3.0, 5.0]), torch.tensor([4.0, 3.0])).item() == 2.5
