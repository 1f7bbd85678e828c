"""The character vocabulary: blank first, a word-boundary token, round trips, unknown characters."""

from __future__ import annotations

from torchworks.tasks.speech_recognition.vocabulary import BLANK, SPACE, Vocabulary, drop_unknown, normalise, unknown_characters


def test_round_trip_and_layout():
    vocabulary = Vocabulary.from_transcripts(["three seven", "one"])
    assert vocabulary.tokens[:2] == [BLANK, SPACE] and "e" in vocabulary.tokens
    assert vocabulary.decode(vocabulary.encode("seven one")) == "seven one"
    assert vocabulary.missing("nine") == {"i"}


def test_normalising_and_unknown_characters():
    assert normalise("  Three   SEVEN ") == "three seven"
    assert unknown_characters("it's 5, ok?") == {",", "?"}
    assert drop_unknown("it's 5, ok?") == "it's 5 ok"
