"""The sample catalogue loads every task's samples before looking a name up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from torchworks.engine.catalog import get_sample, list_samples, make_dataset
from torchworks.errors import ConfigError

SAMPLES = {"digits", "sunspots", "co2", "prices", "tickets", "spoken-digits", "detection-scenes", "segmentation-scenes",
           "lesions", "movies", "breast-cancer", "diabetes", "ticket-sales"}


def test_data_list_in_a_fresh_process_names_every_tasks_samples() -> None:
    result = subprocess.run([sys.executable, "-m", "torchworks", "data", "list"], capture_output=True, text=True,
                            timeout=300, check=True)
    listed = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert set(listed) == SAMPLES
    assert listed["spoken-digits"] == "speech-recognition" and listed["digits"] == "image-classification"


def test_samples_are_found_by_name_whatever_their_task() -> None:
    from torchworks.tasks import list_tasks

    builtin = {cls.name for cls in list_tasks() if cls.__module__.startswith("torchworks.tasks.")}
    # tasks the tests register (the toy task) may add their own samples to this process
    assert {sample.name for sample in list_samples() if sample.task in builtin} == SAMPLES
    assert get_sample("tickets").task == "text-classification"
    assert get_sample("no/such/sample") is None


def test_a_generator_registered_by_name_is_imported_when_it_runs() -> None:
    from torchworks.tasks.speech_recognition import spoken_digits

    sample = get_sample("spoken-digits")
    assert isinstance(sample.generator, str)
    assert sample.generator_function() is spoken_digits.make_spoken_digits
    with pytest.raises(ConfigError, match="unknown setting 'voices'") as caught:
        make_dataset("spoken-digits", {"voices": "3"})
    assert "audio_format" in caught.value.expected  # the generator's own parameters, read from its signature
    with pytest.raises(ConfigError, match="no generator for 'prices'"):
        make_dataset("prices", {})
