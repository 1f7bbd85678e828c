"""Model outputs of any structure, batch by batch: join batches, pick rows, move to the CPU.

A model's output is a tensor (logits, forecasts, frame log-probabilities), or a structure of them:
a tuple or dict of tensors (several named outputs), or a list with one entry per sample (boxes of
a detector, a top-N list). Everything here works on all of these, so the engine, the server and
exports never assume one float tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def join_batches(batches: Sequence[Any]) -> Any:
    """Batches joined along the sample axis, keeping their structure.

    Tensors are concatenated along dim 0; sequence outputs of different lengths (frames, tokens) are
    zero-padded at the end of each dimension to the longest first. Tuples and dicts are joined
    element by element, lists (one entry per sample) are chained.
    """
    first = batches[0]
    if isinstance(first, dict):
        return {key: join_batches([batch[key] for batch in batches]) for key in first}
    if isinstance(first, tuple):
        return tuple(join_batches([batch[i] for batch in batches]) for i in range(len(first)))
    if isinstance(first, list):
        return [item for batch in batches for item in batch]
    return _concatenate_padded(batches)


def _concatenate_padded(batches: Sequence[Any]) -> Any:
    import torch

    shape = [max(b.shape[d] for b in batches) for d in range(1, batches[0].dim())]
    padded = []
    for batch in batches:
        missing = [size - have for size, have in zip(shape, batch.shape[1:])]
        if any(missing):
            pads = [amount for m in reversed(missing) for amount in (0, m)]
            batch = torch.nn.functional.pad(batch, pads)
        padded.append(batch)
    return torch.cat(padded)


def take_rows(outputs: Any, rows: slice | Sequence[int]) -> Any:
    """The samples ``rows`` (a slice, or indices in the order wanted) of a batch of any structure."""
    if isinstance(outputs, dict):
        return {key: take_rows(value, rows) for key, value in outputs.items()}
    if isinstance(outputs, tuple):
        return tuple(take_rows(value, rows) for value in outputs)
    if isinstance(rows, slice):
        return outputs[rows]
    if isinstance(outputs, list):
        return [outputs[i] for i in rows]
    return outputs[list(rows)]


def count_rows(outputs: Any) -> int:
    """How many samples a batch of any structure holds."""
    if isinstance(outputs, dict):
        return count_rows(next(iter(outputs.values())))
    if isinstance(outputs, tuple):
        return count_rows(outputs[0])
    return len(outputs)


def to_cpu_float(outputs: Any) -> Any:
    """Every floating-point tensor in ``outputs`` as float32 on the CPU (integer tensors, such as
    class ids or lengths, keep their type)."""
    import torch

    if isinstance(outputs, torch.Tensor):
        return (outputs.float() if outputs.is_floating_point() else outputs).cpu()
    if isinstance(outputs, dict):
        return {key: to_cpu_float(value) for key, value in outputs.items()}
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(to_cpu_float(value) for value in outputs)
    return outputs


def to_device(batch: Any, device: Any) -> Any:
    """Every tensor in ``batch`` (nested in dicts, tuples and lists) on ``device``; other values as they are."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def flatten_tensors(outputs: Any) -> list[Any]:
    """The tensors of ``outputs`` in a fixed order (dict keys in order, then positions), for
    exporters and for comparing two runtimes' answers."""
    if isinstance(outputs, dict):
        return [t for value in outputs.values() for t in flatten_tensors(value)]
    if isinstance(outputs, (tuple, list)):
        return [t for value in outputs for t in flatten_tensors(value)]
    return [outputs]


def output_layout(outputs: Any) -> dict[str, Any]:
    """How an export records a model's outputs: ``{"kind": "tensor"|"tuple"|"dict", "names": [...]}``
    (the keys of a dict, ``output_0``... for a tuple, ``output`` for one tensor)."""
    if isinstance(outputs, dict):
        return {"kind": "dict", "names": [str(key) for key in outputs]}
    if isinstance(outputs, tuple):
        return {"kind": "tuple", "names": [f"output_{i}" for i in range(len(outputs))]}
    return {"kind": "tensor", "names": ["output"]}


def rebuild_outputs(tensors: Sequence[Any], layout: dict[str, Any] | None) -> Any:
    """An export runtime's list of output tensors back in the structure the eager model returns
    (``layout`` as :func:`output_layout` recorded it; None for exports made before it was)."""
    kind = (layout or {}).get("kind", "tensor")
    if kind == "dict":
        return dict(zip(layout["names"], tensors))
    if kind == "tuple":
        return tuple(tensors)
    return tensors[0]


def largest_difference(expected: Any, got: Any, *, relative: bool = False) -> float:
    """The largest absolute difference between two outputs of the same structure (two runtimes'
    answers to one batch); infinity when their structures or shapes differ.

    ``relative=True`` divides each difference by ``max(1, |expected|)``: float rounding grows with
    the size of a value (a box side of 300 pixels differs in the fourth decimal between runtimes),
    so large outputs are judged relative to themselves and small ones absolutely."""
    want, have = flatten_tensors(expected), flatten_tensors(got)
    if len(want) != len(have) or any(a.shape != b.shape for a, b in zip(want, have)):
        return float("inf")
    differences = []
    for a, b in zip(want, have):
        if not a.numel():
            continue
        gap = (a.float() - b.float()).abs()
        if relative:
            gap = gap / a.float().abs().clamp(min=1.0)
        differences.append(float(gap.max()))
    return max(differences, default=0.0)
