"""Subword tokenizers: trained on the training texts, stored as JSON, truncating with a count."""

from __future__ import annotations

from torchworks.tasks.text_classification.tokenizing import TextEncoder, train_tokenizer

TEXTS = ["my parcel never arrived", "the parcel arrived broken", "refund my money please",
         "my money was taken twice", "the app crashes on login", "login fails in the app"] * 3


def test_subwords_cover_typos_and_unseen_words():
    encoder = TextEncoder(train_tokenizer(TEXTS, 300), 64)
    assert encoder.pad_id == 0 and 0 < encoder.vocab_size <= 300
    tokens = encoder.tokens("parcell arived")
    assert "[UNK]" not in tokens and tokens[0] == "parcel"


def test_the_tokenizer_round_trips_through_json():
    text = train_tokenizer(TEXTS, 300)
    assert TextEncoder(text, 64).encode(["refund my parcel"]) == TextEncoder(text, 64).encode(["refund my parcel"])


def test_long_texts_are_cut_and_counted():
    encoder = TextEncoder(train_tokenizer(TEXTS, 300), 5)
    ids, truncated = encoder.encode(["my parcel never arrived and the app crashes", "refund"])
    assert [len(x) for x in ids] == [5, 1] and truncated == 1


def test_an_empty_text_still_has_one_token():
    encoder = TextEncoder(train_tokenizer(TEXTS, 300), 8)
    assert encoder.encode([""])[0] == [[encoder.unknown_id]]
