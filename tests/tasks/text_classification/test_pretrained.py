"""Pretrained encoders: found offline or refused at once; frozen embeddings cached; bundles self-contained."""

from __future__ import annotations

import time

import pytest
import torch

from torchworks.errors import ConfigError
from torchworks.tasks.text_classification.data import collate_tokens
from torchworks.tasks.text_classification.pretrained import build_pretrained, encoder_state, locate_encoder
from torchworks.tasks.text_classification.tokenizing import TextEncoder, pretrained_tokenizer


@pytest.fixture(scope="module")
def minilm():
    folder = locate_encoder("minilm")
    state = {**encoder_state(folder), "pad_id": 0}
    return folder, state


def test_minilm_ships_with_its_tokenizer_and_config(minilm):
    folder, state = minilm
    assert state["pooling"] == "mean" and state["encoder_config"]["model_type"] == "bert"
    encoder = TextEncoder(pretrained_tokenizer(folder), 128)
    assert encoder.pad_id == 0 and encoder.tokens("refund")[0] == "[CLS]"


def test_a_model_that_is_not_on_this_machine_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # even when online lookups would be allowed
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        locate_encoder("someone/not-a-real-model-xyz")
    assert time.perf_counter() - started < 10
    assert "not available on this machine" in info.value.what and "nothing is downloaded" in info.value.expected


def test_a_misspelt_model_name_gets_a_suggestion():
    with pytest.raises(ConfigError) as info:
        locate_encoder("bigrru")
    assert "did you mean 'bigru'?" in info.value.hint


def test_a_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        locate_encoder(str(tmp_path))
    assert "config.json" in info.value.got


def test_frozen_encoder_caches_embeddings_without_changing_them(minilm):
    folder, state = minilm
    torch.manual_seed(0)
    model = build_pretrained(state, 3, dropout=0.0, frozen=True, folder=folder)
    batch = collate_tokens([torch.tensor([101, 7592, 2088, 102]), torch.tensor([101, 2088, 102])], labelled=False)
    expected = model.eval()(batch)
    model.train()
    assert not model.encoder.training and not any(p.requires_grad for p in model.encoder.parameters())
    model.use_cache(True)
    first = model(batch)
    assert len(model._cache) == 2
    assert torch.allclose(first, expected, atol=1e-5) and torch.allclose(model(batch), first)
    with torch.inference_mode():  # as in validation
        assert torch.allclose(model.eval()(batch), expected, atol=1e-5), "validation reads the same cache"
    model.use_cache(True)
    with torch.inference_mode():
        model.eval()(batch)  # filled in inference mode ...
    model.train()(batch).sum().backward()  # ... and still usable for training
    # d/dW sum(W e_b + c) over the batch = the sum of the (cached) embeddings, in every class's row
    with torch.no_grad():
        pooled = model.embed(batch["input_ids"], batch["attention_mask"])
    assert model.head.weight.grad is not None and model.head.weight.grad.shape == (3, pooled.shape[1])
    assert torch.allclose(model.head.weight.grad, pooled.sum(0).expand(3, -1), atol=1e-4)
    assert torch.allclose(model.head.bias.grad, torch.full((3,), 2.0))
    model.use_cache(False)
    assert model._cache is None


def test_a_bundle_rebuilds_the_encoder_from_its_stored_config(minilm):
    folder, state = minilm
    trained = build_pretrained(state, 2, dropout=0.1, frozen=False, folder=folder)
    rebuilt = build_pretrained(state, 2, dropout=0.1, frozen=False, folder=None)
    assert {k: v.shape for k, v in trained.state_dict().items()} == {k: v.shape for k, v in rebuilt.state_dict().items()}
