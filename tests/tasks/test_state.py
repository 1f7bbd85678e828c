"""Typed task state (tasks/state.py): the base refuses what a state model does not declare, records its
schema version, and every task's model fits the state its tiny real run stores."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import ClassVar

import pytest
from pydantic import Field, ValidationError

from torchworks.tasks import get_task
from torchworks.tasks.state import TaskState, first_problem, schema_entry

TASK_RUNS = {
    "image-classification": "image_run",
    "text-classification": "keyword_text_run",
    "forecasting": "driven_run",
    "speech-recognition": "speech_run",
}


class Sizes(TaskState):
    """A small state model."""

    labels: list[str] = Field(description="Class names.")
    image_size: int = Field(ge=1, description="Side of the input.")


class SizesV3(Sizes):
    schema_version: ClassVar[int] = 3


def test_a_state_model_refuses_keys_it_does_not_declare_and_names_them():
    with pytest.raises(ValidationError) as caught:
        Sizes.model_validate({"labels": ["a", "b"], "image_size": 16, "colour": "L"})
    assert first_problem(caught.value) == ("colour", "not a field of the state model")


def test_a_state_model_never_coerces_values():
    for bad, field in (({"labels": ["a"], "image_size": "16"}, "image_size"),
                       ({"labels": ["a"], "image_size": 16.0}, "image_size"),
                       ({"labels": ["a"], "image_size": True}, "image_size"),
                       ({"labels": ("a",), "image_size": 16}, "labels"),
                       ({"labels": ["a"]}, "image_size")):
        with pytest.raises(ValidationError) as caught:
            Sizes.model_validate(bad)
        assert first_problem(caught.value)[0] == field, bad
    with pytest.raises(ValidationError) as caught:
        Sizes.model_validate({"labels": ["a", 2], "image_size": 16})
    assert first_problem(caught.value)[0] == "labels.1"


def test_the_schema_version_is_recorded_and_is_not_a_field():
    assert schema_entry(Sizes) == {"name": "Sizes", "version": 1}
    assert schema_entry(SizesV3) == {"name": "SizesV3", "version": 3}
    dumped = SizesV3.model_validate({"labels": ["a"], "image_size": 8}).model_dump(mode="json")
    assert dumped == {"labels": ["a"], "image_size": 8}


def test_a_task_without_a_state_model_declares_none():
    from torchworks.tasks.protocol import Task

    assert Task.state_class is None


@pytest.mark.parametrize("task_name", sorted(TASK_RUNS))
def test_every_field_of_every_task_state_is_described(task_name):
    state_class = get_task(task_name).state_class
    assert state_class is not None and issubclass(state_class, TaskState)
    undescribed = [name for name, field in state_class.model_fields.items() if not field.description]
    assert not undescribed, undescribed


def test_state_modules_import_neither_torch_nor_numpy_nor_pandas():
    modules = [f"torchworks.tasks.{t.replace('-', '_')}.state" for t in TASK_RUNS]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted({'torch', 'numpy', 'pandas'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("task_name", sorted(TASK_RUNS))
def test_the_state_a_tiny_run_stores_fits_its_model_and_names_its_schema(task_name, request):
    run = request.getfixturevalue(TASK_RUNS[task_name])
    manifest = json.loads((run / "bundle.json").read_text())
    state_class = get_task(task_name).state_class
    assert manifest["task"] == task_name
    assert manifest["state_schema"] == {"name": state_class.__name__, "version": state_class.schema_version}
    stored = manifest["state"]
    # every declared field is stored, and the stored dict is exactly the model's dump (stable on reload)
    assert set(stored) == set(state_class.model_fields)
    assert state_class.model_validate(stored).model_dump(mode="json") == stored
