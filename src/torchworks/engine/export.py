"""The ``export`` mode: a bundle's model as ONNX or TorchScript, in float or int8, in ``exports/``.

The exported graph takes the example batch's tensors positionally, in the order recorded in
``bundle.json``; axes the task declares dynamic (batch, sequence length) stay free. Preprocessing
state stays where it is, in ``bundle.json``: an export replaces only the network.

Every export is checked twice before it is kept:

* on the task's example batch, a float export must reproduce the eager outputs within
  ``MATCH_TOLERANCE`` (else the exporter got the model wrong, and the format is skipped);
* the parity gate (:mod:`torchworks.engine.parity`) re-evaluates the test split with it. An export whose
  metric drops by more than the tolerance fails.

Each format ends ``passed`` (its file is in ``exports/`` and its entry under ``exports`` in
``bundle.json``), ``failed`` (the parity gate; no file is kept) or ``skipped`` (it cannot be made or run
for this model: an int8 trace that bakes in the batch size, a model with nothing to quantize; no file).
All three are recorded, with the numbers and the reason, under ``export_results`` in ``bundle.json``. A
failed or skipped format also removes an earlier export of that format: ``exports/`` only holds
exports that passed their gate, for this model, at the last try.

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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from torchworks.batches import flatten_tensors, largest_difference, output_layout, to_cpu_float
from torchworks.bundle.exports import (
    EXPORTS,
    FAILED,
    PASSED,
    SKIPPED,
    expand_formats,
    export_path,
    named_formats,
    record_export,
    reject_export,
    runtime_of,
)
from torchworks.console import say
from torchworks.tables import listing
from torchworks.engine.parity import DEFAULT_TOLERANCE, ParityGate
from torchworks.engine.loading import load_model
from torchworks.engine.runners import load_runner_file
from torchworks.errors import BundleError, ConfigError, TorchworksError

MATCH_TOLERANCE = 1e-4  # largest output difference a float export may show on the example batch (relative above 1)
ONNX_OPSET = 18


@dataclass
class ExportResult:
    """One format's export: ``status`` passed, failed (the parity gate) or skipped (cannot be made), its
    ``export_results`` record (numbers and reason) and, when it passed, its file and ``exports`` entry."""

    format: str
    status: str
    record: dict[str, Any]
    path: Path | None = None
    entry: dict[str, Any] = field(default_factory=dict)
    error: TorchworksError | None = None  # why a skipped format could not be made

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def reason(self) -> str:
        return self.record.get("reason", "")

    def describe(self) -> str:
        record = self.record
        if self.status == SKIPPED:
            return f"{self.format}: skipped ({self.reason})"
        numbers = (f"{record['metric']} {record['eager']:.4f} eager -> {record['export']:.4f}, largest output "
                   f"difference {record['max_abs_diff']:.2g}")
        if self.status == FAILED:
            return f"{self.format}: failed ({numbers}; {self.reason}), not kept"
        return f"{self.format}: passed ({numbers}, {self.entry['size_bytes'] / 2**20:.1f} MB) {self.path}"


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
    """Make the exports named by ``fmt`` (a format, ``int8``, ``all`` or a comma list) of the bundle at
    ``run``, run each through the parity gate, keep those that pass, and record every outcome in
    ``bundle.json`` (see the module docstring). A format that fails or cannot be made is a result, not
    an error: the others are still made. :func:`check_results` says whether the request was met.

    Args:
        tolerance: How much worse than eager the test metric of an export may be (metric units).
        threads: Threads for checking exports (0: all cores).
        on_result: Called with each result as soon as it is recorded.

    Returns:
        One result per format, in order, with ``status`` passed, failed or skipped.

    Raises:
        ConfigError: An unknown format or a negative tolerance.
        TorchworksError: A bundle or test data that cannot be read (nothing is exported then).
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
    folder = bundle.path / EXPORTS
    folder.mkdir(exist_ok=True)
    results = []
    for name in formats:
        target = export_path(bundle.path, name)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        os.close(handle)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            try:
                (difference, scaled), parity = _make(name, Path(temporary), model, positional, tensors, names, layout, example,
                                           task.dynamic_axes(bundle.state), gate, tolerance, threads, bundle.path)
            except BundleError as error:
                record = {"status": SKIPPED, "reason": _reason(error), "tolerance": tolerance, "created": created}
                reject_export(bundle, name, record)
                results.append(ExportResult(name, SKIPPED, record, error=error))
            else:
                passed = parity.pop("passed")
                record = {"status": PASSED if passed else FAILED, "reason": "" if passed else _gate_reason(parity),
                          **parity, "created": created}
                if passed:
                    os.replace(temporary, target)
                    entry = {"inputs": names, "outputs": layout, "status": PASSED, "parity": parity,
                             "max_abs_diff": difference, "max_rel_diff": scaled, "size_bytes": target.stat().st_size, "created": created,
                             **({"opset": ONNX_OPSET} if runtime_of(name) == "onnx" else {})}
                    record_export(bundle, name, entry, outcome=record)
                    results.append(ExportResult(name, PASSED, record, target, bundle.manifest["exports"][name]))
                else:
                    reject_export(bundle, name, record)
                    results.append(ExportResult(name, FAILED, record))
        finally:
            Path(temporary).unlink(missing_ok=True)
        on_result(results[-1])
    if not any(folder.iterdir()):
        folder.rmdir()  # nothing passed, and nothing was there before: no empty folder left behind
    return results


