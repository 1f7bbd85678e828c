"""Reading tables of interactions: columns found by name, typed values, sorting, duplicates, and errors that
name the file and the lines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from torchworks.errors import ConfigError, DataError
from torchworks.tasks.recommendation.interactions import FRAME_COLUMNS, Interactions
from torchworks.tasks.recommendation.reading import read_interactions
from torchworks.uploads import Upload

EVENTS = ("user_id,item_id,rating,timestamp\n"
          "u1,a,4,300\n"
          "u2,b,5,100\n"
          "u1,b,3,200\n"
          "u3,c,1.5,100\n")


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_of_events_becomes_a_typed_frame_sorted_by_time_then_line(tmp_path):
    log = read_interactions(write(tmp_path / "events.csv", EVENTS))
    assert isinstance(log, Interactions)
    frame = log.frame
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert frame["user"].tolist() == ["u2", "u3", "u1", "u1"]
    assert frame["item"].tolist() == ["b", "c", "b", "a"]
    assert frame["rating"].tolist() == [5.0, 1.5, 3.0, 4.0]
    assert frame["time"].tolist() == [100, 100, 200, 300]
    assert frame["line"].tolist() == [3, 5, 4, 2]  # line 1 is the header
    assert frame["weight"].tolist() == [1.0] * 4
    assert list(frame.index) == [0, 1, 2, 3]
    assert pd.api.types.is_string_dtype(frame["user"]) and pd.api.types.is_string_dtype(frame["item"])
    assert [str(frame[c].dtype) for c in ("rating", "weight", "time", "line")] == ["float64", "float64", "int64",
                                                                                   "int64"]
    assert log.has_ratings and log.has_times and log.rating_scale is None
    assert log.columns == {"user": "user_id", "item": "item_id", "rating": "rating", "time": "timestamp"}
    assert log.notes == {"layout": "table", "duplicates dropped": 0}
    assert log.source == str(tmp_path / "events.csv") and log.rows.unit == "line"
    assert sorted(log.items.index) == ["a", "b", "c"] and log.items.loc["a", "title"] == "a"
    assert log.items.loc["a", "genres"] == []


def test_columns_are_found_whatever_their_case_and_ids_are_stripped_text(tmp_path):
    path = write(tmp_path / "shop.csv", "Customer_ID,SKU,Quantity,Stars\n 7 ,p1,2,5\n8,p2 ,1,4\n")
    log = read_interactions(path)
    assert log.columns == {"user": "Customer_ID", "item": "SKU", "rating": "Stars", "weight": "Quantity"}
    assert log.frame["user"].tolist() == ["7", "8"] and log.frame["item"].tolist() == ["p1", "p2"]
    assert log.frame["weight"].tolist() == [2.0, 1.0]
    assert not log.has_times and log.frame["time"].tolist() == [0, 1]  # the row order


def test_named_columns_take_precedence_and_an_absent_one_is_an_error(tmp_path):
    path = write(tmp_path / "e.csv", "who,what,user,grade\na,x,ignored,1\nb,y,ignored,2\n")
    log = read_interactions(path, user="who", item="WHAT", rating="grade")
    assert log.frame["user"].tolist() == ["a", "b"] and log.columns["item"] == "what"
    with pytest.raises(DataError, match=r"rating column 'score' is not in .*e\.csv"):
        read_interactions(path, user="who", item="what", rating="score")
    with pytest.raises(ConfigError, match="named for two roles"):
        read_interactions(path, user="who", item="who")


def test_without_a_user_or_item_column_the_error_lists_the_columns_and_says_to_name_them(tmp_path):
    with pytest.raises(DataError, match="no user column") as error:
        read_interactions(write(tmp_path / "e.csv", "person,item\na,x\nb,y\n"))
    message = str(error.value)
    assert "columns person and item" in message and "user=COLUMN" in message


def test_the_same_events_read_alike_from_tsv_json_lines_parquet_a_dataframe_and_an_upload(tmp_path):
    expected = read_interactions(write(tmp_path / "events.csv", EVENTS)).frame.drop(columns="line")
    tsv = write(tmp_path / "events.tsv", EVENTS.replace(",", "\t"))
    records = [dict(zip(("user_id", "item_id", "rating", "timestamp"), line.split(","), strict=True))
               for line in EVENTS.splitlines()[1:]]
    jsonl = write(tmp_path / "events.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    table = pd.DataFrame({"user_id": ["u1", "u2", "u1", "u3"], "item_id": ["a", "b", "b", "c"],
                          "rating": [4.0, 5.0, 3.0, 1.5], "timestamp": [300, 100, 200, 100]})
    table.to_parquet(tmp_path / "events.parquet")
    upload = Upload("events.csv", EVENTS.encode())
    for source in (tsv, jsonl, tmp_path / "events.parquet", table, upload):
        frame = read_interactions(source).frame
        pd.testing.assert_frame_equal(frame.drop(columns="line"), expected, check_dtype=False)
        assert frame["time"].dtype == np.int64 and frame["rating"].dtype == np.float64
    assert read_interactions(jsonl).frame["line"].tolist() == [2, 4, 3, 1]  # JSON lines have no header
    assert read_interactions(table).rows.unit == "row"


def test_empty_user_cells_name_their_lines_and_an_empty_column_says_so(tmp_path):
    path = write(tmp_path / "x.csv", "user,item\n,a\nu1,b\n ,c\nu2,a\n,b\n")
    with pytest.raises(DataError, match=r"3 lines of '.*x\.csv' have no user") as error:
        read_interactions(path)
    assert "lines 2, 4 and 6" in str(error.value)
    with pytest.raises(DataError, match=r"user column 'user' of .* is empty") as error:
        read_interactions(write(tmp_path / "y.csv", "user,item\n,a\n,b\n"))
    assert "no value in any of its 2 lines" in str(error.value)


def test_ratings_must_be_numbers_and_finite(tmp_path):
    with pytest.raises(DataError, match="text that is not a number") as error:
        read_interactions(write(tmp_path / "a.csv", "user,item,rating\nu1,a,4\nu2,b,five\n"))
    assert "'five' on line 3" in str(error.value)
    with pytest.raises(DataError, match="has empty cells") as error:
        read_interactions(write(tmp_path / "b.csv", "user,item,rating\nu1,a,NaN\nu2,b,3\n"))
    assert "line 2" in str(error.value)
    with pytest.raises(DataError, match="infinite values") as error:
        read_interactions(write(tmp_path / "c.csv", "user,item,rating\nu1,a,4\nu2,b,inf\n"))
    assert "line 3" in str(error.value)


def test_a_rating_outside_the_declared_scale_names_its_line_and_value(tmp_path):
    path = write(tmp_path / "x.csv", "user,item,rating\nu1,a,4\nu2,b,5\nu1,b,7\n")
    with pytest.raises(DataError, match=r"a rating of 7 on line 4 is outside the scale 1-5"):
        read_interactions(path, rating_scale=(1, 5))
    path = write(tmp_path / "y.csv", "user,item,rating\nu1,a,0\nu2,b,5\nu1,b,5.5\n")
    with pytest.raises(DataError, match=r"2 ratings are outside the scale 0.5-5") as error:
        read_interactions(path, rating_scale=(0.5, 5))
    assert "0 on line 2 and 5.5 on line 4" in str(error.value)
    log = read_interactions(path, rating_scale=(0, 10))
    assert log.rating_scale == (0.0, 10.0)
    with pytest.raises(DataError, match="a rating scale was given but .* has no rating column"):
        read_interactions(write(tmp_path / "z.csv", "user,item\nu1,a\nu2,b\n"), rating_scale=(1, 5))


@pytest.mark.parametrize("scale", [(5, 1), (1, float("nan")), ("low", "high"), (1,)])
def test_a_scale_that_is_not_a_range_is_a_config_error(tmp_path, scale):
    with pytest.raises(ConfigError, match="rating_scale is not a range"):
        read_interactions(write(tmp_path / "x.csv", EVENTS), rating_scale=scale)


def test_weights_are_positive_numbers(tmp_path):
    log = read_interactions(write(tmp_path / "a.csv", "user,item,plays\nu1,a,3\nu2,b,0.5\n"))
    assert log.frame["weight"].tolist() == [3.0, 0.5] and log.columns["weight"] == "plays"
    assert not log.has_ratings and log.frame["rating"].isna().all()
    with pytest.raises(DataError, match="not positive") as error:
        read_interactions(write(tmp_path / "b.csv", "user,item,count\nu1,a,3\nu2,b,0\nu2,a,-1\n"))
    assert "0 on line 3 and -1 on line 4" in str(error.value)


def test_dates_and_datetimes_become_utc_seconds(tmp_path):
    path = write(tmp_path / "x.csv", "user,item,date\nu1,a,2024-01-02\nu2,b,2024-01-01 10:00\n"
                                     "u1,b,2024-01-03T00:00:00+01:00\n")
    log = read_interactions(path)
    assert log.has_times and log.columns["time"] == "date"
    assert log.frame["time"].tolist() == [1704103200, 1704153600, 1704236400]
    frame = pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"],
                          "event_time": pd.to_datetime(["2024-01-01 00:00:10", "2024-01-01 00:00:00"])})
    assert read_interactions(frame).frame["time"].tolist() == [1704067200, 1704067210]


def test_numeric_times_are_seconds_truncated_and_bad_times_name_their_lines(tmp_path):
    log = read_interactions(write(tmp_path / "a.csv", "user,item,ts\nu1,a,10.9\nu2,b,3\n"))
    assert log.frame["time"].tolist() == [3, 10]
    with pytest.raises(DataError, match="not dates or times") as error:
        read_interactions(write(tmp_path / "b.csv", "user,item,time\nu1,a,2024-01-01\nu2,b,yesterday\n"))
    assert "'yesterday' on line 3" in str(error.value)
    with pytest.raises(DataError, match="too large to be seconds") as error:
        read_interactions(write(tmp_path / "c.csv", "user,item,timestamp\nu1,a,1704067200000\nu2,b,1\n"))
    assert "milliseconds" in str(error.value)
    with pytest.raises(DataError, match="has empty cells") as error:
        read_interactions(write(tmp_path / "d.csv", "user,item,timestamp\nu1,a,5\nu2,b,\n"))
    assert "line 3" in str(error.value)


def test_blank_rows_are_dropped_silently_and_line_numbers_still_match_the_file(tmp_path):
    log = read_interactions(write(tmp_path / "x.csv", "user,item,timestamp\nu1,a,1\n\nu2,b,2\n,,\n"))
    assert log.frame["line"].tolist() == [2, 4] and len(log.frame) == 2


def test_repeated_events_keep_the_last_or_first_or_fail(tmp_path):
    path = write(tmp_path / "x.csv", "user,item,rating,timestamp\nu1,a,1,5\nu2,b,2,5\nu1,a,3,5\nu1,a,4,6\n"
                                     "u2,b,5,5\n")
    last = read_interactions(path)
    assert last.notes["duplicates dropped"] == 2
    assert last.frame[["user", "item", "rating", "line"]].values.tolist() == [
        ["u1", "a", 3.0, 4], ["u2", "b", 5.0, 6], ["u1", "a", 4.0, 5]]
    first = read_interactions(path, duplicates="first")
    assert first.notes["duplicates dropped"] == 2 and first.frame["rating"].tolist() == [1.0, 2.0, 4.0]
    with pytest.raises(DataError, match="4 lines of .* repeat the same user, item and time") as error:
        read_interactions(path, duplicates="fail")
    assert "lines 2, 3, 4 and 6" in str(error.value)
    with pytest.raises(ConfigError, match="unknown duplicates policy"):
        read_interactions(path, duplicates="lats")


def test_without_times_a_repeated_pair_is_repeat_consumption_not_a_duplicate(tmp_path):
    log = read_interactions(write(tmp_path / "x.csv", "user,item\nu1,a\nu1,a\nu2,b\n"), duplicates="fail")
    assert len(log.frame) == 3 and log.notes["duplicates dropped"] == 0


def test_a_single_item_or_user_is_nothing_to_recommend(tmp_path):
    with pytest.raises(DataError, match=r"names a single item \('a'\)") as error:
        read_interactions(write(tmp_path / "x.csv", "user,item\nu1,a\nu2,a\n"))
    assert "nothing to recommend" in str(error.value)
    with pytest.raises(DataError, match=r"names a single user \('u1'\)"):
        read_interactions(write(tmp_path / "y.csv", "user,item\nu1,a\nu1,b\n"))


def test_empty_files_are_errors(tmp_path):
    with pytest.raises(DataError, match="is empty"):
        read_interactions(write(tmp_path / "empty.csv", ""))
    with pytest.raises(DataError, match="has no data rows"):
        read_interactions(write(tmp_path / "header.csv", "user,item\n"))
    with pytest.raises(DataError, match="has no data rows"):
        read_interactions(write(tmp_path / "blank.csv", "user,item\n,\n\n"))


def test_item_features_give_titles_and_genres_and_keep_cold_items(tmp_path):
    events = write(tmp_path / "events.csv", "user,sku\nu1,a\nu2,b\nu1,c\n")
    features = write(tmp_path / "items.csv", "sku,name,category,price\na,Apple,fruit|red,1.5\nz,Zest,fruit,2\n")
    log = read_interactions(events, item_features=features)
    items = log.items
    assert sorted(items.index) == ["a", "b", "c", "z"]  # z is in no interaction: a cold item
    assert items.loc["a", "title"] == "Apple" and items.loc["a", "genres"] == ["fruit", "red"]
    assert items.loc["b", "title"] == "b" and items.loc["b", "genres"] == [] and np.isnan(items.loc["b", "price"])
    assert log.notes["items without features"] == 2


def test_a_folder_in_no_known_layout_says_which_layouts_exist_and_to_name_the_file(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write(folder / "events.csv", EVENTS)
    write(folder / "readme.txt", "hello")
    with pytest.raises(DataError, match="is a folder in no layout") as error:
        read_interactions(folder)
    message = str(error.value)
    assert "u.data" in message and "ratings.dat" in message and "ratings.csv" in message
    assert "events.csv and readme.txt" in message and f"for example {folder / 'events.csv'}" in message
    with pytest.raises(ConfigError, match="columns named for the folder"):
        read_interactions(folder, user="user_id")
