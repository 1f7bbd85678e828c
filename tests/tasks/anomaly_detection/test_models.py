"""The autoencoder's category errors: surprise against each value's base rate, never below zero, and the raw
negative log-likelihood while it learns."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from torchworks.tasks.anomaly_detection.models import TabularAutoencoder


@pytest.fixture
def model():
    torch.manual_seed(0)
    autoencoder = TabularAutoencoder(numeric=1, cardinalities=[4, 3], width=16, latent=2).eval()
    categorical = torch.tensor([[2, 0]] * 90 + [[3, 1]] * 10)  # per column: 90% one value, 10% another
    autoencoder.prepare({"numeric": torch.zeros(100, 1), "categorical": categorical})
    return autoencoder


def test_each_values_base_surprise_is_minus_log_its_smoothed_training_frequency(model):
    base = model.base_surprise
    assert base.shape == (7,)
    assert base[2].item() == pytest.approx(-math.log(90.5 / 102), rel=1e-5)  # (90 + .5) / (100 + 4 x .5)
    assert base[3].item() == pytest.approx(-math.log(10.5 / 102), rel=1e-5)
    assert base[4 + 1].item() == pytest.approx(-math.log(10.5 / 101.5), rel=1e-5)  # column 2 starts at 4
    assert base[0].item() == pytest.approx(-math.log(0.5 / 102), rel=1e-5)  # never seen: the rarest


def test_scored_errors_are_the_likelihood_lost_against_the_base_rate_and_training_errors_are_raw(model):
    inputs = {"numeric": torch.zeros(3, 1), "categorical": torch.tensor([[2, 0], [3, 1], [0, 2]])}
    with torch.no_grad():
        scored, learned = model(inputs), model.training_errors(inputs)
        hidden = model.decoder(model.encoder(model.tokens(inputs["numeric"], inputs["categorical"]).flatten(1)))
        nll = F.cross_entropy(model.rebuild_categories[0](hidden), inputs["categorical"][:, 0], reduction="none")
    assert torch.allclose(learned[:, 1], nll)
    expected = (nll - model.base_surprise[inputs["categorical"][:, 0]]).clamp_min(0)
    assert torch.allclose(scored[:, 1], expected)
    assert (scored[:, 1:] >= 0).all() and scored.shape == (3, 3)
