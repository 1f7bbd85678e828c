"""Log-mel features (parameters stored in the bundle) and the training-only augmentations:
speed perturbation, additive noise and SpecAugment's frequency and time masks."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


def feature_state(sample_rate: int, n_mels: int, window_ms: float, hop_ms: float) -> dict[str, Any]:
    """The feature parameters a bundle keeps, so predictions see exactly the training features."""
    window = int(round(sample_rate * window_ms / 1000))
    return {"sample_rate": sample_rate, "n_mels": n_mels, "win_length": window,
            "hop_length": int(round(sample_rate * hop_ms / 1000)), "n_fft": 1 << (window - 1).bit_length()}


class LogMel(nn.Module):
    """Waveform (samples,) -> log-mel frames (frames, n_mels), normalised per clip and band."""

    def __init__(self, state: dict[str, Any]):
        super().__init__()
        from torchaudio.transforms import MelSpectrogram

        self.mel = MelSpectrogram(sample_rate=state["sample_rate"], n_fft=state["n_fft"],
                                  win_length=state["win_length"], hop_length=state["hop_length"],
                                  n_mels=state["n_mels"], center=True)

    @torch.no_grad()
    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        frames = torch.log(self.mel(samples) + 1e-6).transpose(0, 1)
        mean = frames.mean(dim=0, keepdim=True)
        std = frames.std(dim=0, keepdim=True) if len(frames) > 1 else torch.ones_like(mean)
        return (frames - mean) / (std + 1e-5)


def perturb_speed(samples: np.ndarray, sample_rate: int, amount: float) -> np.ndarray:
    """Play the clip up to ``amount`` faster or slower (pitch moves with it, as in Kaldi's recipe)."""
    if amount <= 0:
        return samples
    from torchaudio.functional import resample

    factor = 1.0 + (float(torch.rand(())) * 2 - 1) * amount
    source = int(round(sample_rate * factor / 100)) * 100
    if source == sample_rate:
        return samples
    return resample(torch.from_numpy(samples), source, sample_rate).numpy()


def add_noise(samples: np.ndarray, probability: float) -> np.ndarray:
    """White noise at a random SNR of 10-40 dB on ``probability`` of the clips."""
    if probability <= 0 or float(torch.rand(())) >= probability:
        return samples
    power = float(np.mean(samples**2)) + 1e-10
    snr_db = 10 + 30 * float(torch.rand(()))
    noise = torch.randn(len(samples)).numpy() * np.sqrt(power / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


def spec_augment(frames: torch.Tensor, freq_mask: int, time_mask: int, masks: int) -> torch.Tensor:
    """Zero ``masks`` random bands of up to ``freq_mask`` mels and spans of up to ``time_mask``
    frames (never more than a fifth of the clip), as in SpecAugment."""
    frames = frames.clone()
    steps, bands = frames.shape
    for _ in range(masks):
        if freq_mask:
            width = int(torch.randint(0, freq_mask + 1, ()))
            start = int(torch.randint(0, max(1, bands - width), ()))
            frames[:, start:start + width] = 0.0
        if time_mask:
            width = int(torch.randint(0, min(time_mask, max(1, steps // 5)) + 1, ()))
            start = int(torch.randint(0, max(1, steps - width), ()))
            frames[start:start + width] = 0.0
    return frames
