"""How the contract suite runs text-classification on tiny data: three classes of short texts."""

from __future__ import annotations

from pathlib import Path

TASK = "text-classification"
SETTINGS = {"model": "bigru", "embedding_dim": 16, "hidden": 16, "layers": 1, "freeze": "none"}
QUICKSTART = {"epochs": 1, "baselines": False}


def make_data(request, scratch: Path) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    words = {"billing": "refund invoice charged card", "shipping": "parcel courier tracking late",
             "account": "password login email locked"}
    lines = ["text,label"]
    for i in range(36):
        label = list(words)[i % 3]
        lines.append(f"{' '.join(words[label].split()[i % 4:] + ['please', str(i % 5)])},{label}")
    path = scratch / "texts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def predict_inputs(data: Path) -> list:
    return ["my parcel is late", str(data)]
