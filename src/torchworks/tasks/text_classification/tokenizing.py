"""Token ids for texts: a subword tokenizer trained on the training texts (``tokenizers`` library) for
scratch models, or a pretrained encoder's own tokenizer. Either way it is stored in the bundle as JSON."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from torchworks.errors import ConfigError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class TextEncoder:
    """A ``tokenizers.Tokenizer`` that truncates to ``max_length`` and counts what it cut."""

    def __init__(self, tokenizer_json: str, max_length: int):
        from tokenizers import Tokenizer

        self.json = tokenizer_json
        self.max_length = max_length
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_padding()  # padding happens per batch, in the collate function
        self.tokenizer.enable_truncation(max_length)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, texts: Sequence[str]) -> tuple[list[list[int]], int]:
        """Token ids per text, and how many texts were longer than ``max_length`` (cut)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids or [self.unknown_id] for e in encodings]
        return ids, sum(1 for e in encodings if e.overflowing)

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text, as shown in explanations."""
        return self.tokenizer.encode(text).tokens

    @property
    def unknown_id(self) -> int:
        for token in ("[UNK]", "<unk>"):
            found = self.tokenizer.token_to_id(token)
            if found is not None:
                return found
        return 0

    @property
    def pad_id(self) -> int:
        padding = self.tokenizer.padding or {}
        for token in (padding.get("pad_token"), "[PAD]", "<pad>"):
            found = self.tokenizer.token_to_id(token) if token else None
            if found is not None:
                return found
        return 0


@functools.lru_cache(maxsize=8)
def shared_encoder(tokenizer_json: str, max_length: int) -> TextEncoder:
    """One encoder per tokenizer and length, built once: parsing a tokenizer's JSON takes tens of
    milliseconds, more than classifying a text (the same string object hashes in constant time)."""
    return TextEncoder(tokenizer_json, max_length)


def train_tokenizer(texts: Sequence[str], vocab_size: int) -> str:
    """A lower-casing WordPiece tokenizer fitted to ``texts``, as JSON. Subwords cope with typos
    and unseen word forms that a word vocabulary would map to [UNK]."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                        show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tokenizer.to_str()


def pretrained_tokenizer(folder: Path) -> str:
    """The tokenizer of the pretrained model in ``folder``, as ``tokenizers`` JSON."""
    file = folder / "tokenizer.json"
    if file.is_file():
        return file.read_text(encoding="utf-8")
    try:  # a folder with only vocab.txt / sentencepiece files: let transformers build the fast tokenizer
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(folder), use_fast=True, local_files_only=True).backend_tokenizer.to_str()
    except Exception as error:  # noqa: BLE001  (transformers raises many kinds for a bad folder)
        raise ConfigError(f"no usable tokenizer in '{folder}'", expected="tokenizer.json or vocab files",
                          got=f"{type(error).__name__}: {error}"[:200],
                          hint="save the model with its tokenizer (save_pretrained on both)") from None
