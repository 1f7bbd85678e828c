"""The tabular samples, from data scikit-learn ships: ``breast-cancer`` (569 tumours, 30 measurements,
malignant or benign: classification) and ``diabetes`` (442 patients, 10 measurements, disease progression
a year later: regression). Each is written once as a CSV whose last column is the target."""

from __future__ import annotations

from pathlib import Path

from torchworks.datasets import SampleDataset, materialize_once, register_sample

FILE = "table.csv"


def _writer(loader: str, target_names: dict[int, str] | None):
    def write(folder: Path) -> None:
        import sklearn.datasets

        frame = getattr(sklearn.datasets, loader)(as_frame=True).frame
        if target_names is not None:
            frame["target"] = frame["target"].map(target_names)
        frame.to_csv(folder / FILE, index=False)

    def materialize(target: Path) -> Path:
        if not (target / FILE).exists():
            materialize_once(target, write)
        return target / FILE

    return materialize


BREAST_CANCER = register_sample(SampleDataset(
    name="breast-cancer", task="tabular",
    description="569 tumours x 30 cell-nucleus measurements; target malignant or benign (binary classification)",
    source="scikit-learn (Wisconsin diagnostic breast cancer)",
    materialize=_writer("load_breast_cancer", {0: "malignant", 1: "benign"}),
    defaults={"target": "target"},
))

DIABETES = register_sample(SampleDataset(
    name="diabetes", task="tabular",
    description="442 patients x 10 measurements; target disease progression after a year (regression)",
    source="scikit-learn (Efron et al., diabetes)",
    materialize=_writer("load_diabetes", None),
    defaults={"target": "target"},
))
