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
from torchworks.attribution.explainer import Explainer, Explanation, Presentation, Row, Target, explain_rows
from torchworks.attribution.gradients import positional
from torchworks.attribution.values import class_named, class_prediction, positive_int, rounded

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
    encoder = shared_encoder(state["tokenizer"], state["max_length"])

    def predict(model: nn.Module, row: Row) -> tuple[dict[str, Any], Target]:
        logits = model(row.inputs)[0].float()
        return class_prediction(logits.sigmoid() if state["multi_label"] else logits.softmax(dim=0), labels)

    def integrated_gradients(model: nn.Module, row: Row, target: Target, options: dict[str, str]):
        steps = positive_int(options, "steps", DEFAULT_STEPS, largest=1000)
        token_ids, encoding = _tokens(row, encoder)
        return _token_scores(model, token_ids, encoding, target.value, steps, state["pad_id"])

    def present(row: Row, record: dict[str, Any], scores: list[float], details: dict[str, Any]) -> Presentation:
        text, predicted, label = record["input"], record["prediction"], record["target"]
        token_ids, encoding = _tokens(row, encoder)
        tokens, words = _tokens_and_words(token_ids[0].tolist(), scores, encoding, encoder, text)
        strongest = sorted(words, key=lambda word: -abs(word["score"]))[:3]
        summary = f"predicted {predicted['label']} ({predicted['probability']:.3f}); for {label}: " + \
                  (", ".join(f"{word['word']} {word['score']:+.2f}" for word in strongest) or "no words")
        return Presentation({**details, "words": words, "tokens": tokens}, summary=summary,
                            html=_fragment(_segments(text, words, tokens, encoding), predicted["label"], label))

    explainer = Explainer(describe=_describe, predict=predict, resolve_target=lambda text: class_named(text, labels),
                          attributors={"integrated_gradients": integrated_gradients}, present=present)
    return explain_rows(explainer, model, inputs, ids, method, target, options)


def _describe(origin: dict[str, Any]) -> dict[str, Any]:
    """The record's facts about a text: where it came from (file, line...), then the text."""
    return {**{key: value for key, value in origin.items() if key != "input"}, "input": str(origin["input"])}


def _tokens(row: Row, encoder: Any) -> tuple[torch.Tensor, Any]:
    """The text's token ids (1 x tokens, padding cut off) and its encoding, which knows each token's
    word and place in the text; None when the tokens are not the text's own."""
    length = int(row.inputs["attention_mask"][0].sum())
    token_ids = row.inputs["input_ids"][:, :length]
    encoding = encoder.tokenizer.encode(str(row.identifier["input"]))
    if encoding.ids != token_ids[0].tolist():  # an empty text became [UNK]: no character offsets
        encoding = None
    return token_ids, encoding


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
