"""The anomaly detectors, over the shared feature tokens (:mod:`torchworks.families.tabular.tokens`):

- ``autoencoder`` (default): the tokens squeezed through a narrow code and the row rebuilt from it: its
  numbers and its categories (a distribution over each column's values). What a model trained on mostly
  normal rows rebuilds badly is unusual. The output is each feature's error, so the score says which columns
  are odd: a number's squared error in standardised units; a category's surprise, how much less likely
  the rebuilt row makes its value than the value is among all training rows (its negative log-likelihood
  less -log of its frequency, never below 0), so a rare but ordinary value (one of 300 events, most of them
  small) is not odd for being rare, while a value the rest of the row rules out is. It
  learns to rebuild numbers as the tokens squash them (asinh), so the anomalies among its training rows
  cannot dominate its loss, but its output measures the error unsquashed: a quantity 30 robust deviations
  out is scored as that, not as the 7 it squashes to.
- ``deep_svdd``: the tokens mapped into a small space where training rows gather round a fixed centre (the
  mean of the untrained network's outputs); the score is the squared distance from it (Ruff et al., "Deep
  One-Class Classification", 2018). Its layers have no biases, so the network cannot map everything onto
  the centre.

Both take ``{"numeric": [rows, N], "categorical": [rows, C]}`` and have ``tokens`` and
``head_from_tokens`` (explanations attribute through the tokens).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from torchworks.errors import ConfigError, did_you_mean
from torchworks.families.tabular.tokens import FeatureTokens, squash, unsquash
from torchworks.tasks.anomaly_detection.config import MODEL_NAMES


def check_model(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown anomaly model '{name}'", expected="one of " + ", ".join(MODEL_NAMES), got=name,
                          hint=did_you_mean(name, MODEL_NAMES))


def _mlp(sizes: list[int], dropout: float, bias: bool = True) -> nn.Sequential:
    parts: list[nn.Module] = []
    for index, (a, b) in enumerate(zip(sizes, sizes[1:])):
        parts.append(nn.Linear(a, b, bias=bias))
        if index < len(sizes) - 2:
            parts += [nn.ReLU(), nn.Dropout(dropout)] if dropout else [nn.ReLU()]
    return nn.Sequential(*parts)


class TabularAutoencoder(nn.Module):
    """Per-feature rebuilding errors ``[rows, N + C]``."""

    def __init__(self, numeric: int, cardinalities: list[int], token_width: int = 8, width: int = 128,
                 latent: int = 8, layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.tokens = FeatureTokens(numeric, cardinalities, token_width)
        self.numeric, self.cardinalities = numeric, list(cardinalities)
        flat = (numeric + len(cardinalities)) * token_width
        self.encoder = _mlp([flat] + [width] * layers + [latent], dropout)
        self.decoder = nn.Sequential(_mlp([latent] + [width] * layers, dropout), nn.ReLU())
        self.rebuild_numbers = nn.Linear(width, numeric)
        # a head per categorical column: contiguous logits, so each column's log-softmax reads them in place
        self.rebuild_categories = nn.ModuleList(nn.Linear(width, size) for size in cardinalities)
        # each category value's surprise in general, -log of its training frequency, all columns end to end
        self.register_buffer("base_surprise", torch.zeros(sum(cardinalities)))
        starts = [sum(cardinalities[:index]) for index in range(len(cardinalities))]
        self.register_buffer("value_start", torch.tensor(starts, dtype=torch.long).reshape(1, -1), persistent=False)
        self._inputs: dict[str, torch.Tensor] | None = None

    @torch.no_grad()
    def prepare(self, inputs: dict[str, torch.Tensor]) -> None:
        """Learn each category value's frequency on the training rows (before training)."""
        categories = inputs["categorical"]
        for index, size in enumerate(self.cardinalities):
            counts = torch.bincount(categories[:, index], minlength=size).double()
            start = int(self.value_start[0, index])
            self.base_surprise[start:start + size] = -torch.log((counts + 0.5) / (counts.sum() + 0.5 * size)).float()

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.errors(self.tokens(inputs["numeric"], inputs["categorical"]), inputs)

    def training_errors(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The errors it learns from: numbers compared in the squashed scale."""
        return self.errors(self.tokens(inputs["numeric"], inputs["categorical"]), inputs, squashed=True)

    def errors(self, tokens: torch.Tensor, inputs: dict[str, torch.Tensor], squashed: bool = False) -> torch.Tensor:
        """Each feature's error when the row is rebuilt from ``tokens`` (the target is always ``inputs``)."""
        hidden = self.decoder(self.encoder(tokens.flatten(1)))
        parts = []
        if self.numeric:
            numbers, guess = inputs["numeric"].float(), self.rebuild_numbers(hidden)
            if squashed:
                parts.append((guess - squash(numbers)) ** 2)
            else:
                parts.append((unsquash(guess) - numbers) ** 2)
        categories = inputs["categorical"]
        if self.cardinalities:
            surprise = torch.stack([F.cross_entropy(head(hidden), categories[:, index], reduction="none")
                                    for index, head in enumerate(self.rebuild_categories)], dim=1)
            if not squashed:  # scored: only what the rest of the row makes less likely than it is in general
                surprise = (surprise - self.base_surprise[categories + self.value_start]).clamp_min(0)
            parts.append(surprise)
        return torch.cat(parts, dim=1)

    def head_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The errors against the inputs last set with :meth:`explaining` (for attributions over tokens)."""
        if self._inputs is None:
            raise RuntimeError("head_from_tokens needs the rows being explained: use `with model.explaining(...)`")
        rows = len(tokens)
        inputs = {key: value.expand(rows, *value.shape[1:]) if len(value) == 1 else value
                  for key, value in self._inputs.items()}
        return self.errors(tokens, inputs)

    def explaining(self, inputs: dict[str, torch.Tensor]) -> _Explaining:
        return _Explaining(self, inputs)


class _Explaining:
    """Sets the rows a rebuilding error is measured against while their tokens are perturbed."""

    def __init__(self, model: TabularAutoencoder, inputs: dict[str, torch.Tensor]):
        self.model, self.inputs = model, inputs

    def __enter__(self) -> TabularAutoencoder:
        self.model._inputs = self.inputs
        return self.model

    def __exit__(self, *exc_info: object) -> None:
        self.model._inputs = None


class DeepSVDD(nn.Module):
    """Squared distance ``[rows, 1]`` from the centre of the training rows in a learned space."""

    def __init__(self, numeric: int, cardinalities: list[int], token_width: int = 8, width: int = 128,
                 latent: int = 8, layers: int = 2, dropout: float = 0.0):
        super().__init__()
        self.tokens = FeatureTokens(numeric, cardinalities, token_width)
        flat = (numeric + len(cardinalities)) * token_width
        self.network = _mlp([flat] + [width] * layers + [latent], dropout, bias=False)
        self.register_buffer("centre", torch.zeros(latent))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head_from_tokens(self.tokens(inputs["numeric"], inputs["categorical"]))

    def head_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return ((self.network(tokens.flatten(1)) - self.centre) ** 2).sum(dim=1, keepdim=True)

    @torch.no_grad()
    def prepare(self, inputs: dict[str, torch.Tensor], eps: float = 0.1) -> None:
        """The centre: the mean output of the untrained network over training rows, no coordinate nearer zero
        than ``eps`` (a zero coordinate is one the network could match trivially)."""
        was_training = self.training
        self.eval()
        centre = self.network(self.tokens(inputs["numeric"], inputs["categorical"]).flatten(1)).mean(dim=0)
        centre = torch.where(centre.abs() < eps, torch.where(centre < 0, -eps, eps), centre)
        self.centre.copy_(centre)
        self.train(was_training)


def build_detector(state: dict[str, Any]) -> nn.Module:
    """The network ``state["architecture"]`` describes."""
    options = dict(state["architecture"])
    name = options.pop("model")
    numeric = len(state["encoding"]["numeric"])
    cardinalities = [2 + len(f["values"]) for f in state["encoding"]["categorical"]]
    return (DeepSVDD if name == "deep_svdd" else TabularAutoencoder)(numeric, cardinalities, **options)


def architecture(config: Any) -> dict[str, Any]:
    return {"model": config.model, "token_width": config.token_width, "width": config.width, "latent": config.latent,
            "layers": config.layers, "dropout": config.dropout}
