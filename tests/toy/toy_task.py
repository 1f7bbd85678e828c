"""The smallest complete task, used to test the engine and the server without any real task.

``toy-points``: points in the plane; for each, whether it lies inside the unit circle (a class) and
how far it is from the centre (a number). The model answers both at once, as a dict of two named
outputs, and trains through its own ``step`` (a loss per output, logged separately), so the engine's
step hook, structured outputs, streaming evaluation, exports of several outputs and serving of JSON
inputs are all exercised. Data is a CSV with columns ``x,y`` (a ``toy-points`` sample is generated on
demand); nothing here imports torch until a method runs.

``docs/adding-a-task.md`` walks through this file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field

from torchworks.config.schema import TrainConfig
from torchworks.datasets import SampleDataset, materialize_once, register_sample
from torchworks.errors import DataError
from torchworks.tasks import register_task
from torchworks.evaluation import Evaluator
from torchworks.tasks.protocol import (
    Evaluation,
    Explainable,
    Explanation,
    Exportable,
    PreparedData,
    Servable,
    ServingSpec,
    StepOutput,
    Task,
)
from torchworks.tasks.state import TaskState

if TYPE_CHECKING:
    import torch
    from torch import nn

LABELS = ["outside", "inside"]


class ToyConfig(TrainConfig):
    """The engine's settings plus the toy's own."""

    hidden: int = Field(16, ge=1, le=256, description="Width of the hidden layer.")
    distance_weight: float = Field(1.0, ge=0, description="Weight of the distance loss against the class loss.")


class ToyRecord(BaseModel):
    """One answer: the point, its class and its predicted distance from the centre."""

    input: str
    label: str
    probability: float
    distance: float


class ToyState(TaskState):
    """What a toy bundle keeps."""

    labels: list[str] = Field(description="Class names, in the order of the model's class outputs.")
    distance_weight: float = Field(ge=0, description="Weight of the distance loss against the class loss.")


Point = Annotated[list[Annotated[float, Field(allow_inf_nan=False)]], Field(min_length=2, max_length=2)]


@register_task
class ToyPoints(Task, Explainable, Exportable, Servable):
    """Inside or outside the unit circle, and how far from its centre."""

    name = "toy-points"
    description = "A toy task for tests: points in the plane, a class and a distance per point"
    config_class = ToyConfig
    state_class = ToyState
    primary_metric = "accuracy"
    explain_methods = ("gradient",)

    # ----------------------------------------------------------------- data
    def prepare_data(self, config: ToyConfig, state: dict[str, Any] | None = None) -> PreparedData:
        import torch

        points = torch.tensor(read_points(_resolve(config.data)), dtype=torch.float32)
        items = [(point, (int(point.norm() < 1), float(point.norm()))) for point in points]
        cut_val, cut_test = int(len(items) * 0.7), int(len(items) * 0.85)
        return PreparedData(train=items[:cut_val], val=items[cut_val:cut_test], test=items[cut_test:],
                            state=state or {"labels": LABELS, "distance_weight": config.distance_weight}, summary={"points": len(items)},
                            fingerprint=str(len(items)))

    def collate_fn(self, *, labelled: bool):
        import torch

        def collate(items: list[Any]) -> Any:
            if not labelled:
                return torch.stack(items)
            targets = {"label": torch.tensor([t[0] for _, t in items]),
                       "distance": torch.tensor([t[1] for _, t in items])}
            return torch.stack([x for x, _ in items]), targets

        return collate

    # ---------------------------------------------------------------- model
    def build_model(self, config: ToyConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        return _two_heads(config.hidden)

    def step(self, model: nn.Module, batch: Any, stage: str, state: dict[str, Any]) -> StepOutput:
        from torch.nn import functional as F

        inputs, targets = batch
        outputs = model(inputs)
        class_loss = F.cross_entropy(outputs["logits"], targets["label"])
        distance_loss = F.mse_loss(outputs["distance"], targets["distance"])
        loss = class_loss + state.get("distance_weight", 1.0) * distance_loss
        return StepOutput(loss, outputs, targets, logs={"class_loss": class_loss, "distance_loss": distance_loss},
                          batch_size=len(inputs))

    # ------------------------------------------------------------ evaluation
    def evaluator(self, data: PreparedData, config: ToyConfig) -> Evaluator:
        return _RunningScores()

    def baselines(self, data: PreparedData, config: ToyConfig) -> dict[str, dict[str, Any]]:
        """The training split's most frequent class, for every test point."""
        inside = sum(label for _, (label, _) in data.train)
        majority = int(inside * 2 > len(data.train))
        return {"majority": {"accuracy": sum(label == majority for _, (label, _) in data.test) / len(data.test)}}

    def baseline_advice(self, config: ToyConfig) -> list[str]:
        return [f"more epochs (epochs={3 * config.epochs})", f"a wider model (hidden={2 * config.hidden})"]

    # --------------------------------------------------------------- predict
    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        import torch

        from torchworks.uploads import Upload

        points, ids = [], []
        for item in inputs:
            if isinstance(item, (list, tuple)):
                rows = [item]
            elif isinstance(item, Upload):
                rows = parse_points(item.data.decode("utf-8", errors="replace"), item.name)
            else:
                rows = read_points(Path(item))
            for x, y in rows:
                points.append(torch.tensor([float(x), float(y)]))
                ids.append(f"({float(x):g}, {float(y):g})")
        return points, ids

    def format_predictions(self, outputs: Any, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        probabilities = outputs["logits"].softmax(dim=1)
        return [{"input": name, "label": LABELS[int(row.argmax())], "probability": round(float(row.max()), 6),
                 "distance": round(float(distance), 6)}
                for name, row, distance in zip(ids, probabilities, outputs["distance"])]

    # ------------------------------------------------------- capabilities
    def explain(self, model: nn.Module, inputs: torch.Tensor, ids: list[Any], state: dict[str, Any], method: str,
                target: str | None, options: dict[str, str]) -> list[Explanation]:
        inputs = inputs.clone().requires_grad_(True)
        model(inputs)["distance"].sum().backward()
        return [Explanation(record={"input": name, "prediction": "distance", "method": method, "target": "distance",
                                    "attributions": {"x": float(grad[0]), "y": float(grad[1])}},
                            html=f"<p>d distance / d x = {float(grad[0]):.3f}, d y = {float(grad[1]):.3f}</p>",
                            summary=f"x weighs {abs(float(grad[0])):.2f}, y {abs(float(grad[1])):.2f}")
                for name, grad in zip(ids, inputs.grad)]

    def example_input(self, state: dict[str, Any]) -> torch.Tensor:
        import torch

        return torch.zeros(2, 2)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        return ServingSpec(input_kind="table", file_types=(".csv",), json_item=Point, record=ToyRecord,
                           example=[0.5, 0.5])

    def from_json(self, item: list[float], state: dict[str, Any]) -> Any:
        return list(item)

    # ------------------------------------------------------------- recipes
    def quickstart_settings(self) -> dict[str, Any]:
        return {"data": "toy-points", "name": "quickstart-toy", "epochs": 20, "lr": 0.03, "batch_size": 32}


class _RunningScores(Evaluator):
    """Accuracy and mean absolute distance error from running counts: nothing per sample is kept."""

    def __init__(self) -> None:
        self.correct = self.seen = 0
        self.absolute_error = 0.0

    def update(self, outputs: Any, targets: Any) -> None:
        self.correct += int((outputs["logits"].argmax(dim=1) == targets["label"]).sum())
        self.absolute_error += float((outputs["distance"] - targets["distance"]).abs().sum())
        self.seen += len(targets["label"])

    def compute(self) -> Evaluation:
        seen = max(1, self.seen)
        return Evaluation({"accuracy": self.correct / seen, "distance_mae": self.absolute_error / seen,
                           "test_samples": self.seen})


def _two_heads(hidden: int) -> nn.Module:
    from torch import nn

    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
            self.logits = nn.Linear(hidden, 2)
            self.distance = nn.Linear(hidden, 1)

        def forward(self, points):
            features = self.body(points)
            return {"logits": self.logits(features), "distance": self.distance(features).squeeze(-1)}

    return TwoHeads()


def read_points(path: Path) -> list[tuple[float, float]]:
    """``x,y`` rows of a CSV file; a bad row is named."""
    if not path.is_file():
        raise DataError(f"'{path}' does not exist", expected="a CSV with columns x,y", got="no such file",
                        hint="torchworks data make toy-points out=points.csv")
    return parse_points(path.read_text(encoding="utf-8"), str(path))


def parse_points(text: str, name: str) -> list[tuple[float, float]]:
    """``x,y`` rows of CSV text (from a file or an upload called ``name``); a bad row is named."""
    rows = []
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows.append((float(row["x"]), float(row["y"])))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"bad point in '{name}' at line {line}", expected="two numbers in columns x,y",
                            got=repr(row), hint="fix or remove that line") from None
    return rows


def make_points(out: Path, n: int = 400, seed: int = 0) -> Path:
    """A CSV of ``n`` points drawn uniformly from the square [-1.5, 1.5]^2."""
    import random

    rng = random.Random(seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("x,y\n" + "".join(f"{rng.uniform(-1.5, 1.5):.5f},{rng.uniform(-1.5, 1.5):.5f}\n"
                                     for _ in range(n)), encoding="utf-8")
    return out


def _materialize(folder: Path) -> Path:
    if not (folder / "points.csv").is_file():
        materialize_once(folder, lambda staging: make_points(staging / "points.csv"))
    return folder / "points.csv"


def _resolve(data: str) -> Path:
    from torchworks.datasets import get_sample

    sample = get_sample(data)
    return sample.path() if sample is not None else Path(data)


register_sample(SampleDataset(name="toy-points", task="toy-points", description="400 points in the plane (tests)",
                              source="generated", materialize=_materialize, generator=make_points))
