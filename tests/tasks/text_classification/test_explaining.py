"""Text explanations: the one word that decides the label gets the top score; every model family has
a token layer; word pieces come back as words; scores add up to the logit difference."""

from __future__ import annotations

import pytest
import torch

from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model
from torchworks.errors import ConfigError
from torchworks.tasks.text_classification.explaining import token_layer
from torchworks.tasks.text_classification.models import build_scratch_model
from torchworks.tasks.text_classification.tokenizing import train_tokenizer


def test_the_keyword_that_decides_the_label_gets_the_top_attribution(keyword_text_run):
    bundle, task, _, model = load_model(keyword_text_run)
    texts = ["please zorblax my refund today", "still waiting zorblax for the phone", "box price zorblax again"]
    explanations = explain_items(task, model, bundle.state, texts)
    for text, explanation in zip(texts, explanations):
        record = explanation.record
        assert record["input"] == text and record["prediction"]["label"] == record["target"] == "alpha"
        words = record["attributions"]["words"]
        assert [w["word"] for w in words] == text.split()
        top = max(words, key=lambda w: w["score"])
        assert top["word"] == "zorblax", words
        assert top["score"] > 2 * max(abs(w["score"]) for w in words if w is not top)
        assert text[top["start"] : top["end"]] == "zorblax"
        assert "zorblax" in explanation.html and "rgba(26,152,80" in explanation.html, "green: speaks for alpha"
    # asked about the other class, the keyword speaks against it
    (against,) = explain_items(task, model, bundle.state, [texts[0]], target="beta")
    scores = {w["word"]: w["score"] for w in against.record["attributions"]["words"]}
    assert against.record["target"] == "beta" and min(scores, key=scores.get) == "zorblax"


def _tiny_state(texts: list[str]) -> dict:
    tokenizer = train_tokenizer(texts * 3, vocab_size=200)
    return {"labels": ["a", "b"], "multi_label": False, "tokenizer": tokenizer, "max_length": 32, "pad_id": 0,
            "text_column": None, "pretrained": False}


@pytest.mark.parametrize("name, layer", [("embeddingbag", "token_weights"), ("bigru", "embedding"),
                                         ("bilstm", "embedding"), ("transformer", "embedding")])
def test_every_scratch_model_has_a_token_layer_and_scores_add_up(name, layer):
    from torchworks.tasks import get_task

    torch.manual_seed(0)
    model = build_scratch_model(name, 200, 2, dim=8, hidden=8, layers=1, heads=2, dropout=0.0, max_length=32).eval()
    assert token_layer(model)[0] == layer
    state = _tiny_state(["my parcel is late", "refund my card"])
    (explanation,) = explain_items(get_task("text-classification"), model, state, ["my parcel is late"])
    attributions = explanation.record["attributions"]
    assert attributions["layer"] == layer and len(attributions["words"]) == 4
    assert abs(attributions["convergence_delta"]) < 1e-3, "the scores add up to the logit difference"
    assert all(p.requires_grad for p in model.parameters()) and not model.training


def test_a_model_without_token_layer_is_refused():
    with pytest.raises(ConfigError, match="no token layer"):
        token_layer(torch.nn.Linear(3, 2))


def test_minilm_word_pieces_merge_back_into_words():
    from torchworks.tasks import get_task
    from torchworks.tasks.text_classification.pretrained import build_pretrained, encoder_state, locate_encoder
    from torchworks.tasks.text_classification.tokenizing import pretrained_tokenizer

    folder = locate_encoder("minilm")
    state = {**encoder_state(folder), "pad_id": 0, "labels": ["a", "b"], "multi_label": False,
             "tokenizer": pretrained_tokenizer(folder), "max_length": 64, "text_column": None, "pretrained": True}
    torch.manual_seed(0)
    model = build_pretrained(state, 2, dropout=0.0, frozen=True, folder=folder).eval()
    text = "Refund for my broken blender"
    (explanation,) = explain_items(get_task("text-classification"), model, state, [text], target="b")
    attributions = explanation.record["attributions"]
    assert attributions["layer"] == "encoder.embeddings.word_embeddings"
    tokens = [t["token"] for t in attributions["tokens"]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "##er" in tokens, tokens
    words = attributions["words"]
    assert [w["word"] for w in words] == text.split(), "pieces merged, original case kept"
    pieces = {t["token"]: t["score"] for t in attributions["tokens"]}
    blender = next(w for w in words if w["word"] == "blender")
    assert blender["score"] == pytest.approx(pieces["blend"] + pieces["##er"], abs=1e-3)
    assert abs(attributions["convergence_delta"]) < 0.05
