"""Reading and validating time-series tables: columns, sorting, grid, gaps and fills, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchworks.errors import DataError
from torchworks.tasks.forecasting.frames import future_times, load_series, season_of


def write(tmp_path, text: str, name: str = "data.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def load(source, **settings):
    options = {"time": None, "target": None, "covariates": [], "series_id": None, "fill": "interpolate"}
    options.update(settings)
    return load_series(source, **options)


def test_integer_steps_and_detected_columns(tmp_path):
    path = write(tmp_path, "year,sunspots\n1700,5\n1701,11\n1702,16\n1703,23\n")
    table = load(path)
    assert (table.time_column, table.target_column, table.frequency) == ("year", "sunspots", 1)
    series = table.series[0]
    assert series.id == "" and list(series.time) == [1700, 1701, 1702, 1703]
    assert series.target.dtype == np.float64 and series.covariates.shape == (4, 0)
    assert table.notes == [] and table.source == str(path)


def test_whole_floats_are_integer_steps():
    frame = pd.DataFrame({"YEAR": [1700.0, 1701.0, 1702.0], "value": [1.0, 2.0, 3.0]})
    table = load(frame, time="YEAR")
    assert table.frequency == 1 and list(table.series[0].time) == [1700, 1701, 1702]
    assert table.source == "<dataframe>"


def test_dates_with_covariates(tmp_path):
    path = write(tmp_path, "Date,Close,Volume\n2024-01-01,1,10\n2024-02-01,2,20\n2024-03-01,3,30\n")
    table = load(path, target="Close", covariates=["Volume"])
    assert table.frequency == "MS"
    assert isinstance(table.series[0].time, pd.DatetimeIndex)
    assert table.series[0].covariates[:, 0].tolist() == [10, 20, 30]


def test_unsorted_rows_are_sorted_with_a_note(tmp_path):
    path = write(tmp_path, "t,y\n3,30\n1,10\n2,20\n4,40\n")
    table = load(path, time="t")
    assert table.series[0].target.tolist() == [10, 20, 30, 40]
    assert table.notes == ["sorted 2 rows that were out of order"]


def test_duplicate_timestamps_name_their_lines(tmp_path):
    path = write(tmp_path, "date,y\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n2024-01-02,4\n")
    with pytest.raises(DataError, match="duplicate") as error:
        load(path)
    assert "2024-01-02 on lines 3 and 5" in str(error.value)


def test_off_grid_timestamp_is_an_error(tmp_path):
    saturdays = pd.date_range("2024-01-06", periods=6, freq="W-SAT").strftime("%Y-%m-%d").tolist()
    rows = saturdays[:3] + ["2024-01-24"] + saturdays[3:]  # a stray Wednesday on line 5
    path = write(tmp_path, "date,y\n" + "".join(f"{d},{i}\n" for i, d in enumerate(rows)))
    with pytest.raises(DataError, match="off the W-SAT grid") as error:
        load(path)
    assert "2024-01-24 on line 5" in str(error.value)


def test_fractional_step_is_an_error(tmp_path):
    path = write(tmp_path, "year,y\n1701,1\n1702,2\n1703.5,3\n1704,4\n")
    with pytest.raises(DataError, match="off the integer grid") as error:
        load(path)
    assert "1703.5 on line 4" in str(error.value)


def test_gap_filled_by_interpolation(tmp_path):
    path = write(tmp_path, "date,y\n2024-01-06,1\n2024-01-13,2\n2024-01-27,4\n2024-02-03,\n2024-02-10,6\n")
    table = load(path, fill="interpolate")
    series = table.series[0]
    assert table.frequency == "W-SAT" and len(series.time) == 6
    assert series.target.tolist() == [1, 2, 3, 4, 5, 6]
    assert any("inserted 1 missing timestamp (2024-01-20)" in note for note in table.notes)
    assert any("filled 2 missing values in y by linear interpolation (line 5 and 1 inserted timestamp)" in note
               for note in table.notes)


def test_gap_filled_forward_with_leading_backfill(tmp_path):
    path = write(tmp_path, "t,y,x\n1,,7\n2,2,\n4,4,9\n")
    table = load(path, time="t", target="y", covariates=["x"], fill="ffill")
    series = table.series[0]
    assert series.target.tolist() == [2, 2, 2, 4]
    assert series.covariates[:, 0].tolist() == [7, 7, 7, 9]
    assert any("leading value back-filled" in note for note in table.notes)


def test_fill_none_reports_the_gaps(tmp_path):
    path = write(tmp_path, "t,y\n1,1\n2,\n4,4\n")
    with pytest.raises(DataError, match="has gaps") as error:
        load(path, time="t", fill="none")
    message = str(error.value)
    assert "missing timestamps 3" in message and "empty cells on line 3" in message
    assert "fill=interpolate or fill=ffill" in message


def test_text_in_target_names_line_and_value(tmp_path):
    path = write(tmp_path, "t,y\n1,1.5\n2,n/a\n3,12,5\n".replace("12,5", '"12,5"'))
    with pytest.raises(DataError, match="text where numbers belong") as error:
        load(path, time="t", target="y")
    message = str(error.value)
    assert "'n/a' on line 3" in message and "'12,5' on line 4" in message


def test_text_in_the_only_column_left_is_reported(tmp_path):
    path = write(tmp_path, "date,y\n2024-01-01,1\n2024-01-02,n/a\n2024-01-03,abc\n")
    with pytest.raises(DataError, match="'n/a' on line 3 and 'abc' on line 4"):
        load(path)


def test_missing_column_lists_columns_and_suggests(tmp_path):
    path = write(tmp_path, "date,Close,Volume\n2024-01-01,1,2\n")
    with pytest.raises(DataError) as error:
        load(path, target="close")
    message = str(error.value)
    assert "Close, Volume" in message and "did you mean 'Close'?" in message


def test_no_time_column_found(tmp_path):
    path = write(tmp_path, "when,y\n1,2\n")
    with pytest.raises(DataError, match="no time column") as error:
        load(path)
    assert "when, y" in str(error.value) and "time=COLUMN" in str(error.value)


def test_several_numeric_columns_need_a_target(tmp_path):
    path = write(tmp_path, "t,a,b\n1,2,3\n2,3,4\n")
    with pytest.raises(DataError, match="could be the target") as error:
        load(path, time="t")
    assert "a, b" in str(error.value) and "target=" in str(error.value)


def test_too_short_series_names_the_minimum(tmp_path):
    path = write(tmp_path, "id,t,y\na,1,1\na,2,2\na,3,3\nb,1,1\nb,2,2\n")
    with pytest.raises(DataError, match="series 'b'.*too short.*at least 3 steps, got 2 steps"):
        load(path, time="t", series_id="id", min_length=3)


def test_many_series_grouped_by_id(tmp_path):
    path = write(tmp_path, "store,date,sales\n2,2024-01-01,5\n1,2024-01-02,2\n1,2024-01-01,1\n2,2024-01-02,6\n")
    table = load(path, series_id="store")
    assert [s.id for s in table.series] == ["1", "2"]
    assert table.series[0].target.tolist() == [1, 2] and table.series[1].target.tolist() == [5, 6]
    assert table.frequency == "D" and table.series_column == "store"


def test_unparseable_dates_name_rows(tmp_path):
    path = write(tmp_path, "date,y\n2024-01-01,1\nsoon,2\n")
    with pytest.raises(DataError, match="not dates") as error:
        load(path)
    assert "'soon' on line 3" in str(error.value)


def test_infinite_values_are_errors(tmp_path):
    path = write(tmp_path, "t,y\n1,1\n2,inf\n")
    with pytest.raises(DataError, match="infinite.*line 3"):
        load(path, time="t")


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=5, freq="h"), "y": np.arange(5.0)})
    frame.to_parquet(tmp_path / "data.parquet")
    table = load(tmp_path / "data.parquet")
    assert table.frequency == "h" and table.series[0].target.tolist() == [0, 1, 2, 3, 4]


def test_bom_and_tsv(tmp_path):
    table = load(write(tmp_path, "date,y\n2024-01-01,1\n2024-01-02,2\n", encoding="utf-8-sig"))
    assert table.time_column == "date"
    table = load(write(tmp_path, "date\ty\n2024-01-01\t1\n2024-01-02\t2\n", name="data.tsv"))
    assert table.series[0].target.tolist() == [1, 2]


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is empty"):
        load(write(tmp_path, ""))
    with pytest.raises(DataError, match="no data rows"):
        load(write(tmp_path, "date,y\n", name="header.csv"))


def test_future_times():
    weekly = future_times(pd.Timestamp("2024-01-06"), "W-SAT", 2)
    assert weekly == [pd.Timestamp("2024-01-13"), pd.Timestamp("2024-01-20")]
    monthly = future_times(pd.Timestamp("2024-11-01"), "MS", 3)
    assert monthly == [pd.Timestamp("2024-12-01"), pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]
    assert future_times(2008, 1, 3) == [2009, 2010, 2011]
    assert future_times(np.int64(10), 5, 2) == [15, 20]
    assert future_times(pd.Timestamp("2024-01-05"), "B", 1) == [pd.Timestamp("2024-01-08")]  # Friday -> Monday


@pytest.mark.parametrize(("frequency", "season"), [
    ("h", 24), ("D", 7), ("B", 5), ("W-SAT", 52), ("MS", 12), ("ME", 12), ("QS-JAN", 4), ("YS-JAN", 1), (1, 1),
    ("2h", 12),
])
def test_season_of(frequency, season):
    assert season_of(frequency) == season
