"""The ``export`` mode: a bundle's model as ONNX or TorchScript, in float or int8, in ``exports/``.

The exported graph takes the example batch's tensors positionally, in the order recorded in
``bundle.json``; axes the task declares dynamic (batch, sequence length) stay free. Preprocessing
state stays where it is, in ``bundle.json``: an export replaces only the network.

Every export is checked twice before it is recorded:

* on the task's example batch, a float export must reproduce the eager outputs within
  ``MATCH_TOLERANCE`` (else it is not kept: the exporter got the model wrong);
* the parity gate (:mod:`torchworks.engine.parity`) re-evaluates the test split with it. An export whose
  metric drops by more than the tolerance is kept, recorded as ``failed`` and never served by default.

int8 exports use dynamic quantization: weights stored as int8, activations quantized on the fly.
ONNX Runtime's quantizer for ``onnx-int8``; PyTorch's (``torch.ao``, Linear and recurrent layers) for
``torchscript-int8``.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from torchworks.batches import flatten_tensors, largest_difference, output_layout, to_cpu_float
from torchworks.bundle.exports import (
    FAILED,
    PASSED,
    expand_formats,
    export_path,
    passed_gate,
    record_export,
    runtime_of,
)
from torchworks.console import say
from torchworks.engine.parity import DEFAULT_TOLERANCE, ParityGate
from torchworks.engine.loading import load_model
from torchworks.engine.runners import load_runner_file
from torchworks.errors import BundleError, ConfigError, TorchworksError

MATCH_TOLERANCE = 1e-4  # largest absolute output difference a float export may show on the example batch
ONNX_OPSET = 18


@dataclass
class ExportResult:
    """One written export: its format, file and ``bundle.json`` entry (with its parity record)."""

    format: str
    path: Path
    entry: dict[str, Any]

    @property
    def passed(self) -> bool:
        return passed_gate(self.entry)

    def describe(self) -> str:
        parity = self.entry["parity"]
        return (f"{self.format}: {self.entry['status']} ({parity['metric']} {parity['eager']:.4f} eager -> "
                f"{parity['export']:.4f}, largest output difference {parity['max_abs_diff']:.2g}, "
                f"{self.entry['size_bytes'] / 2**20:.1f} MB) {self.path}")


class PositionalModel(torch.nn.Module):
    """The model with its inputs as positional tensors and its outputs as a flat tuple of tensors
    (what ONNX and TorchScript graphs take and give); a lone output tensor stays a tensor."""

    def __init__(self, model: torch.nn.Module, names: list[str] | None):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> Any:
        outputs = self.model(tensors[0] if self.names is None else dict(zip(self.names, tensors)))
        return outputs if isinstance(outputs, torch.Tensor) else tuple(flatten_tensors(outputs))


def input_tensors(example: Any) -> tuple[list[str], list[torch.Tensor]]:
    """The names and tensors of a task's model input (one tensor is called ``input``)."""
    if isinstance(example, dict):
        return list(example), list(example.values())
    return ["input"], [example]


def export(run: str | Path, fmt: str = "onnx", *, tolerance: float = DEFAULT_TOLERANCE, threads: int = 0,
           on_result: Callable[[ExportResult], None] = lambda result: None) -> list[ExportResult]:
    """Write the exports named by ``fmt`` (a format, ``int8``, ``all`` or a comma list) of the bundle at
    ``run``, run each through the parity gate, and record them in ``bundle.json``.

    Args:
        tolerance: How much worse than eager the test metric of an export may be (metric units).
        threads: Threads for checking exports (0: all cores).
        on_result: Called with each export as soon as it is recorded.

    Returns:
        One result per format; ``result.passed`` says whether it passed the parity gate.

    Raises:
        ConfigError: An unknown format or a negative tolerance.
        BundleError: A float export that does not reproduce the eager model on the example batch, or a
            model the exporter cannot handle. Nothing is recorded for that format; formats before it are.
    """
    formats = expand_formats(fmt)
    if not tolerance >= 0:
        raise ConfigError("the parity tolerance must not be negative", expected="a number >= 0 (0.01 = one point)",
                          got=str(tolerance), hint="tolerance=0.01")
    bundle, task, config, model = load_model(run)
    task.require_mode("export")
    example = task.example_input(bundle.state)
    names, tensors = input_tensors(example)
    positional = names if isinstance(example, dict) else None
    with torch.inference_mode():
        layout = output_layout(model(example))
    gate = ParityGate(task, config, bundle, model)
    results = []
    for name in formats:
        target = export_path(bundle.path, name)
        target.parent.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(handle)
        try:
            WRITERS[name](PositionalModel(model, positional).eval(), tensors, names,
                          task.dynamic_axes(bundle.state), layout["names"], Path(temporary))
            runner = load_runner_file(name, Path(temporary), names, threads, layout)
            with _runtime_failures(name, bundle.path), torch.inference_mode():
                difference = largest_difference(to_cpu_float(model(example)), runner(example))
            if not name.endswith("-int8") and not difference <= MATCH_TOLERANCE:
                raise BundleError(f"the {name} export of '{bundle.path}' does not reproduce the model",
                                  expected=f"outputs within {MATCH_TOLERANCE:g} of eager on the example batch",
                                  got=f"a largest difference of {difference:.3g}",
                                  hint="this model uses an operation the exporter handles differently; serve it eager")
            say(f"{name}: parity gate, evaluating eager and export on the test split")
            with _runtime_failures(name, bundle.path):
                parity = gate.check(runner, tolerance)
            del runner  # release the file before it is renamed
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
        entry = {"inputs": names, "outputs": layout, "status": PASSED if parity.pop("passed") else FAILED, "parity": parity,
                 "max_abs_diff": difference, "size_bytes": target.stat().st_size,
                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 **({"opset": ONNX_OPSET} if runtime_of(name) == "onnx" else {})}
        record_export(bundle, name, entry)
        results.append(ExportResult(name, target, bundle.manifest["exports"][name]))
        on_result(results[-1])
    return results


