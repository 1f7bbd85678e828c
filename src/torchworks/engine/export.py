"""The ``export`` mode: a bundle's model as ONNX or TorchScript in ``exports/``, checked against eager.

The exported graph takes the example batch's tensors positionally, in the order recorded in
``bundle.json``; axes the task declares dynamic (batch, sequence length) stay free. Before an export
is recorded, it is run on the task's example batch and must match the eager model.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from torchworks.bundle.exports import EXPORT_FILES, export_path, record_export
from torchworks.engine.predict import load_model
from torchworks.errors import BundleError, ConfigError, did_you_mean

MATCH_TOLERANCE = 1e-3  # largest absolute output difference accepted on the example batch
ONNX_OPSET = 18


class PositionalModel(torch.nn.Module):
    """The model with its inputs as positional tensors (what ONNX and TorchScript graphs take)."""

    def __init__(self, model: torch.nn.Module, names: list[str] | None):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        if self.names is None:
            return self.model(tensors[0])
        return self.model(dict(zip(self.names, tensors)))


def input_tensors(example: Any) -> tuple[list[str], list[torch.Tensor]]:
    """The names and tensors of a task's model input (one tensor is called ``input``)."""
    if isinstance(example, dict):
        return list(example), list(example.values())
    return ["input"], [example]


def export(run: str | Path, fmt: str) -> Path:
    """Write the ``fmt`` export of the bundle at ``run`` and record it in ``bundle.json``.

    Raises:
        ConfigError: An unknown format.
        BundleError: The exported model does not reproduce the eager model's outputs.
    """
    if fmt not in EXPORT_FILES:
        raise ConfigError(f"unknown export format '{fmt}'", expected="one of " + ", ".join(EXPORT_FILES),
                          got=fmt, hint=did_you_mean(fmt, EXPORT_FILES))
    bundle, task, _, model = load_model(run)
    example = task.example_input(bundle.state)
    names, tensors = input_tensors(example)
    wrapped = PositionalModel(model, names if isinstance(example, dict) else None).eval()
    target = export_path(bundle.path, fmt)
    target.parent.mkdir(exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        writer = _write_onnx if fmt == "onnx" else _write_torchscript
        writer(wrapped, tensors, names, task.dynamic_axes(bundle.state), Path(temporary))
        difference = _largest_difference(fmt, Path(temporary), wrapped, example)
        if not difference <= MATCH_TOLERANCE:
            raise BundleError(f"the {fmt} export of '{bundle.path}' does not reproduce the model",
                              expected=f"outputs within {MATCH_TOLERANCE:g} of eager on the example batch",
                              got=f"a largest difference of {difference:.3g}",
                              hint="this model uses an operation the exporter handles differently; serve it eager")
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    record_export(bundle, fmt, {"inputs": names, "max_abs_diff": difference,
                                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                **({"opset": ONNX_OPSET} if fmt == "onnx" else {})})
    return target


def _write_onnx(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                axes: dict[str, dict[int, str]], path: Path) -> None:
    import warnings

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing a user can act on
        torch.onnx.export(model, tuple(tensors), str(path), input_names=names, output_names=["output"],
                          dynamic_axes={**axes, "output": {0: "batch"}}, opset_version=ONNX_OPSET, dynamo=False)


def _write_torchscript(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                       axes: dict[str, dict[int, str]], path: Path) -> None:
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, tuple(tensors), check_trace=False)
    traced.save(str(path))


def _largest_difference(fmt: str, path: Path, model: PositionalModel, example: Any) -> float:
    """The largest absolute difference between eager and exported outputs on the example batch."""
    from torchworks.server.backends import load_runner_file

    names, tensors = input_tensors(example)
    with torch.no_grad():
        expected = model(*tensors).float()
    got = load_runner_file(fmt, path, names, threads=1)(example)
    if got.shape != expected.shape:
        return float("inf")
    return float((got - expected).abs().max()) if expected.numel() else 0.0
