"""A file named as an input must be of a kind the task reads; texts, arrays and missing names are the task's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from torchworks.engine.inputs import describe_file, input_name, wrong_kind
from torchworks.tasks.values import InputKinds


class _Texts:
    name = "text-classification"
    input_kinds = InputKinds(files=(".csv", ".txt"), description="text, or a file of texts")


class _Images:
    name = "image-classification"
    input_kinds = InputKinds(files=(".png", ".csv"), folder_files=(".png",), description="images")


class _Anything:
    name = "toy"


def test_a_file_of_another_kind_is_refused_saying_what_the_model_takes(tmp_path):
    png = tmp_path / "d0.png"
    png.write_bytes(b"\x89PNG")
    error = wrong_kind(_Texts(), str(png))
    assert error is not None
    assert error.render() == (f"cannot predict from '{png}': expected what a text-classification model takes: "
                              "text, or a file of texts, got a .png image")
    assert wrong_kind(_Texts(), png) is not None, "a Path as well as a str"


def test_files_of_its_kinds_texts_missing_names_and_undeclared_tasks_pass(tmp_path):
    table = tmp_path / "inbox.csv"
    table.write_text("text\nhi\n")
    assert wrong_kind(_Texts(), str(table)) is None
    assert wrong_kind(_Texts(), "my card was charged twice") is None
    assert wrong_kind(_Texts(), str(tmp_path / "gone.png")) is None, "a name of nothing is the task's to report"
    assert wrong_kind(_Texts(), "x" * 5000) is None, "too long for a file name"
    assert wrong_kind(_Anything(), str(tmp_path / "inbox.csv")) is None


def test_a_str_subclass_is_text_never_a_file(tmp_path):
    class Inline(str):
        pass

    png = tmp_path / "d0.png"
    png.write_bytes(b"")
    assert wrong_kind(_Texts(), Inline(str(png))) is None


def test_folders_need_files_of_the_task_kinds(tmp_path):
    folder = tmp_path / "mixed"
    (folder / "inner").mkdir(parents=True)
    (folder / "a.csv").write_text("x")
    (folder / "b.csv").write_text("x")
    error = wrong_kind(_Images(), str(folder))
    assert error is not None and error.got == "a folder with no file of those kinds (it holds 2 .csv)"
    (folder / "inner" / "c.png").write_bytes(b"")
    assert wrong_kind(_Images(), str(folder)) is None
    assert wrong_kind(_Texts(), str(folder)).got == "a folder", "a text model reads no folders"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "it is empty" in wrong_kind(_Images(), str(empty)).got


def test_files_and_inputs_are_described_in_words():
    assert describe_file(Path("a.PNG")) == "a .png image"
    assert describe_file(Path("a.wav")) == "a .wav audio file"
    assert describe_file(Path("a.csv")) == "a .csv file"
    assert describe_file(Path("README")) == "a file without an extension"
    assert input_name(np.zeros((4, 5, 3))) == "<ndarray 4x5x3>"
    assert input_name({"input": "clip.wav", "piece": 0}) == "clip.wav"
    assert input_name([0.1, 0.2]) == "[0.1, 0.2]"


def test_each_task_declares_the_files_its_predict_reads():
    from torchworks.tasks.forecasting.serving import TABLE_UPLOADS
    from torchworks.tasks.forecasting.task import Forecasting
    from torchworks.tasks.speech_recognition.audio import AUDIO_SUFFIXES
    from torchworks.tasks.speech_recognition.task import SpeechRecognition
    from torchworks.tasks.text_classification.predicting import TABLE_FILES, TEXT_FILES
    from torchworks.tasks.text_classification.task import TextClassification

    assert set(TextClassification.input_kinds.files) == set(TABLE_FILES + TEXT_FILES)
    assert TextClassification.input_kinds.folder_files == ()
    assert set(SpeechRecognition.input_kinds.files) == set(SpeechRecognition.input_kinds.folder_files) == set(
        AUDIO_SUFFIXES)
    assert set(Forecasting.input_kinds.files) == set(TABLE_UPLOADS)
