"""Modes follow from the capabilities a task class mixes in; nobody keeps them by hand."""

from __future__ import annotations

import pytest

from torchworks.tasks.capabilities import MODES, Explainable, Exportable, Servable, modes_of
from torchworks.tasks.protocol import Task


class _Plain(Task):
    name = "plain"

    def prepare_data(self, config, state=None): ...
    def build_model(self, config, state, *, for_training): ...
    def predict_inputs(self, inputs, state): ...
    def format_predictions(self, outputs, ids, state, top_k): ...
    def quickstart_settings(self): ...


def test_a_task_without_capabilities_trains_evaluates_predicts_and_has_a_quickstart():
    assert _Plain.modes == ("train", "evaluate", "predict", "quickstart")


def test_each_capability_adds_its_modes_in_a_fixed_order():
    class Served(_Plain, Servable):
        def serving(self, state): ...

    class Everything(_Plain, Explainable, Exportable, Servable):
        explain_methods = ("saliency",)

        def explain(self, model, inputs, ids, state, method, target, options): ...
        def example_input(self, state): ...
        def serving(self, state): ...

    assert Served.modes == ("train", "evaluate", "predict", "quickstart", "serve")
    assert Everything.modes == tuple(mode for mode, _ in MODES)
    assert modes_of(Everything) == Everything.modes


def test_setting_modes_by_hand_is_refused():
    with pytest.raises(TypeError, match="derived from the capabilities"):
        class Liar(_Plain):  # noqa: F841
            modes = ("train", "serve")


def test_a_capability_left_unimplemented_cannot_be_instantiated():
    class Half(_Plain, Exportable):
        pass

    assert "export" in Half.modes
    with pytest.raises(TypeError, match="example_input"):
        Half()


def test_the_default_step_is_the_task_loss_of_the_model_outputs():
    import torch

    class Doubling(_Plain):
        def loss(self, outputs, targets, state):
            return (outputs - targets).abs().sum() * state["scale"]

    step = Doubling().step(lambda x: 2 * x, (torch.tensor([1.0, 2.0]), torch.tensor([2.0, 3.0])), "train",
                           {"scale": 10.0})
    assert float(step.loss) == 10.0 and step.outputs.tolist() == [2.0, 4.0] and step.batch_size == 2
