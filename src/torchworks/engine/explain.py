"""The ``explain`` mode: why a trained model answered what it did, input by input.

The bundle's task turns the inputs into model inputs (exactly as for ``predict``) and attributes the
model's answer for each one to the parts of that input (pixels, tokens, lags and covariates,
spectrogram frames) with one of the methods it declares. :func:`explain_items` does this for a
model already in memory and writes nothing (what the server calls); :func:`explain` loads a bundle
and writes ``explanations.json``, the PNGs and a self-contained ``explanation.html`` into a new
folder, by default ``<run>/explanations/<timestamp>/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from torchworks.engine.inputs import check_input_kinds
from torchworks.errors import ConfigError, DataError, OutputError, did_you_mean
from torchworks.tasks.protocol import Explanation, Task

EXPLANATIONS = "explanations"
SETTINGS = ("method", "target", "output")  # what every explanation takes, besides the task's own options


@dataclass
class ExplainResult:
    """Explanations written to disk: where, and the JSON records (one per explained input)."""

    task: str
    method: str
    path: Path
    records: list[dict[str, Any]]
    overview: dict[str, Any] | None = None  # what the records say together, when the task says it

    def __repr__(self) -> str:
        return f"ExplainResult(task={self.task!r}, method={self.method!r}, path='{self.path}', " \
               f"records={len(self.records)})"


def check_explainable(task: Task) -> None:
    """Raise ConfigError unless ``task`` has the explain mode (is :class:`Explainable`)."""
    if "explain" not in task.modes:
        raise ConfigError(f"{task.name} models cannot be explained", expected="a model of a task with explain "
                          "methods", got=f"a {task.name} model (no explain methods)",
                          hint="`torchworks tasks` lists the tasks with the explain mode")


def choose_method(task: Task, method: str | None) -> str:
    """``method``, or the task's default when None.

    Raises:
        ConfigError: The task explains nothing, or ``method`` is not one of its methods.
    """
    check_explainable(task)
    if method is None or method == "":
        return task.explain_methods[0]
    if method not in task.explain_methods:
        raise ConfigError(f"unknown explain method '{method}' for {task.name}",
                          expected="one of " + ", ".join(task.explain_methods), got=method,
                          hint=did_you_mean(method, task.explain_methods))
    return method


def check_options(task: Task, options: dict[str, Any]) -> dict[str, str]:
    """The task's explain options as text; an unknown key fails with a did-you-mean hint."""
    for key in options:
        if key not in task.explain_options:
            known = (*SETTINGS, *task.explain_options)
            raise ConfigError(f"unknown explain setting '{key}'", expected="one of " + ", ".join(known), got=key,
                              hint=did_you_mean(key, known))
    return {key: str(value) for key, value in options.items()}


def explain_items(task: Task, model: Any, state: dict[str, Any], inputs: Sequence[Any] | Any, *,
                  method: str | None = None, target: str | None = None, options: dict[str, Any] | None = None,
                  progress: bool = False) -> list[Explanation]:
    """Explanations of ``inputs`` by a loaded model, one per item the task makes of them; nothing
    is written and every figure comes back as PNG bytes.

    Args:
        task: The bundle's task.
        model: Its model (any device); left in the mode, and with the gradient flags, it had.
        state: The bundle's preprocessing state.
        inputs: What ``predict`` takes: paths, folders, texts, tables, uploads.
        method: One of ``task.explain_methods``; the first when None.
        target: What to explain (a class label, a forecast step, a transcript); None: the prediction.
        options: The method's settings (``steps``, ``layer``...), among ``task.explain_options``.
        progress: Show a progress bar on stderr when there are several inputs.

    Raises:
        ConfigError: An unknown method, option or target. DataError: unreadable inputs.
    """
    method = choose_method(task, method)
    options = check_options(task, options or {})
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    check_input_kinds(task, items)
    dataset, ids = task.explain_inputs(model, items, state, options)
    return explain_dataset(task, model, dataset, ids, state, method=method, target=target, options=options,
                           progress=progress)


def explain_dataset(task: Task, model: Any, dataset: Any, ids: list[Any], state: dict[str, Any], *, method: str,
                    target: str | None, options: dict[str, str], progress: bool = False,
                    before_item: Callable[[int], None] = lambda index: None) -> list[Explanation]:
    """Explanations of the items of ``dataset`` (as ``task.predict_inputs`` made it), one at a time;
    ``method`` and ``options`` already checked. ``before_item(index)`` runs before each item (a
    caller's deadline check may raise there)."""
    from torchworks.attribution.figures import figure_png
    from torchworks.attribution.gradients import as_gradient_inputs, gradient_mode, model_device
    from torchworks.progress import track

    collate = task.collate_fn(labelled=False)
    device = model_device(model)
    explanations: list[Explanation] = []
    with gradient_mode(model):
        for index in track(range(len(dataset)), "explaining", total=len(dataset),
                           enabled=progress and len(dataset) > 1):
            before_item(index)
            batch = as_gradient_inputs(collate([dataset[index]]), device)
            for explanation in task.explain(model, batch, [ids[index]], state, method, target, options):
                explanation.figures = {name: figure if isinstance(figure, bytes) else figure_png(figure)
                                       for name, figure in explanation.figures.items()}
                explanations.append(explanation)
    return explanations


