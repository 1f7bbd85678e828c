"""How the contract suite runs anomaly-detection on tiny data: 600 generated ticket orders with planted
anomalies and their labels."""

from __future__ import annotations

from pathlib import Path

TASK = "anomaly-detection"
SETTINGS = {"label": "is_anomaly", "drop": "anomaly_kind,is_ok", "id": "order_id", "width": 16, "latent": 4,
            "layers": 1, "token_width": 4, "batch_size": 64}
QUICKSTART = {"epochs": 1, "baselines": False, "width": 16, "layers": 1}


def make_data(request, scratch: Path) -> Path:
    from torchworks.tasks.anomaly_detection.generator import make_ticket_sales

    scratch.mkdir(parents=True, exist_ok=True)
    return make_ticket_sales(scratch / "sales.parquet", rows=600, anomaly_rate=0.05, seed=1, progress=False)


def predict_inputs(data: Path) -> list:
    """The first 40 orders as a CSV (a request to the server holds at most 256 rows)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    few = data.with_name("few.csv")
    if not few.exists():
        pacsv.write_csv(pq.read_table(data).slice(0, 40), few)
    return [str(few)]
