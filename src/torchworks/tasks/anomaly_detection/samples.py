"""The anomaly-detection sample: generated ticket-sales orders with planted anomalies and their ground truth.

``data=ticket-sales`` reads a cached copy made once (20,000 orders, seed 0, 1% anomalies): a folder
holding ``sales.parquet``. ``torchworks data make ticket-sales out=sales.parquet rows=1000000`` writes a
fresh one of any size. numpy and pyarrow load only when a copy is written.
"""

from __future__ import annotations

from pathlib import Path

from torchworks.datasets import SampleDataset, materialize_once, register_sample

SALES_FILE = "sales.parquet"
SALES_ROWS = 20_000


def materialize_sales(target: Path) -> Path:
    """The cached orders, written once into the folder ``target`` (well under a second); returns the file."""
    from torchworks.tasks.anomaly_detection.generator import write_sales

    if not (target / SALES_FILE).exists():
        materialize_once(target, lambda folder: write_sales(folder / SALES_FILE, SALES_ROWS, 0.01, 0, True))
    return target / SALES_FILE


TICKET_SALES = register_sample(
    SampleDataset(
        name="ticket-sales",
        task="anomaly-detection",
        description="20,000 ticket orders over 90 days (event, venue, section, price, quantity, channel, payment, "
                    "country, checkout time) with 1% planted anomalies of five kinds, labelled",
        source="generated (sales.parquet, with is_anomaly, anomaly_kind and is_ok); `torchworks data make "
               "ticket-sales` makes more",
        materialize=materialize_sales,
        generator="torchworks.tasks.anomaly_detection.generator:make_ticket_sales",
        aliases=("sales",),
        defaults={},
    )
)