def _make(name: str, path: Path, model: torch.nn.Module, positional: list[str] | None, tensors: list[torch.Tensor],
          names: list[str], layout: dict[str, Any], example: Any, axes: dict[str, dict[int, str]], gate: ParityGate,
          tolerance: float, threads: int, run: Path) -> tuple[tuple[float, float], dict[str, Any]]:
    """Write the ``name`` export to ``path`` and check it: its largest difference from eager on the
    example batch (absolute, and relative to values over 1) and its parity record. BundleError when it
    cannot be made or run."""
    try:
        WRITERS[name](PositionalModel(model, positional).eval(), tensors, names, axes, layout["names"], path)
    except TorchworksError:
        raise
    except Exception as error:  # noqa: BLE001  (quantizers and exporters raise many kinds)
        raise _cannot_export(name, error) from error
    with _runtime_failures(name, run):
        runner = load_runner_file(name, path, names, threads, layout)
        with torch.inference_mode():
            expected, got = to_cpu_float(model(example)), runner(example)
            difference = largest_difference(expected, got)
            scaled = largest_difference(expected, got, relative=True)
    if not name.endswith("-int8") and not scaled <= MATCH_TOLERANCE:
        raise BundleError(f"the {name} export of '{run}' does not reproduce the model",
                          expected=f"outputs within {MATCH_TOLERANCE:g} of eager on the example batch "
                          "(relative to values over 1)",
                          got=f"a largest difference of {difference:.3g} ({scaled:.3g} relative)",
                          hint="this model uses an operation the exporter handles differently; serve it eager")
    gate.reference  # noqa: B018  (the eager side, once: its own failures are not this export's)
    say(f"{name}: parity gate, evaluating eager and export on the test split")
    with _runtime_failures(name, run):
        parity = gate.check(runner, tolerance)
    del runner  # release the file before it is renamed
    return (difference, scaled), parity


def _reason(error: TorchworksError) -> str:
    return f"{error.what}: {error.got}" if error.got else error.what


def _gate_reason(parity: dict[str, Any]) -> str:
    worse = abs(parity["delta"])
    if worse != worse:  # NaN
        return f"{parity['metric']} of the export is not a number"
    return f"{parity['metric']} worse by {worse:.4g}, more than the tolerance {parity['tolerance']:g}"


def check_results(results: list[ExportResult], fmt: str) -> None:
    """Raise unless the request ``fmt`` was met: every format named on its own passed, and at least
    one format passed. Formats reached through ``all`` or ``int8`` may fail or be skipped.

    Raises:
        BundleError: For a format asked for by name that could not be made, that error; else one
            naming what failed and why.
    """
    named = set(named_formats(fmt))
    missed = [r for r in results if r.format in named and not r.passed]
    if not missed and any(r.passed for r in results):
        return
    missed = missed or results
    if len(missed) == 1 and missed[0].error is not None:
        raise missed[0].error  # the one format asked for cannot be made: why, as the exporter said
    failed = [r for r in missed if r.status == FAILED]
    if len(missed) == 1 and failed:
        record = failed[0].record
        raise BundleError(f"{failed[0].format} failed the parity gate; no file was kept",
                          expected=f"{record['metric']} within {record['tolerance']:g} of eager ({record['eager']:.4f})",
                          got=f"{record['export']:.4f}",
                          hint="serve the float exports; or, if the drop is acceptable, export again with a "
                               "larger tolerance=")
    what = "no export passed" if not any(r.passed for r in results) else \
        f"{listing([r.format for r in missed])} {'was' if len(missed) == 1 else 'were'} asked for and not kept"
    raise BundleError(what, expected="exports that can be made and pass the parity gate",
                      got="; ".join(f"{r.format} {r.status}: {r.reason}" for r in missed),
                      hint="serve the exports that passed, or the model eager; raise tolerance= if a drop is "
                           "acceptable")


def summary_lines(results: list[ExportResult]) -> list[str]:
    """The results as an aligned table (format, status, metric on both sides, change against the
    tolerance, largest output difference, size), then one line per export not kept, with why."""
    metric = next((r.record["metric"] for r in results if "metric" in r.record), "metric")
    header = ["format", "status", f"eager {metric}", f"export {metric}", "change", "tolerance", "output diff", "size"]
    rows = [header]
    for result in results:
        record = result.record
        measured = "export" in record
        rows.append([
            result.format, result.status,
            f"{record['eager']:.4f}" if measured else "-", f"{record['export']:.4f}" if measured else "-",
            f"{round(record['delta'], 4) or 0.0:+.4f}" if measured else "-", f"{record['tolerance']:g}",
            f"{record['max_abs_diff']:.2g}" if measured else "-",
            f"{result.entry['size_bytes'] / 2**20:.1f} MB" if result.passed else "-",
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return lines + [f"{r.format} {r.status}: {r.reason}" for r in results if not r.passed]


def _write_onnx(model: torch.nn.Module, tensors: list[torch.Tensor], names: list[str],
                axes: dict[str, dict[int, str]], outputs: list[str], path: Path) -> None:
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings say nothing a user can act on
        try:
            torch.onnx.export(model, tuple(tensors), str(path), input_names=names, output_names=outputs,
                              dynamic_axes={**{output: {0: "batch"} for output in outputs}, **axes},
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
                             op_types_to_quantize=INT8_ONNX_OPS, per_channel=True)
    finally:
        float_copy.unlink(missing_ok=True)
    _require_quantized(path)


INT8_ONNX_OPS = ["MatMul", "Gemm", "Gather"]


def _require_quantized(path: Path) -> None:
    """BundleError unless the quantizer changed something: a graph of convolutions alone comes back
    float, and an "int8" file that is the float model under another name would mislead."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    if not any(node.op_type in ("DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul", "DequantizeLinear")
               for node in graph.node):
        raise BundleError("this model has no operation that dynamic int8 quantization handles",
                          expected=", ".join(INT8_ONNX_OPS) + " operations (convolutions stay float)", got="none",
                          hint="serve the float onnx export")


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