def _write_onnx(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                axes: dict[str, dict[int, str]], outputs: list[str], path: Path) -> None:
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing a user can act on
        try:
            torch.onnx.export(model, tuple(tensors), str(path), input_names=names, output_names=outputs,
                              dynamic_axes={**axes, **{output: {0: "batch"} for output in outputs}},
                              opset_version=ONNX_OPSET, dynamo=False)
        except Exception as error:  # noqa: BLE001  (the exporter raises many kinds; the user needs one message)
            raise _cannot_export("onnx", error) from error


def _write_torchscript(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                       axes: dict[str, dict[int, str]], outputs: list[str], path: Path) -> None:
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(model, tuple(tensors), check_trace=False)
        except Exception as error:  # noqa: BLE001
            raise _cannot_export("torchscript", error) from error
    traced.save(str(path))


def _write_onnx_int8(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                     axes: dict[str, dict[int, str]], outputs: list[str], path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_copy = path.with_name(path.name + ".float")
    try:
        _write_onnx(model, tensors, names, axes, outputs, float_copy)
        with warnings.catch_warnings(), _root_log_quiet():  # it logs advice about pre-processing there
            warnings.simplefilter("ignore")
            # MatMul and Gemm are where the time goes; Gather shrinks embedding tables. Convolutions stay
            # float: ConvInteger is slower than a float convolution on most CPUs. One scale per output
            # channel: per tensor cost MiniLM two points of macro-F1 on the tickets, per channel none.
            quantize_dynamic(str(float_copy), str(path), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Gemm", "Gather"], per_channel=True)
    finally:
        float_copy.unlink(missing_ok=True)


@contextmanager
def _root_log_quiet():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _write_torchscript_int8(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                            axes: dict[str, dict[int, str]], outputs: list[str], path: Path) -> None:
    engines = torch.backends.quantized.supported_engines
    if torch.backends.quantized.engine not in engines or torch.backends.quantized.engine == "none":
        torch.backends.quantized.engine = next(e for e in ("x86", "fbgemm", "qnnpack") if e in engines)
    quantizable = {torch.nn.Linear, torch.nn.LSTM, torch.nn.GRU}
    if not any(type(module) in quantizable for module in model.modules()):
        raise BundleError("this model has no layer that dynamic int8 quantization handles",
                          expected="Linear, LSTM or GRU layers", got="none",
                          hint="export onnx-int8, or serve the float exports")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), quantizable, dtype=torch.qint8)
    _write_torchscript(quantized.eval(), tensors, names, axes, outputs, path)


WRITERS = {
    "onnx": _write_onnx,
    "torchscript": _write_torchscript,
    "onnx-int8": _write_onnx_int8,
    "torchscript-int8": _write_torchscript_int8,
}


@contextmanager
def _runtime_failures(fmt: str, run: Path):
    """A written export that fails when run (a traced graph that kept the example's batch size, say)
    becomes one clear error; nothing is recorded for it."""
    try:
        yield
    except TorchworksError:
        raise
    except Exception as error:  # noqa: BLE001  (runtimes raise many kinds; the user needs one message)
        reason = str(error).strip().splitlines()[-1][:300] if str(error).strip() else type(error).__name__
        raise BundleError(f"the {fmt} export of '{run}' fails on the test split's batches",
                          expected="an export that runs on any batch the model takes", got=reason,
                          hint="this model cannot be exported this way; use another format, or serve it eager") from error


def _cannot_export(fmt: str, error: Exception) -> BundleError:
    reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    return BundleError(f"this model cannot be exported as {fmt}", expected="operations the exporter supports",
                       got=reason, hint="serve it eager, or try another format (torchworks export RUN format=...)")
