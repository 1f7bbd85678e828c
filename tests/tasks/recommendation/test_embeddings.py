"""Matrix factorisation and NeuMF: shapes, biases, fold-in of new users, and the penalty."""

from __future__ import annotations

import torch

from torchworks.tasks.recommendation.embeddings import MatrixFactorization, fold_in
from torchworks.tasks.recommendation.neumf import NeuMF


def planted_items(n_items: int = 40, factors: int = 4) -> torch.Tensor:
    """Items in four tight groups along the axes."""
    vectors = torch.zeros(n_items, factors)
    vectors[torch.arange(n_items), torch.arange(n_items) % factors] = 3.0
    return vectors + 0.01 * torch.randn(n_items, factors, generator=torch.Generator().manual_seed(0))


def test_scores_are_dot_products_plus_biases_and_the_mean_rating():
    model = MatrixFactorization(n_users=3, n_items=5, factors=2, mean_rating=3.5)
    with torch.no_grad():
        model.user_embedding.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        model.item_embedding.weight.copy_(torch.arange(10, dtype=torch.float32).reshape(5, 2))
        model.item_bias.weight.fill_(0.5)
        model.user_bias.weight.copy_(torch.tensor([[0.0], [1.0], [2.0]]))
    scores = model({"user": torch.tensor([0, 1]), "history": torch.full((2, 1), -1)})
    assert torch.allclose(scores[0], torch.tensor([0.0, 2, 4, 6, 8]) + 0.5 + 3.5)
    assert torch.allclose(scores[1], torch.tensor([1.0, 3, 5, 7, 9]) + 0.5 + 1 + 3.5)
    pairs = model.pair_scores({"user": torch.tensor([0, 1])}, torch.tensor([2, 3]))
    assert torch.allclose(pairs, torch.stack([scores[0, 2], scores[1, 3]]))
    shared = model.pair_scores({"user": torch.tensor([0, 1])}, torch.tensor([4, 0, 1]))
    assert torch.allclose(shared, scores[:, [4, 0, 1]])


def test_fold_in_points_a_new_user_at_the_group_of_their_items():
    items = planted_items()
    history = torch.tensor([[0, 4, 8, -1], [1, 5, -1, -1]])  # group 0, then group 1
    vectors = fold_in(history, items, torch.zeros(len(items)))
    scores = vectors @ items.T
    assert set(scores[0].topk(10).indices.remainder(4).tolist()) == {0}
    assert set(scores[1].topk(10).indices.remainder(4).tolist()) == {1}


def test_an_empty_history_folds_in_to_zero_and_new_users_use_the_fold_in():
    model = MatrixFactorization(n_users=2, n_items=40, factors=4)
    with torch.no_grad():
        model.item_embedding.weight.copy_(planted_items())
    assert fold_in(torch.tensor([[-1, -1]]), model.item_embedding.weight, torch.zeros(40)).abs().sum() == 0
    inputs = {"user": torch.tensor([2, 0]), "history": torch.tensor([[2, 6, 10], [-1, -1, -1]])}
    scores = model(inputs)
    assert set(scores[0].topk(10).indices.remainder(4).tolist()) == {2}
    known = model({"user": torch.tensor([0]), "history": torch.tensor([[-1]])})
    assert torch.allclose(scores[1], known[0])  # a known user's history is not used


def test_neumf_scores_every_item_like_its_pairs_and_new_users_by_item_bias():
    torch.manual_seed(0)
    model = NeuMF(n_users=4, n_items=6, factors=4, mlp_layers=2).eval()
    scores = model({"user": torch.tensor([1, 3, 4])})
    assert scores.shape == (3, 6)
    assert torch.allclose(scores[0, [2, 5]], model.pair_scores({"user": torch.tensor([1, 1])}, torch.tensor([2, 5])), atol=1e-6)
    assert torch.allclose(scores[2], model.item_bias.weight[:, 0])
    assert model.item_vectors().shape == (6, 8)


def test_the_penalty_is_the_batch_embeddings_squared_norm_per_user():
    model = MatrixFactorization(n_users=2, n_items=3, factors=2)
    with torch.no_grad():
        model.user_embedding.weight.fill_(1.0)
        model.item_embedding.weight.fill_(2.0)
    assert model.penalty({"user": torch.tensor([0, 1])}, torch.tensor([0, 2])).item() == (2 * 2 + 2 * 8) / 2
