"""Runners: the same model call, ``runner(inputs) -> outputs``, on three runtimes.

``inputs`` is what the task's collate function makes (a tensor, or a dict of tensors); the outputs
are float on the CPU, in the structure the eager model returns (a tensor, or a tuple or dict of them:
an export keeps every named output and records how to put them back together). Eager runs the bundle's own module; TorchScript and ONNX Runtime run
the bundle's verified exports (see :mod:`torchworks.bundle.exports`), float or int8. The server, the
parity gate and the benchmark all call models through these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from torchworks.batches import rebuild_outputs, to_cpu_float
from torchworks.bundle.exports import available_exports, passed_gate, runtime_of, verified_export
from torchworks.bundle.io import Bundle
from torchworks.errors import BundleError


class EagerRunner:
    """The PyTorch module itself, under ``inference_mode``."""

    name = "eager"

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

    def __call__(self, inputs: Any) -> Any:
        with torch.inference_mode():
            return to_cpu_float(self.model(inputs))


class TorchScriptRunner:
    """A TorchScript export, inputs passed positionally in the recorded order."""

    name = "torchscript"

    def __init__(self, path: Path, input_names: list[str], fmt: str = "torchscript",
                 layout: dict[str, Any] | None = None):
        self.name = fmt
        self.module = torch.jit.load(str(path), map_location="cpu").eval()
        self.input_names = input_names
        self.layout = layout

    def __call__(self, inputs: Any) -> Any:
        with torch.inference_mode():
            outputs = self.module(*_positional(inputs, self.input_names))
        tensors = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
        return to_cpu_float(rebuild_outputs(tensors, self.layout))


class OnnxRunner:
    """An ONNX Runtime session on the CPU with a fixed number of threads."""

    name = "onnx"

    def __init__(self, path: Path, input_names: list[str], threads: int, fmt: str = "onnx",
                 layout: dict[str, Any] | None = None):
        import onnxruntime as ort

        self.name = fmt
        self.layout = layout
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = input_names
        graph_inputs = [i.name for i in self.session.get_inputs()]
        if graph_inputs != input_names:
            raise BundleError(f"the ONNX export '{path}' takes other inputs than recorded",
                              expected=", ".join(input_names), got=", ".join(graph_inputs),
                              hint="export the model again")

    def __call__(self, inputs: Any) -> Any:
        tensors = _positional(inputs, self.input_names)
        feeds = {name: tensor.numpy() for name, tensor in zip(self.input_names, tensors)}
        outputs = [torch.from_numpy(array) for array in self.session.run(None, feeds)]
        return to_cpu_float(rebuild_outputs(outputs, self.layout))


def _positional(inputs: Any, names: list[str]) -> list[torch.Tensor]:
    if isinstance(inputs, dict):
        return [inputs[name] for name in names]
    return [inputs]


def load_runner_file(fmt: str, path: Path, input_names: list[str], threads: int,
                     layout: dict[str, Any] | None = None):
    """A runner over an export file (already verified, or just written by ``export``); ``layout`` is
    how the export recorded the model's outputs (:func:`torchworks.batches.output_layout`)."""
    if runtime_of(fmt) == "onnx":
        return OnnxRunner(path, input_names, threads, fmt, layout)
    return TorchScriptRunner(path, input_names, fmt, layout)


def choose_runner(choice: str, bundle: Bundle, model: torch.nn.Module, threads: int):
    """The runner for ``choice``. ``auto`` is the float ONNX export when it passed its parity gate, else
    eager: an int8 export changes outputs a little, so it is served only when asked for by name.

    Raises:
        BundleError: The requested export is missing, failed its parity gate, or is not the file
            torchworks wrote.
    """
    if choice == "auto":
        onnx = available_exports(bundle).get("onnx")
        choice = "onnx" if onnx is not None and passed_gate(onnx) else "eager"
    if choice == "eager":
        return EagerRunner(model)
    path, entry = verified_export(bundle, choice)
    return load_runner_file(choice, path, list(entry.get("inputs") or ["input"]), threads, entry.get("outputs"))
