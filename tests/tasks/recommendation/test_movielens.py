"""MovieLens folders in their three layouts: ratings, the rating scale, the movie list with latin-1 titles
and genres, and errors that name the file and its real line."""

from __future__ import annotations

import pytest

from torchworks.errors import DataError
from torchworks.tasks.recommendation.movielens import (
    LAYOUT_1M,
    LAYOUT_10M,
    LAYOUT_100K,
    LAYOUT_LATEST,
    ML100K_GENRES,
    find_layout,
    read_movielens,
)
from torchworks.tasks.recommendation.reading import read_interactions


def flags(*genres):
    return "|".join("1" if name in genres else "0" for name in ML100K_GENRES)


def ml_100k(folder, ratings=None, genre_file=True):
    folder.mkdir(parents=True)
    (folder / "u.data").write_text(ratings or "1\t10\t4\t881250949\n2\t20\t5\t881250950\n1\t20\t3\t881250960\n"
                                              "3\t10\t2\t881250940\n")
    children = "Children's"
    items = (f"10|Café Society (1995)|01-Jan-1995||http://example.org/10|{flags('Comedy', 'Romance')}\n"
             f"20|Toy Story (1995)|01-Jan-1995||http://example.org/20|{flags('Animation', children)}\n"
             f"30|unknown|||http://example.org/30|{flags('unknown')}\n")
    (folder / "u.item").write_bytes(items.encode("latin-1"))
    if genre_file:
        (folder / "u.genre").write_text("".join(f"{name}|{i}\n" for i, name in enumerate(ML100K_GENRES)) + "\n")
    return folder


def ml_dat(folder, ratings):
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(ratings)
    (folder / "movies.dat").write_bytes("10::Amélie (2001)::Comedy|Romance\n20::Heat (1995)::Action|Crime|Thriller\n"
                                        .encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    return folder


def ml_latest(folder):
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n"
                                        "2,1,3.5,964982224\n")
    (folder / "movies.csv").write_text('movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n'
                                       '3,"Bourne Identity, The (2002)",(no genres listed)\n', encoding="utf-8")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,funny,964982703\n")
    return folder


def test_ml_100k_reads_u_data_with_u_item_titles_and_genres(tmp_path):
    log = read_interactions(ml_100k(tmp_path / "ml-100k"))
    assert log.notes == {"layout": LAYOUT_100K, "duplicates dropped": 0, "items without features": 0}
    assert log.rating_scale == (1.0, 5.0) and log.has_ratings and log.has_times
    frame = log.frame
    assert frame["user"].tolist() == ["3", "1", "2", "1"] and frame["item"].tolist() == ["10", "10", "20", "20"]
    assert frame["rating"].tolist() == [2.0, 4.0, 5.0, 3.0]
    assert frame["line"].tolist() == [4, 1, 2, 3]  # u.data has no header: its first line is line 1
    assert log.columns == {"user": "user id", "item": "item id", "rating": "rating", "time": "timestamp"}
    assert log.source == str(tmp_path / "ml-100k") and log.rows.source.endswith("u.data")
    items = log.items
    assert items.loc["10", "title"] == "Café Society (1995)" and items.loc["10", "genres"] == ["Comedy", "Romance"]
    assert items.loc["20", "genres"] == ["Animation", "Children's"]
    assert items.loc["30", "genres"] == []  # the "unknown" genre is no genre; an item no one rated stays
    assert list(items.columns) == ["title", "genres"]


def test_ml_100k_without_u_genre_uses_the_usual_genre_names(tmp_path):
    log = read_interactions(ml_100k(tmp_path / "ml-100k", genre_file=False))
    assert log.items.loc["20", "genres"] == ["Animation", "Children's"]


def test_a_rating_off_the_ml_100k_scale_names_u_data_and_its_line(tmp_path):
    folder = ml_100k(tmp_path / "ml-100k", ratings="1\t10\t4\t881250949\n2\t20\t5\t881250950\n1\t20\t7\t881250960\n")
    with pytest.raises(DataError, match=r"u\.data', a rating of 7 on line 3 is outside the scale 1-5"):
        read_interactions(folder)
    assert read_interactions(folder, rating_scale=(0, 10)).rating_scale == (0.0, 10.0)  # a declared scale wins


def test_malformed_ml_100k_lines_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"u\.data' has 3 fields on line 1"):
        read_interactions(ml_100k(tmp_path / "a", ratings="1\t10\t4\n2\t20\t5\n"))
    with pytest.raises(DataError, match=r"u\.data' cannot be read as a MovieLens file.*line 3"):
        read_interactions(ml_100k(tmp_path / "b", ratings="1\t10\t4\t5\n2\t20\t5\t6\n2\t30\t5\t6\t9\n"))
    with pytest.raises(DataError, match=r"1 line of .*u\.data' has no user") as error:
        read_interactions(ml_100k(tmp_path / "c", ratings="1\t10\t4\t5\n2\t20\t5\t6\n\t30\t5\t6\n"))
    assert "empty cells on line 3" in str(error.value)
    with pytest.raises(DataError, match=r"u\.data' is empty"):
        read_interactions(ml_100k(tmp_path / "d", ratings="\n"))


