"""two_tower's item features: genres as rows summing to one, numbers standardised, text encoded by the bundled
MiniLM (one vector per distinct text), and nothing made up where the catalogue has nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchworks.tables import Rows
from torchworks.tasks.recommendation.catalogue import catalogue_from_table
from torchworks.tasks.recommendation.item_features import encode_texts, item_features


def catalogue(frame: pd.DataFrame) -> pd.DataFrame:
    return catalogue_from_table(frame, Rows("items.csv", "line", 2), "item_id")


def test_genres_numbers_and_text_of_a_catalogue_in_the_models_item_order():
    items = catalogue(pd.DataFrame({"item_id": ["a", "b", "c"], "name": ["Red running shoe", "Blue kettle", "Red shoe"],
                                    "category": ["shoes|sport", "kitchen", "shoes"], "price": [50.0, 20.0, np.nan],
                                    "brand": ["acme", "", "acme"]}))
    features = item_features(items, ["c", "a", "b", "unknown"], progress=False)
    assert features.names["genres"] == ["kitchen", "shoes", "sport"]
    assert features.genres.tolist() == [[0, 1, 0], [0, 0.5, 0.5], [1, 0, 0], [0, 0, 0]]
    assert features.names["numbers"] == ["price"]
    prices = features.numbers[:, 0]
    assert prices[3] == 0 and prices[0] == 0  # missing: the mean
    assert prices[1] == pytest.approx(1.0) and prices[2] == pytest.approx(-1.0)
    assert features.names["text"] == ["title", "brand"] and features.text.shape == (4, 384)
    assert np.allclose(np.linalg.norm(features.text, axis=1), 1.0, atol=1e-5)
    shoe, running_shoe, kettle = features.text[0], features.text[1], features.text[2]
    assert shoe @ running_shoe > shoe @ kettle  # the encoder puts like texts together
    assert features.sizes == {"genres": 3, "numbers": 1, "text": 384}


def test_a_catalogue_of_bare_ids_has_no_text_and_text_can_be_left_out():
    items = catalogue(pd.DataFrame({"item_id": ["a", "b"], "genres": ["x", "y"]}))
    bare = item_features(items, ["a", "b"], progress=False)
    assert bare.text.shape == (2, 0) and bare.names["text"] == [] and bare.numbers.shape == (2, 0)
    titled = catalogue(pd.DataFrame({"item_id": ["a", "b"], "title": ["One", "Two"]}))
    assert item_features(titled, ["a", "b"], text=False, progress=False).text.shape == (2, 0)


def test_the_same_text_gets_the_same_vector_wherever_it_is():
    vectors = encode_texts(["a red shoe", "a kettle", "a red shoe"], progress=False)
    assert np.array_equal(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
