"""Why a text got its label: layer integrated gradients (Captum) at the model's token layer.

The layer is found through the model, whatever its family: a bag model's ``token_weights`` (a bag
holds no vector per token), else a Hugging Face encoder's input embeddings, else the first
``nn.Embedding`` (token embeddings are made before position embeddings). The reference is the same
text with every ordinary token turned into padding ([CLS] and [SEP] kept) at an embedding layer, and
every token weighed 0 at a bag's token weights. A token's score is its share of the difference
between the model's score (logit) of the explained class for the text and for the reference: the
scores add up to that difference, up to the reported ``convergence_delta``. Word pieces are merged
back into words (their scores summed) where the tokenizer keeps track of words.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchworks.errors import ConfigError
from torchworks.attribution.gradients import positional
from torchworks.attribution.values import class_target, positive_int, rounded
from torchworks.tasks.protocol import Explanation

DEFAULT_STEPS = 50
_INPUTS = ["input_ids", "attention_mask"]


def token_layer(model: nn.Module) -> tuple[str, nn.Module, bool]:
    """The name and module whose output holds one entry per token, and whether it holds token
    weights (True) rather than embedding vectors.

    Raises:
        ConfigError: The model has no such layer.
    """
    names = {id(module): name for name, module in model.named_modules()}
    weights = getattr(model, "token_weights", None)
    if isinstance(weights, nn.Module):
        return names[id(weights)], weights, True
    for module in model.modules():
        embeddings = getattr(module, "get_input_embeddings", None)
        if callable(embeddings) and isinstance(embeddings(), nn.Module) and id(embeddings()) in names:
            return names[id(embeddings())], embeddings(), False
    for name, module in model.named_modules():
        if isinstance(module, nn.Embedding):
            return name, module, False
    raise ConfigError("this text model has no token layer to attribute to", expected="token embeddings "
                      "(nn.Embedding) or token weights", got=type(model).__name__,
                      hint="explain a model trained with torchworks' text models")


def explain_texts(model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[dict[str, Any]],
                  state: dict[str, Any], method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
    """One explanation per text of the batch (``{"input_ids", "attention_mask"}``)."""
    from torchworks.tasks.text_classification.tokenizing import shared_encoder

    labels = state["labels"]
    with torch.no_grad():
        logits = model(inputs).float()
    probabilities = logits.sigmoid() if state["multi_label"] else logits.softmax(dim=1)
    steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
    encoder = shared_encoder(state["tokenizer"], state["max_length"])
    explanations = []
    for row, origin in enumerate(ids):
        predicted = int(probabilities[row].argmax())
        index, label = class_target(target, labels, predicted)
        length = int(inputs["attention_mask"][row].sum())
        token_ids = inputs["input_ids"][row : row + 1, :length]
        text = str(origin["input"])
        encoding = encoder.tokenizer.encode(text)
        if encoding.ids != token_ids[0].tolist():  # an empty text became [UNK]: no character offsets
            encoding = None
        scores, details = _token_scores(model, token_ids, encoding, index, steps, state["pad_id"])
        tokens, words = _tokens_and_words(token_ids[0].tolist(), scores, encoding, encoder, text)
        record = {
            **{key: value for key, value in origin.items() if key != "input"},
            "input": text,
            "prediction": {"label": labels[predicted], "probability": round(float(probabilities[row, predicted]), 6)},
            "method": method,
            "target": label,
            "attributions": {**details, "words": words, "tokens": tokens},
        }
        segments = _segments(text, words, tokens, encoding)
        strongest = sorted(words, key=lambda word: -abs(word["score"]))[:3]
        summary = f"predicted {labels[predicted]} ({record['prediction']['probability']:.3f}); for {label}: " + \
                  (", ".join(f"{word['word']} {word['score']:+.2f}" for word in strongest) or "no words")
        explanations.append(Explanation(record, html=_fragment(segments, labels[predicted], label), summary=summary))
    return explanations


def _token_scores(model: nn.Module, token_ids: torch.Tensor, encoding: Any, index: int, steps: int,
                  pad_id: int) -> tuple[list[float], dict[str, Any]]:
    """Layer integrated gradients of class ``index`` for one text (1 x tokens): a score per token."""
    from captum.attr import LayerIntegratedGradients

    name, layer, weights = token_layer(model)
    mask = torch.ones_like(token_ids)
    if weights:
        reference, reference_name = (token_ids, torch.zeros_like(mask)), "every token weighed 0"
    else:
        special = torch.tensor(encoding.special_tokens_mask if encoding is not None else [0] * token_ids.shape[1],
                               dtype=torch.bool, device=token_ids.device)[None]
        reference = (torch.where(special, token_ids, torch.full_like(token_ids, pad_id)), mask)
        reference_name = "padding in place of every token"
    attributions, delta = LayerIntegratedGradients(positional(model, _INPUTS), layer).attribute(
        (token_ids, mask), baselines=reference, target=index, n_steps=steps, internal_batch_size=32,
        return_convergence_delta=True)
    per_token = attributions[0] if attributions.dim() == 2 else attributions[0].sum(dim=-1)
    return per_token.detach().float().cpu().tolist(), {
        "layer": name, "reference": reference_name, "steps": steps,
        "convergence_delta": float(f"{float(delta[0]):.4g}")}


def _tokens_and_words(token_ids: list[int], scores: list[float], encoding: Any, encoder: Any,
                      text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Token records, and word records (word pieces summed) with their place in the text."""
    shown = encoding.tokens if encoding is not None else [encoder.tokenizer.id_to_token(i) or "?" for i in token_ids]
    special = encoding.special_tokens_mask if encoding is not None else [0] * len(token_ids)
    tokens = [{"token": token, "score": score, **({"special": True} if flag else {})}
              for token, score, flag in zip(shown, rounded(scores), special)]
    words: list[dict[str, Any]] = []
    if encoding is None:
        return tokens, words
    last = None
    for position, word in enumerate(encoding.word_ids):
        if word is None or special[position]:
            last = None
            continue
        start, end = encoding.offsets[position]
        if word == last and words:
            words[-1]["end"] = end
            words[-1]["score"] += scores[position]
        else:
            words.append({"word": "", "score": scores[position], "start": start, "end": end})
        last = word
    for entry in words:
        entry["word"] = text[entry["start"] : entry["end"]]
        entry["score"] = rounded([entry["score"]])[0]
    return tokens, words


def _segments(text: str, words: list[dict[str, Any]], tokens: list[dict[str, Any]],
              encoding: Any) -> list[tuple[str, float | None]]:
    """The text as pieces to highlight (words, with the text between them plain), or the tokens."""
    if not words:
        return [(f"{entry['token']} ", entry["score"]) for entry in tokens if not entry.get("special")]
    segments: list[tuple[str, float | None]] = []
    position = 0
    for word in words:
        if word["start"] > position:
            segments.append((text[position : word["start"]], None))
        segments.append((word["word"], word["score"]))
        position = word["end"]
    if position < len(text):
        segments.append((text[position:], None))
    return segments


def _fragment(segments: list[tuple[str, float | None]], predicted: str, explained: str) -> str:
    from html import escape

    from torchworks.attribution.figures import highlighted_html

    legend = (f"<p class='sub'>predicted <b>{escape(predicted)}</b>; explaining <b>{escape(explained)}</b>: "
              "green words speak for it, red against it (hover for the score)</p>")
    return legend + highlighted_html(segments)
