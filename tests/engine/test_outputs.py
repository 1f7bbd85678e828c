"""Running a model over a dataset: predictions joined in order; test evaluation streamed batch by batch."""

from __future__ import annotations

import pytest
import torch

from torchworks.config.schema import TrainConfig
from torchworks.engine.outputs import collect_outputs, evaluate_on_test
from torchworks.evaluation import Evaluation, Evaluator
from torchworks.tasks.values import PreparedData


class _Echo(torch.nn.Module):
    """Returns its input: frames of a different length in each batch."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs


def _pad(frames):
    longest = max(len(x) for x in frames)
    return torch.stack([torch.nn.functional.pad(x, (0, 0, 0, longest - len(x))) for x in frames])


class _Task:
    def collate_fn(self, *, labelled: bool):
        def collate(items):
            if not labelled:
                return _pad(items)
            return _pad([x for x, _ in items]), torch.tensor([y for _, y in items])

        return collate

    def evaluator(self, data, config):
        return _CountingEvaluator()


class _CountingEvaluator(Evaluator):
    """Keeps running sums only, and the largest batch it was handed."""

    def __init__(self):
        self.total, self.count, self.largest_batch = 0.0, 0, 0

    def update(self, outputs, targets):
        self.total += float(outputs.sum())
        self.count += len(targets)
        self.largest_batch = max(self.largest_batch, len(outputs))

    def compute(self):
        return Evaluation({"mean_sum": self.total / self.count, "largest_batch": self.largest_batch})


def test_prediction_outputs_of_different_lengths_are_zero_padded_in_order():
    items = [torch.ones(length, 2) * (i + 1) for i, length in enumerate([2, 5, 3])]
    outputs = collect_outputs(_Task(), _Echo(), items, batch_size=2)
    assert outputs.shape == (3, 5, 2)
    assert outputs[0, :2].eq(1).all() and outputs[0, 2:].eq(0).all()  # first batch padded from 2 to 5 frames
    assert outputs[2, :3].eq(3).all() and outputs[2, 3:].eq(0).all()


def test_test_evaluation_streams_batches_to_the_task_evaluator():
    test = [(torch.ones(length, 1) * (i + 1), i) for i, length in enumerate([1, 2, 3, 4, 5])]
    data = PreparedData(train=[], val=[], test=test, state={})
    evaluation = evaluate_on_test(_Task(), _Echo(), data, TrainConfig(data="x", batch_size=2))
    # sums: 1*1, 2*2, 3*3, 4*4, 5*5 -> 55 over 5 samples; never more than one batch of 2 at a time
    assert evaluation.metrics == {"mean_sum": 11.0, "largest_batch": 2}


def test_the_test_pass_times_itself_and_batch_one_on_request():
    from torchworks.engine.outputs import speed_line, speed_rows

    test = [(torch.ones(length, 1) * (i + 1), i) for i, length in enumerate([1, 2, 3, 4, 5])]
    data = PreparedData(train=[], val=[], test=test, state={})
    config = TrainConfig(data="x", batch_size=2)
    plain = evaluate_on_test(_Task(), _Echo(), data, config)
    speed = plain.speed
    assert speed["test_samples"] == 5 and speed["batch_size"] == 2 and speed["device"] == "cpu"
    assert speed["test_seconds"] > 0 and "batch1_ms" not in speed
    assert speed["test_ms_per_sample"] == pytest.approx(1000 * speed["test_seconds"] / 5, rel=1e-3, abs=1e-3)
    assert 0 < speed["model_ms_per_sample"] <= speed["test_ms_per_sample"]

    timed = evaluate_on_test(_Task(), _Echo(), data, config, latency=True).speed
    assert timed["batch1_calls"] == 5 and 0 < timed["batch1_ms"] <= timed["batch1_p90_ms"]
    rows = speed_rows(timed)
    assert [row["batch size"] for row in rows] == [2, 2, 1]
    assert rows[0]["samples/s"] == pytest.approx(5 / timed["test_seconds"])
    line = speed_line(timed)
    assert line.startswith("test pass: 5 samples in ") and "batch 1: " in line and line.rstrip("s").endswith(" thread")
    assert speed_rows({}) == [] and speed_line({}) is None
