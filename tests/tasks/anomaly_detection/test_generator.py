"""The generated ticket sales: deterministic, the columns and sizes asked for, in time order, normal rows free
of every anomaly's pattern, each planted kind showing its signature, atomic writes and refusals of bad
arguments, and the sample reached through the registry and the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchworks.datasets import get_sample, make_dataset
from torchworks.errors import ConfigError, DataError
from torchworks.tasks.anomaly_detection import generator
from torchworks.tasks.anomaly_detection.generator import COLUMNS, SCHEMA, make_ticket_sales
from torchworks.tasks.anomaly_detection.planting import KINDS
from torchworks.tasks.anomaly_detection.sales_world import COUNTRIES, DAYS, START, VENUES, make_world

ROWS, RATE = 20_000, 0.02
FEATURES = [column for column in COLUMNS if column not in ("order_id", "is_anomaly", "anomaly_kind", "is_ok")]
VENUE_COUNTRY = dict(VENUES)


@pytest.fixture(scope="module")
def sales(tmp_path_factory) -> pd.DataFrame:
    """20,000 orders with 2% anomalies: well under a second."""
    path = make_ticket_sales(tmp_path_factory.mktemp("sales") / "sales.parquet", rows=ROWS, anomaly_rate=RATE,
                             seed=0, progress=False)
    return pd.read_parquet(path)


@pytest.fixture(scope="module")
def normal(sales) -> pd.DataFrame:
    return sales[~sales["is_anomaly"]]


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path):
    first, second, other = (make_ticket_sales(tmp_path / name, rows=3000, seed=seed, progress=False)
                            for name, seed in (("a.parquet", 5), ("b.parquet", 5), ("c.parquet", 6)))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet", "c.parquet"]  # no leftovers


def test_the_columns_and_types_in_order(tmp_path, sales):
    assert tuple(sales.columns) == COLUMNS == (
        "order_id", "timestamp", "customer_id", "event_id", "venue", "section", "price", "quantity", "total",
        "channel", "payment_method", "country", "checkout_seconds", "is_anomaly", "anomaly_kind", "is_ok")
    table = generator.generate_chunk(make_world(500, 0), 0, RATE, 0)
    assert table.schema == SCHEMA and table.schema.field("timestamp").type == pa.timestamp("s", tz="UTC")
    path = make_ticket_sales(tmp_path / "x.parquet", rows=500, progress=False)
    stored = pq.read_schema(path)
    assert stored.names == list(COLUMNS)
    # Parquet has no seconds unit: the times are stored as milliseconds (whole seconds) and read back so
    assert [field.type for field in stored if field.name != "timestamp"] == \
        [field.type for field in SCHEMA if field.name != "timestamp"]
    assert stored.field("timestamp").type in (pa.timestamp("s", tz="UTC"), pa.timestamp("ms", tz="UTC"))
    assert (pd.read_parquet(path)["timestamp"].dt.microsecond == 0).all()


def test_rows_ids_and_times(sales):
    assert len(sales) == ROWS and (sales["order_id"].to_numpy() == np.arange(1, ROWS + 1)).all()
    times = sales["timestamp"]
    assert times.is_monotonic_increasing and str(times.dt.tz) == "UTC"
    assert times.min() >= pd.Timestamp(START, unit="s", tz="UTC")
    assert times.max() < pd.Timestamp(START + DAYS * 86_400, unit="s", tz="UTC")
    assert (sales["is_ok"] == ~sales["is_anomaly"]).all()
    assert ((sales["anomaly_kind"] == "") == ~sales["is_anomaly"]).all()


def test_a_realistic_mix_of_normal_orders(normal):
    assert normal["customer_id"].str.fullmatch(r"C\d{7}").all() and normal["event_id"].str.fullmatch(r"E\d{4}").all()
    assert 0.2 * ROWS < normal["customer_id"].nunique() < 0.3 * ROWS  # about rows / 4 customers
    assert normal["customer_id"].value_counts().iloc[0] > 15  # some buy often
    assert 250 <= normal["event_id"].nunique() <= 300 and normal["venue"].nunique() == len(VENUES)
    assert (normal.groupby("event_id")["venue"].nunique() == 1).all()
    sections = normal.groupby("venue")["section"].nunique()
    assert sections.between(6, 12).all() and sections.max() > sections.min()
    shares = normal["channel"].value_counts(normalize=True)
    assert abs(shares["web"] - 0.55) < 0.03 and abs(shares["partner"] - 0.05) < 0.01
    assert normal["quantity"].between(1, 4).mean() > 0.85 and normal["quantity"].max() == 8
    assert 80 < normal["checkout_seconds"].median() < 100 and normal["checkout_seconds"].min() >= 5
    median = normal.groupby("section")["price"].median()
    assert median["vip"] > 1.5 * median["floor"] > 2 * median["upper"]
    hours = normal["timestamp"].dt.hour
    assert hours.isin([19, 20]).mean() > 4 * hours.isin([3, 4]).mean()  # evenings busy, small hours quiet


def test_the_anomaly_share_and_every_kind(sales):
    kinds = sales["anomaly_kind"].value_counts()
    assert abs(sales["is_anomaly"].mean() - RATE) < 0.2 * RATE
    assert set(kinds.index) == {"", *KINDS}
    for kind in KINDS:
        assert 0.6 * ROWS * RATE / 5 <= kinds[kind] <= 1.4 * ROWS * RATE / 5, kind


def test_normal_rows_never_show_an_anomalys_pattern(normal):
    assert normal["quantity"].between(1, 8).all()
    assert np.allclose(normal["total"], normal["price"] * normal["quantity"], rtol=0, atol=0.006)
    box_office = normal[normal["channel"] == "box_office"]
    assert set(box_office["payment_method"]) == {"card", "cash"}
    assert (box_office["country"] == box_office["venue"].map(VENUE_COUNTRY)).all()
    assert set(normal.loc[normal["payment_method"] == "invoice", "channel"]) == {"partner"}
    assert set(normal.loc[normal["payment_method"] == "cash", "channel"]) == {"box_office"}
    assert normal["checkout_seconds"].min() >= 5 and set(normal["country"]) <= set(COUNTRIES)
    assert not normal[FEATURES].duplicated().any()


def test_price_outliers_are_far_from_their_event_and_section(sales, normal):
    median = normal.groupby(["event_id", "section"])["price"].median().rename("usual")
    outliers = sales[sales["anomaly_kind"] == "price_outlier"].join(median, on=["event_id", "section"])
    ratio = (outliers["price"] / outliers["usual"]).dropna()
    assert len(ratio) > 0.8 * len(outliers) and ((ratio > 5) | (ratio < 0.15)).all()
    assert (ratio > 5).any() and (ratio < 0.15).any()
    assert np.allclose(outliers["total"], outliers["price"] * outliers["quantity"], rtol=0, atol=0.006)
    normal_ratio = normal.join(median, on=["event_id", "section"]).eval("price / usual")
    assert normal_ratio.between(0.6, 1.6).all()


def test_bulk_buys_and_impossible_combinations(sales):
    bulk = sales[sales["anomaly_kind"] == "bulk_buy"]
    assert bulk["quantity"].between(30, 200).all()
    assert np.allclose(bulk["total"], bulk["price"] * bulk["quantity"], rtol=0, atol=0.006)
    odd = sales[sales["anomaly_kind"] == "impossible_combination"]
    box_office = odd["channel"] == "box_office"
    bad_payment = box_office & odd["payment_method"].isin(["paypal", "apple_pay", "invoice"])
    invoice_online = odd["channel"].isin(["web", "app"]) & (odd["payment_method"] == "invoice")
    abroad = box_office & (odd["country"] != odd["venue"].map(VENUE_COUNTRY))
    assert (bad_payment | invoice_online | abroad).all()
    assert bad_payment.any() and invoice_online.any() and abroad.any()


def test_bot_bursts_are_one_new_customer_on_one_event_within_ten_seconds(sales, normal):
    bots = sales[sales["anomaly_kind"] == "bot_burst"]
    bursts = bots.groupby("customer_id")
    assert bursts.size().between(20, 60).all()
    assert (bursts["event_id"].nunique() == 1).all()
    assert (bursts["timestamp"].agg(lambda t: (t.max() - t.min()).total_seconds()) <= 10).all()
    assert (bursts["order_id"].agg(lambda ids: ids.max() - ids.min() + 1) == bursts.size()).all()  # contiguous
    assert not set(bots["customer_id"]) & set(normal["customer_id"])  # new customers
    assert (bots["quantity"] == 8).all() and bots["checkout_seconds"].between(0.2, 2.0).all()
    assert set(bots["channel"]) <= {"web", "app"}


def test_duplicates_copy_the_normal_order_before_them(sales):
    rows = np.flatnonzero(sales["anomaly_kind"] == "duplicate")
    assert rows.min() > 0 and not sales["is_anomaly"].to_numpy()[rows - 1].any()
    copies = sales.iloc[rows][FEATURES].reset_index(drop=True)
    originals = sales.iloc[rows - 1][FEATURES].reset_index(drop=True)
    pd.testing.assert_frame_equal(copies, originals)
    assert (sales["order_id"].to_numpy()[rows] == sales["order_id"].to_numpy()[rows - 1] + 1).all()


def test_a_rate_of_zero_plants_nothing_and_csv_holds_the_same_orders(tmp_path):
    parquet = make_ticket_sales(tmp_path / "clean.parquet", rows=2000, anomaly_rate=0, progress=False)
    clean = pd.read_parquet(parquet)
    assert not clean["is_anomaly"].any() and (clean["anomaly_kind"] == "").all() and clean["is_ok"].all()
    csv = pd.read_csv(make_ticket_sales(tmp_path / "clean.csv", rows=2000, anomaly_rate=0, progress=False),
                      keep_default_na=False, parse_dates=["timestamp"])
    assert list(csv.columns) == list(COLUMNS)
    assert (csv["timestamp"] == clean["timestamp"]).all()
    pd.testing.assert_frame_equal(csv.drop(columns="timestamp"), clean.drop(columns="timestamp"), check_dtype=False)


def test_row_groups_are_whole_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "CHUNK_ROWS", 2500)
    monkeypatch.setattr(generator, "ROW_GROUP_ROWS", 1000)
    path = make_ticket_sales(tmp_path / "s.parquet", rows=6500, progress=False)
    metadata = pq.ParquetFile(path).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [1000] * 6 + [500]
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
    assert pd.read_parquet(path)["timestamp"].is_monotonic_increasing


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "CHUNK_ROWS", 1000)
    real = generator.generate_chunk

    def failing(world, chunk, *arguments):
        if chunk == 2:
            raise RuntimeError("disk full")
        return real(world, chunk, *arguments)

    monkeypatch.setattr(generator, "generate_chunk", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        make_ticket_sales(tmp_path / "s.parquet", rows=3000, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_out_is_refused_and_kept(tmp_path):
    (tmp_path / "mine.parquet").write_text("keep me")
    with pytest.raises(DataError, match="will not overwrite"):
        make_ticket_sales(tmp_path / "mine.parquet", rows=1000, progress=False)
    assert (tmp_path / "mine.parquet").read_text() == "keep me"
    (tmp_path / "folder.parquet").mkdir()
    with pytest.raises(DataError, match="will not overwrite"):
        make_ticket_sales(tmp_path / "folder.parquet", rows=1000, progress=False)


@pytest.mark.parametrize("name, arguments, message", [
    ("s.json", {}, "not a .parquet or .csv"),
    ("s", {}, "not a .parquet or .csv"),
    ("s.parquet", {"rows": 99}, "rows is out of range"),
    ("s.parquet", {"rows": 50_000_001}, "rows is out of range"),
    ("s.csv", {"rows": 1_000_001}, "too many for a CSV"),
    ("s.parquet", {"anomaly_rate": 0.21}, "anomaly_rate is out of range"),
    ("s.parquet", {"anomaly_rate": -0.01}, "anomaly_rate is out of range"),
    ("s.parquet", {"seed": -1}, "seed is out of range"),
])
def test_bad_arguments_are_config_errors(tmp_path, name, arguments, message):
    with pytest.raises(ConfigError, match=message):
        make_ticket_sales(tmp_path / name, **{"rows": 1000, "progress": False, **arguments})
    assert list(tmp_path.iterdir()) == []


def test_the_sample_is_made_through_the_registry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called "sales" here: the alias names the sample
    sample = get_sample("sales")
    assert sample is get_sample("ticket-sales") and sample.task == "anomaly-detection"
    assert sample.generator_function() is make_ticket_sales
    made = make_dataset("ticket-sales", {"out": str(tmp_path / "made.parquet"), "rows": "1000", "seed": "2"})
    assert made == tmp_path / "made.parquet" and len(pd.read_parquet(made)) == 1000
    cached = sample.materialize(tmp_path / "cache")
    assert cached == tmp_path / "cache" / "sales.parquet" and len(pd.read_parquet(cached)) == 20_000
    stamp = cached.stat().st_mtime_ns
    assert sample.materialize(tmp_path / "cache") == cached and cached.stat().st_mtime_ns == stamp  # made once


def test_data_make_from_the_command_line(tmp_path, cli):
    code, out, err = cli("data", "make", "ticket-sales", f"out={tmp_path / 'cli.parquet'}", "rows=1000")
    assert code == 0, err
    assert out.strip().endswith(str(tmp_path / "cli.parquet"))
    assert len(pd.read_parquet(tmp_path / "cli.parquet")) == 1000
    code, _, err = cli("data", "make", "ticket-sales", f"out={tmp_path / 'cli.parquet'}", "rows=1000")
    assert code == 2 and "will not overwrite" in err
    code, _, err = cli("data", "make", "ticket-sales", f"out={tmp_path / 'few.parquet'}", "rows=10")
    assert code == 2 and "rows is out of range" in err
