"""Text classifiers trained from scratch on subword ids. Every model takes ``{"input_ids",
"attention_mask"}`` (batch x tokens, padded) and returns one logit per class."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

BIGRAM_BUCKETS = 1 << 15


class EmbeddingBagClassifier(nn.Module):
    """fastText-style: the mean of token and hashed token-bigram embeddings, then a linear layer.

    The bag never holds one vector per token, so ``token_weights`` (an identity on each token's
    weight in the bag, 1 for a real token) is where explanations attribute: weighing a token by
    0 to 1 fades it (and its bigrams) out of the sum while the mean still divides by the full count.
    """

    def __init__(self, vocab_size: int, n_classes: int, dim: int, dropout: float):
        super().__init__()
        self.vocab_size = vocab_size
        self.bag = nn.EmbeddingBag(vocab_size + BIGRAM_BUCKETS, dim, mode="sum")
        self.token_weights = nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, n_classes)
        nn.init.uniform_(self.bag.weight, -1.0 / dim, 1.0 / dim)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, mask = inputs["input_ids"], inputs["attention_mask"].to(torch.float32)
        bigrams = (ids[:, :-1] * 1_000_003 + ids[:, 1:]) % BIGRAM_BUCKETS + self.vocab_size
        tokens = torch.cat([ids, bigrams], dim=1)
        weights = self.token_weights(mask)
        summed = self.bag(tokens, per_sample_weights=torch.cat([weights, weights[:, :-1] * weights[:, 1:]], dim=1))
        count = torch.cat([mask, mask[:, :-1] * mask[:, 1:]], dim=1).sum(dim=1, keepdim=True)
        return self.head(self.dropout(summed / count.clamp_min(1.0)))


class RecurrentClassifier(nn.Module):
    """Bidirectional GRU or LSTM over token embeddings, pooled by learned attention over time steps."""

    def __init__(self, kind: str, vocab_size: int, n_classes: int, dim: int, hidden: int, layers: int,
                 dropout: float):
        super().__init__()
        rnn = nn.GRU if kind == "gru" else nn.LSTM
        self.embedding = nn.Embedding(vocab_size, dim)
        self.rnn = rnn(dim, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                       dropout=dropout if layers > 1 else 0.0)
        self.attention = AttentionPooling(2 * hidden)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_classes)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        lengths = mask.sum(dim=1).clamp_min(1).cpu()
        embedded = self.dropout(self.embedding(ids))
        # packed, so that the backward direction starts at each text's last token, not at the padding
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=ids.shape[1])
        return self.head(self.dropout(self.attention(states, mask)))


class AttentionPooling(nn.Module):
    """A weighted mean of time steps, the weights scored by a small network and masked at padding."""

    def __init__(self, size: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1, bias=False))

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(states).squeeze(-1).masked_fill(mask == 0, torch.finfo(states.dtype).min)
        weights = scores.softmax(dim=1).unsqueeze(-1)
        return (weights * states).sum(dim=1)


class TransformerClassifier(nn.Module):
    """A small pre-norm Transformer encoder with learned positions, mean-pooled over real tokens."""

    def __init__(self, vocab_size: int, n_classes: int, dim: int, hidden: int, layers: int, heads: int,
                 dropout: float, max_length: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(max_length, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=max(hidden, dim) * 2, dropout=dropout,
                                           batch_first=True, norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        steps = torch.arange(ids.shape[1], device=ids.device)
        hidden = self.dropout(self.embedding(ids) + self.positions(steps))
        hidden = self.norm(self.encoder(hidden, src_key_padding_mask=mask == 0))
        return self.head(self.dropout(masked_mean(hidden, mask)))


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of ``states`` (batch x steps x features) over the steps where ``mask`` is 1."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def build_scratch_model(name: str, vocab_size: int, n_classes: int, *, dim: int, hidden: int, layers: int,
                        heads: int, dropout: float, max_length: int) -> nn.Module:
    """One of the scratch networks by its config name."""
    if name == "embeddingbag":
        return EmbeddingBagClassifier(vocab_size, n_classes, dim, dropout)
    if name in ("bigru", "bilstm"):
        return RecurrentClassifier(name[2:], vocab_size, n_classes, dim, hidden, layers, dropout)
    if name == "transformer":
        return TransformerClassifier(vocab_size, n_classes, dim, hidden, layers, heads, dropout, max_length)
    raise ValueError(f"not a scratch model: {name}")
