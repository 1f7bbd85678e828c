"""The item catalogue: ids as text, titles, genres split from their cells, other features typed, and rows
added for items the interactions name but the catalogue lacks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from torchworks.errors import DataError
from torchworks.tasks.recommendation.catalogue import complete_items, read_catalogue, split_genres


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_catalogue_is_indexed_by_id_with_titles_genres_and_typed_features(tmp_path):
    path = write(tmp_path / "items.csv", "item_id,title,genres,price,brand\n"
                                         "10,Red Shoes,Shoes|Sale,19.5,Acme\n"
                                         "11,,Hats,,Bolt\n"
                                         " 12 ,Blue Scarf,,4,\n")
    items = read_catalogue(path)
    assert list(items.index) == ["10", "11", "12"] and items.index.name == "item"
    assert pd.api.types.is_string_dtype(items.index)
    assert list(items["title"]) == ["Red Shoes", "11", "Blue Scarf"]  # an empty title is the id
    assert list(items["genres"]) == [["Shoes", "Sale"], ["Hats"], []]
    assert items["price"].dtype == np.float64 and items["price"].tolist()[::2] == [19.5, 4.0]
    assert np.isnan(items.loc["11", "price"])
    assert list(items["brand"]) == ["Acme", "Bolt", ""] and pd.api.types.is_string_dtype(items["brand"])
    assert list(items.columns) == ["title", "genres", "price", "brand"]


def test_names_and_categories_stand_in_for_titles_and_genres(tmp_path):
    path = write(tmp_path / "products.csv", "SKU,Name,Category\na1,Kettle,kitchen; home\na2,Lamp,\"home, light\"\n")
    items = read_catalogue(path)
    assert list(items["title"]) == ["Kettle", "Lamp"]
    assert list(items["genres"]) == [["kitchen", "home"], ["home", "light"]]


def test_without_a_title_column_the_title_is_the_id_and_an_id_column_is_found(tmp_path):
    items = read_catalogue(write(tmp_path / "items.csv", "id,tags\nx,a|b|a\ny,(no genres listed)\n"))
    assert list(items["title"]) == ["x", "y"]
    assert list(items["genres"]) == [["a", "b"], []]


def test_the_item_column_can_be_named_or_preferred(tmp_path):
    path = write(tmp_path / "items.csv", "code,item,title\nA,ignored,Alpha\nB,other,Beta\n")
    items = read_catalogue(path, "code")
    assert list(items.index) == ["A", "B"] and list(items["item"]) == ["ignored", "other"]
    assert list(read_catalogue(path, prefer="Code").index) == ["A", "B"]
    assert list(read_catalogue(path, prefer="absent").index) == ["ignored", "other"]
    with pytest.raises(DataError, match="column 'absent' is not in"):
        read_catalogue(path, "absent")


def test_json_lines_lists_of_genres_and_parquet_numeric_ids(tmp_path):
    lines = [{"item": 1, "title": "One", "genres": ["Drama", "War"]}, {"item": 2, "title": "Two", "genres": []}]
    path = write(tmp_path / "items.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    items = read_catalogue(path)
    assert list(items.index) == ["1", "2"] and list(items["genres"]) == [["Drama", "War"], []]
    pd.DataFrame({"movieId": [5.0, 6.0], "title": ["Five", "Six"], "year": [1999, 2001]}).to_parquet(
        tmp_path / "items.parquet")
    items = read_catalogue(tmp_path / "items.parquet")
    assert list(items.index) == ["5", "6"]  # whole floats are written as the integers they are
    assert items["year"].tolist() == [1999.0, 2001.0] and items["year"].dtype == np.float64


def test_an_item_listed_twice_names_its_lines(tmp_path):
    path = write(tmp_path / "items.csv", "item,title\na,A\nb,B\na,A again\nc,C\n")
    with pytest.raises(DataError, match=r"1 item of .* is listed more than once") as error:
        read_catalogue(path)
    assert "'a' on lines 2 and 4" in str(error.value)


def test_an_empty_id_names_its_line_and_a_missing_id_column_lists_the_columns(tmp_path):
    with pytest.raises(DataError, match=r"1 line of .* has no item") as error:
        read_catalogue(write(tmp_path / "items.csv", "item,title\na,A\n,B\n"))
    assert "line 3" in str(error.value)
    with pytest.raises(DataError, match="no item id column") as error:
        read_catalogue(write(tmp_path / "other.csv", "code,title\na,A\n"))
    assert "columns code and title" in str(error.value)


def test_split_genres_takes_every_separator_and_drops_repeats_and_blanks():
    assert split_genres("Action|Comedy") == ["Action", "Comedy"]
    assert split_genres("a, b;c||a") == ["a", "b", "c"]
    assert split_genres("(no genres listed)") == [] and split_genres(float("nan")) == [] and split_genres(None) == []
    assert split_genres(("x", "y")) == ["x", "y"]


def test_complete_items_adds_what_the_interactions_name_and_keeps_cold_items(tmp_path):
    items = read_catalogue(write(tmp_path / "items.csv", "item,title,genres,price,brand\n"
                                                         "a,Alpha,X,1.5,Acme\ncold,Cold,Y,2,Bolt\n"))
    full = complete_items(items, ["b", "a", "c", "b"])
    assert list(full.index) == ["a", "cold", "b", "c"]
    assert full.loc["b", "title"] == "b" and full.loc["c", "genres"] == []
    assert np.isnan(full.loc["b", "price"]) and full.loc["b", "brand"] == ""
    assert full["price"].dtype == np.float64
    bare = complete_items(None, ["z", "y", "z"])
    assert list(bare.index) == ["z", "y"] and list(bare["title"]) == ["z", "y"] and list(bare.columns) == [
        "title", "genres"]
    assert complete_items(items, ["a"]) is items
