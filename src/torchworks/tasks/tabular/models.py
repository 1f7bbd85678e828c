"""The tabular networks, all over the shared feature tokens (:mod:`torchworks.families.tabular.tokens`):

- ``mlp``: the tokens side by side into an MLP. With periodic number embeddings this simple model is
  among the strongest deep baselines on medium tables (Gorishniy et al. 2022).
- ``ft_transformer``: a [CLS] token and self-attention between feature tokens, its output read from the
  [CLS] token (Gorishniy et al., "Revisiting Deep Learning Models for Tabular Data", 2021).
- ``tabm``: one MLP shared by an ensemble of members that each scale the input and hidden units by their
  own vectors (BatchEnsemble), trained together, their predictions averaged (Gorishniy et al., "TabM",
  2024). In training every member's output is returned (``[rows, members, outputs]``) so that each is
  fitted; in evaluation the members' mean (of probabilities, for classification, as logits).

Every model takes ``{"numeric": [rows, N], "categorical": [rows, C]}`` and has ``tokens`` (the inputs as
tokens) and ``head_from_tokens`` (the rest), which explanations attribute through.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from torchworks.errors import ConfigError, did_you_mean
from torchworks.families.tabular.tokens import FeatureTokens
from torchworks.tasks.tabular.config import MODEL_NAMES


def check_model(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown tabular model '{name}'", expected="one of " + ", ".join(MODEL_NAMES), got=name,
                          hint=did_you_mean(name, MODEL_NAMES))


class TableModel(nn.Module):
    """Feature tokens, then a body over them."""

    def __init__(self, numeric: int, cardinalities: list[int], token_width: int):
        super().__init__()
        self.tokens = FeatureTokens(numeric, cardinalities, token_width)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head_from_tokens(self.tokens(inputs["numeric"], inputs["categorical"]))

    def head_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _blocks(width_in: int, width: int, layers: int, dropout: float) -> nn.Sequential:
    parts: list[nn.Module] = []
    for index in range(layers):
        parts += [nn.Linear(width_in if index == 0 else width, width), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*parts)


class TabularMLP(TableModel):
    def __init__(self, numeric: int, cardinalities: list[int], outputs: int, token_width: int = 16,
                 width: int = 256, layers: int = 3, dropout: float = 0.1):
        super().__init__(numeric, cardinalities, token_width)
        features = numeric + len(cardinalities)
        self.body = _blocks(features * token_width, width, layers, dropout)
        self.head = nn.Linear(width, outputs)

    def head_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(tokens.flatten(1)))


class FTTransformer(TableModel):
    def __init__(self, numeric: int, cardinalities: list[int], outputs: int, token_width: int = 64,
                 layers: int = 3, dropout: float = 0.1, heads: int = 8):
        width = max(heads, token_width - token_width % heads)  # the attention width must split into heads
        super().__init__(numeric, cardinalities, width)
        self.cls = nn.Parameter(torch.randn(1, 1, width) / math.sqrt(width))
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=width * 4 // 3 * 2, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.ReLU(), nn.Linear(width, outputs))

    def head_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens], dim=1)
        return self.head(self.body(tokens)[:, 0])


class EnsembleLinear(nn.Module):
    """A linear layer shared by ``members``, each scaling its inputs and outputs by its own vectors."""

    def __init__(self, width_in: int, width_out: int, members: int):
        super().__init__()
        self.linear = nn.Linear(width_in, width_out)
        self.scale_in = nn.Parameter(torch.ones(members, width_in) + 0.1 * torch.randn(members, width_in))
        self.scale_out = nn.Parameter(torch.ones(members, width_out))
        self.bias = nn.Parameter(torch.zeros(members, width_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [rows, members, width_in]
        return nn.functional.linear(x * self.scale_in, self.linear.weight) * self.scale_out + self.bias


class TabM(TableModel):
    def __init__(self, numeric: int, cardinalities: list[int], outputs: int, token_width: int = 16,
                 width: int = 256, layers: int = 3, dropout: float = 0.1, members: int = 8,
                 classification: bool = True):
        super().__init__(numeric, cardinalities, token_width)
        features = numeric + len(cardinalities)
        self.members, self.classification = members, classification
        sizes = [features * token_width] + [width] * layers
        self.layers = nn.ModuleList(EnsembleLinear(a, b, members) for a, b in zip(sizes, sizes[1:]))
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.Parameter(torch.randn(members, width, outputs) / math.sqrt(width))
        self.head_bias = nn.Parameter(torch.zeros(members, outputs))

    def head_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        x = tokens.flatten(1).unsqueeze(1).expand(-1, self.members, -1)
        for layer in self.layers:
            x = self.dropout(torch.relu(layer(x)))
        outputs = torch.einsum("nmw,mwo->nmo", x, self.heads) + self.head_bias
        if self.training:
            return outputs
        if self.classification:  # the mean of the members' probabilities, as logits
            return torch.logsumexp(outputs.log_softmax(-1), dim=1) - math.log(self.members)
        return outputs.mean(dim=1)


def build_tabular_model(state: dict[str, Any]) -> TableModel:
    """The network ``state["architecture"]`` describes."""
    options = dict(state["architecture"])
    name = options.pop("model")
    numeric = len(state["encoding"]["numeric"])
    cardinalities = [2 + len(f["values"]) for f in state["encoding"]["categorical"]]
    outputs = len(state["labels"]) if state["task_type"] == "classification" else 1
    if name == "ft_transformer":
        options.pop("width", None), options.pop("members", None)
        return FTTransformer(numeric, cardinalities, outputs, **options)
    if name == "tabm":
        return TabM(numeric, cardinalities, outputs, classification=state["task_type"] == "classification",
                    **options)
    options.pop("members", None)
    return TabularMLP(numeric, cardinalities, outputs, **options)


def architecture(config: Any) -> dict[str, Any]:
    """The constructor options a config chooses (what the bundle records)."""
    options = {"model": config.model, "token_width": config.token_width, "width": config.width,
               "layers": config.layers, "dropout": config.dropout}
    if config.model == "tabm":
        options["members"] = config.ensemble
    if config.model == "ft_transformer" and "token_width" not in config.model_fields_set:
        options["token_width"] = 64
    return options