def test_ml_1m_ratings_dat_in_whole_stars_with_latin_1_movies(tmp_path):
    folder = ml_dat(tmp_path / "ml-1m", "1::10::5::978300760\n2::20::3::978302109\n1::20::4::978301968\n")
    log = read_interactions(folder)
    assert log.notes["layout"] == LAYOUT_1M and log.rating_scale == (1.0, 5.0)
    assert log.frame["item"].tolist() == ["10", "20", "20"] and log.frame["line"].tolist() == [1, 3, 2]
    assert log.items.loc["10", "title"] == "Amélie (2001)"
    assert log.items.loc["20", "genres"] == ["Action", "Crime", "Thriller"]
    assert log.columns["user"] == "UserID"


def test_ml_10m_is_told_by_its_half_stars(tmp_path):
    log = read_interactions(ml_dat(tmp_path / "ml-10m", "1::10::3.5::978300760\n2::20::5::978302109\n"))
    assert log.notes["layout"] == LAYOUT_10M and log.rating_scale == (0.5, 5.0)
    assert log.frame["rating"].tolist() == [3.5, 5.0]
    with pytest.raises(DataError, match=r"ratings\.dat', a rating of 0 on line 2 is outside the scale 1-5"):
        read_interactions(ml_dat(tmp_path / "bad", "1::10::3::978300760\n2::20::0::978302109\n"))


def test_a_utf_8_movies_dat_is_read_as_utf_8(tmp_path):
    folder = ml_dat(tmp_path / "ml-10m", "1::10::3.5::978300760\n2::20::5::978302109\n")
    (folder / "movies.dat").write_text("10::Amélie (2001)::Comedy\n20::Heat (1995)::Action\n", encoding="utf-8")
    assert read_interactions(folder).items.loc["10", "title"] == "Amélie (2001)"


def test_ml_latest_reads_ratings_csv_and_movies_csv(tmp_path):
    log = read_interactions(ml_latest(tmp_path / "ml-latest-small"))
    assert find_layout(tmp_path / "ml-latest-small") == "csv"
    assert log.notes["layout"] == LAYOUT_LATEST and log.rating_scale == (0.5, 5.0)
    assert log.frame["line"].tolist() == [3, 4, 2]  # line 1 is the header
    assert log.frame["rating"].tolist() == [0.5, 3.5, 4.0]
    assert log.items.loc["3", "title"] == "Bourne Identity, The (2002)" and log.items.loc["3", "genres"] == []
    assert log.items.loc["1", "genres"] == ["Adventure", "Animation", "Children"]
    assert log.columns == {"user": "userId", "item": "movieId", "rating": "rating", "time": "timestamp"}


def test_ml_latest_without_a_column_names_the_one_missing(tmp_path):
    folder = ml_latest(tmp_path / "ml-latest")
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,1,4\n2,3,5\n")
    with pytest.raises(DataError, match="timestamp column 'timestamp' is not in"):
        read_interactions(folder)


def test_a_folder_holding_one_movielens_folder_is_read_through(tmp_path):
    ml_latest(tmp_path / "download" / "ml-latest-small")
    (tmp_path / "download" / "notes.txt").write_text("unpacked")
    assert read_interactions(tmp_path / "download").notes["layout"] == LAYOUT_LATEST


def test_item_features_replace_the_folder_movie_list(tmp_path):
    folder = ml_latest(tmp_path / "ml-latest")
    features = tmp_path / "items.csv"
    features.write_text("movieId,title,genres,year\n1,Toy Story,Animation,1995\n")
    log = read_interactions(folder, item_features=features)
    assert log.items.loc["1", "title"] == "Toy Story" and log.items.loc["1", "year"] == 1995.0
    assert log.items.loc["3", "title"] == "3" and log.notes["items without features"] == 1


def test_read_movielens_hands_over_the_cells_roles_scale_and_movie_list(tmp_path):
    found = read_movielens(ml_100k(tmp_path / "ml-100k"))
    assert found.layout == LAYOUT_100K and found.rating_scale == (1.0, 5.0)
    assert found.columns == {"user": "user id", "item": "item id", "rating": "rating", "time": "timestamp"}
    assert found.raw["rating"].tolist() == ["4", "5", "3", "2"] and found.rows.first == 1
    assert list(found.catalogue.index) == ["10", "20", "30"]


def test_a_folder_without_a_layout_is_an_error_here_too(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert find_layout(tmp_path) is None
    with pytest.raises(DataError, match="a folder in no layout"):
        read_movielens(tmp_path)