def explain(run: str | Path, inputs: Sequence[Any] | Any, *, method: str | None = None, target: str | None = None,
            output: str | Path | None = None, options: dict[str, Any] | None = None,
            progress: bool = True) -> ExplainResult:
    """Explain the bundle at ``run`` on ``inputs`` and write the results into a new folder.

    Args:
        output: The folder to write (created; refused when it exists and is not empty). Default:
            ``<run>/explanations/<timestamp>/``.

    Returns:
        Where the results are and their records (as in ``explanations.json``).
    """
    from torchworks.engine.loading import load_model

    bundle, task, _, model = load_model(run)
    method = choose_method(task, method)
    check_options(task, options or {})
    folder = check_output_folder(Path(output).expanduser()) if output is not None else None
    explanations = explain_items(task, model, bundle.state, inputs, method=method, target=target,
                                 options=options, progress=progress)
    if not explanations:
        raise DataError("nothing to explain", expected="inputs the model can read", got="no items in the inputs")
    overview = task.explanation_overview(explanations, bundle.state) if len(explanations) > 1 else None
    path, records = write_explanations(explanations, task.name, bundle.path, method, folder, overview)
    return ExplainResult(task.name, method, path, records, overview.record if overview else None)


def check_output_folder(folder: Path) -> Path:
    """``folder`` when it can take the explanations (new, or empty); else an :class:`OutputError`."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OutputError(f"'{folder}' already exists", expected="a new or empty folder for the explanations",
                          got="a file" if not folder.is_dir() else "a folder with files in it",
                          hint="choose another output=, or leave it out to write under the run's explanations/")
    return folder


def write_explanations(explanations: list[Explanation], task: str, run: Path, method: str,
                       folder: Path | None = None,
                       overview: Explanation | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Write the PNGs, ``explanations.json`` and ``explanation.html`` into ``folder`` (default: a
    new ``<run>/explanations/<timestamp>``), ``overview`` (what they say together) first when given.
    Everything goes into a hidden folder beside it first, which is renamed into place once complete, so
    a crash never leaves half a result."""
    from torchworks.bundle.atomic import atomic_write_bytes, atomic_write_json
    from torchworks.report.html import render_explanations

    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    files, records = [], []
    for number, explanation in enumerate(explanations, start=1):
        stem = f"{number:03d}-{_slug(explanation.record.get('input'))}"
        names = {name: f"{stem}-{name}.png" for name in explanation.figures}
        files += [(names[name], png) for name, png in explanation.figures.items()]
        records.append({**explanation.record, "summary": explanation.summary, "figures": list(names.values())})
    document = {"task": task, "run": str(run), "method": method, "created": created, "explanations": records}
    sections = [_section(number, record, explanation) for number, (record, explanation)
                in enumerate(zip(records, explanations), start=1)]
    if overview is not None:
        names = {name: f"000-overview-{name}.png" for name in overview.figures}
        files += [(names[name], png) for name, png in overview.figures.items()]
        document["overview"] = {**overview.record, "summary": overview.summary, "figures": list(names.values())}
        sections.insert(0, {"heading": overview.summary or f"Across the {len(explanations)} inputs", "facts": {},
                            "images": {name.replace("_", " "): png for name, png in overview.figures.items()},
                            "html": overview.html})
    page = render_explanations(f"{task}: {run.name}", f"explained with {method}, {created}", sections)
    target = folder or _free_folder(run / EXPLANATIONS)
    temporary = target.parent / f".{target.name}.{os.getpid()}.partial"
    try:
        temporary.mkdir(parents=True)
        for name, png in files:
            atomic_write_bytes(temporary / name, png)
        atomic_write_json(temporary / "explanations.json", document)
        atomic_write_bytes(temporary / "explanation.html", page.encode("utf-8"))
        os.replace(temporary, target)
    except OSError as error:
        raise OutputError(f"could not write the explanations to '{target}'", expected="a writable folder",
                          got=error.strerror or str(error), hint="choose another output=") from None
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return target, records


def _free_folder(parent: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 10_000):
        candidate = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        if not candidate.exists():
            return candidate
    raise OutputError(f"no free folder name under '{parent}'", hint="pass output=FOLDER")


def _slug(text: Any) -> str:
    """A short file-name-safe label of an input: a file's stem, or a text's first words."""
    raw = str(text or "input")
    stem = Path(raw).stem if len(raw) < 300 and ("/" in raw or Path(raw).suffix) else raw
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:32] or "input"


def _section(number: int, record: dict[str, Any], explanation: Explanation) -> dict[str, Any]:
    shown = str(record.get("input", ""))
    facts = {key: _fact(value) for key, value in record.items() if key not in ("input", "attributions", "figures")}
    return {"heading": f"{number}. {shown[:100]}{'...' if len(shown) > 100 else ''}", "facts": facts,
            "images": {name.replace("_", " "): png for name, png in explanation.figures.items()},
            "html": explanation.html}


def _fact(value: Any) -> Any:
    """A record's value as a table cell: ``label: 3, probability: 0.98`` rather than JSON."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_fact(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        shown = ", ".join(str(_fact(item)) for item in value[:8])
        return f"{shown}, ... ({len(value)} values)" if len(value) > 8 else shown
    return value if isinstance(value, (str, int, float)) or value is None else json.dumps(value, default=str)
