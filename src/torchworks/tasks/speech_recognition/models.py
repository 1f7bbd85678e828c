"""CTC acoustic models over log-mel frames. Each takes ``{"features": (batch, frames, mels),
"lengths": (batch,)}`` and returns log-probabilities (batch, frames', tokens) whose frames past a
clip's end are exactly zero: no real log-softmax frame is all zeros, so lengths travel with them."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class ConvFrontEnd(nn.Module):
    """Two 3x3 convolutions that quarter the mels and shorten time by ``time_stride`` (2 or 4: 20 or
    40 ms per frame at a 10 ms hop). Frames past each clip's end are zeroed between layers, so
    padding in a batch changes nothing."""

    def __init__(self, n_mels: int, channels: int, out_features: int, time_stride: int = 4):
        super().__init__()
        self.second_stride = time_stride // 2
        self.first = nn.Sequential(nn.Conv2d(1, channels, 3, stride=(2, 2), padding=1), nn.BatchNorm2d(channels),
                                   nn.GELU())
        self.second = nn.Sequential(nn.Conv2d(channels, channels, 3, stride=(self.second_stride, 2), padding=1),
                                    nn.BatchNorm2d(channels), nn.GELU())
        bands = ((n_mels + 1) // 2 + 1) // 2
        self.project = nn.Linear(channels * bands, out_features)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = (lengths + 1) // 2
        hidden = self.first(features.unsqueeze(1)) * frame_mask(lengths, (features.shape[1] + 1) // 2)[:, None, :, None]
        hidden = self.second(hidden)  # (batch, channels, frames / time_stride, mels / 4)
        lengths = (lengths + self.second_stride - 1) // self.second_stride
        batch, channels, frames, bands = hidden.shape
        hidden = self.project(hidden.permute(0, 2, 1, 3).reshape(batch, frames, channels * bands))
        return hidden * frame_mask(lengths, frames)[:, :, None], lengths


def strided_frames(frames: int, time_stride: int) -> int:
    """How many output frames a clip of ``frames`` feature frames gets from the front end."""
    return -(-((frames + 1) // 2) // (time_stride // 2))


def frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """1.0 for the frames inside each clip, 0.0 for padding: (batch, frames)."""
    return (torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]).to(torch.float32)


def _masked_log_probs(logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return logits.log_softmax(dim=-1) * frame_mask(lengths, logits.shape[1]).unsqueeze(-1)


def output_lengths(log_probs: torch.Tensor) -> torch.Tensor:
    """Valid frames per clip of a model's (zero-padded) output."""
    return (log_probs != 0).any(dim=-1).sum(dim=1)


class CRNN(nn.Module):
    """DeepSpeech2-like: convolutional front end, bidirectional GRU layers, a linear CTC head."""

    def __init__(self, n_mels: int, n_tokens: int, hidden: int, layers: int, dropout: float, time_stride: int = 4):
        super().__init__()
        self.front = ConvFrontEnd(n_mels, 32, hidden, time_stride)
        self.rnn = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_tokens)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden, lengths = self.front(inputs["features"], inputs["lengths"])
        packed = pack_padded_sequence(hidden, lengths.cpu().clamp_min(1), batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=hidden.shape[1])
        return _masked_log_probs(self.head(self.dropout(states)), lengths)


class ConformerCTC(nn.Module):
    """Convolutional front end, torchaudio's Conformer encoder, a linear CTC head."""

    def __init__(self, n_mels: int, n_tokens: int, hidden: int, layers: int, heads: int, dropout: float,
                 time_stride: int = 4):
        super().__init__()
        from torchaudio.models import Conformer

        self.front = ConvFrontEnd(n_mels, 32, hidden, time_stride)
        self.encoder = Conformer(input_dim=hidden, num_heads=heads, ffn_dim=4 * hidden, num_layers=layers,
                                 depthwise_conv_kernel_size=15, dropout=dropout)
        self.head = nn.Linear(hidden, n_tokens)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden, lengths = self.front(inputs["features"], inputs["lengths"])
        states, _ = self.encoder(hidden, lengths.clamp_min(1))
        return _masked_log_probs(self.head(states), lengths)


def build_acoustic_model(name: str, n_mels: int, n_tokens: int, hidden: int, layers: int, heads: int,
                         dropout: float, time_stride: int = 4) -> nn.Module:
    if name == "conformer":
        return ConformerCTC(n_mels, n_tokens, hidden, layers, heads, dropout, time_stride)
    return CRNN(n_mels, n_tokens, hidden, layers, dropout, time_stride)
