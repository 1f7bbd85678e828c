"""``torchworks MODE ...``: turns arguments into engine calls and results into lines a person reads.

Heavy libraries (torch, Lightning, MLflow) are imported inside the commands, so ``--help`` is instant.
A :class:`~torchworks.errors.TorchworksError` is printed as one line and exits with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from torchworks.errors import EXIT_USER_ERROR, TorchworksError

app = typer.Typer(
    name="torchworks",
    help="From data to a trained, evaluated model: torchworks MODE TASK key=value ...",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Bundled sample datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

SETTINGS_HELP = "Settings as key=value (epochs=10 model=resnet18 ...); config=run.yaml loads a file."


@app.command(context_settings={"ignore_unknown_options": True})
def train(
    task: str = typer.Argument(..., help="Task name (see `torchworks tasks`)."),
    settings: Optional[list[str]] = typer.Argument(None, help=SETTINGS_HELP),
) -> None:
    """Train a model and write its bundle under runs/<task>/<name>."""
    from torchworks.config import parse_overrides
    from torchworks.engine.train import train as run_training

    result = run_training(task, parse_overrides(settings or []))
    _print_metrics(result.metrics)
    typer.echo(f"bundle: {result.path}")


@app.command()
def evaluate(run: Path = typer.Argument(..., help="A run folder, e.g. runs/image-classification/digits-smallcnn.")) -> None:
    """Re-evaluate a trained model on its test split; writes metrics.json, plots and report.html."""
    from torchworks.engine.evaluate import evaluate as run_evaluation

    result = run_evaluation(run)
    _print_metrics(result.metrics)
    typer.echo(f"report: {result.path / 'report.html'}")


@app.command(context_settings={"ignore_unknown_options": True})
def predict(
    run: Path = typer.Argument(..., help="A run folder."),
    inputs: list[str] = typer.Argument(..., help="Files, folders, CSVs, or texts (for text models)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions to .csv or .json."),
    top_k: int = typer.Option(3, "--top-k", min=1, help="Classes listed per input."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --output file."),
) -> None:
    """Predict with a trained model; prints JSON lines or writes CSV/JSON. A model's own
    prediction settings are given as --key value (for example --decoder beam)."""
    import json

    from torchworks.engine.predict import Predictor, check_output_file, write_predictions

    inputs, options = _split_options(inputs)
    if output is not None:
        check_output_file(output, force)
    records = Predictor(run).predict(inputs, top_k=top_k, options=options)
    if output is None:
        for record in records:
            typer.echo(json.dumps(record))
        return
    write_predictions(records, output)
    typer.echo(f"predictions: {output} ({len(records)} rows)")


def _split_options(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """``["a.wav", "--decoder", "beam", "--beam-width=32"]`` -> inputs and ``{"decoder": "beam", ...}``."""
    inputs, options = [], {}
    items = iter(arguments)
    for item in items:
        if not item.startswith("--") or len(item) == 2:
            inputs.append(item)
            continue
        key, sep, value = item[2:].partition("=")
        options[key.replace("-", "_")] = value if sep else next(items, "")
    return inputs, options


@app.command()
def quickstart(
    task: Optional[str] = typer.Argument(None, help="One task; all tasks when omitted."),
    settings: Optional[list[str]] = typer.Argument(None, help="Overrides for the recipe, e.g. epochs=2."),
) -> None:
    """Run each task's built-in recipe on bundled data: train, evaluate, report."""
    from rich.table import Table

    from torchworks.config import parse_overrides
    from torchworks.console import console
    from torchworks.engine.quickstart import quickstart as run_quickstart
    from torchworks.engine.quickstart import summary_rows

    rows = summary_rows(run_quickstart(task, parse_overrides(settings or [])))
    table = Table(title="torchworks quickstart")
    columns = ("task", "metric", "value", "baseline", "time")  # bundle paths follow, one full line each
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns))
    console().print(table)
    for row in rows:
        typer.echo(f"bundle: {row['bundle']}")


@app.command()
def tasks() -> None:
    """List registered tasks and the modes each supports."""
    from torchworks.tasks import list_tasks

    for cls in list_tasks():
        typer.echo(f"{cls.name:<24} modes: {', '.join(cls.modes):<28} {cls.description}")


@data_app.command("list")
def data_list() -> None:
    """List bundled sample datasets (use them as data=NAME)."""
    from torchworks.datasets import list_samples

    for sample in list_samples():
        typer.echo(f"{sample.name:<14} {sample.task:<22} {sample.description} [{sample.source}]")


@data_app.command("make", context_settings={"ignore_unknown_options": True})
def data_make(
    name: str = typer.Argument(..., help="A sample with a generator, e.g. spoken-digits."),
    settings: Optional[list[str]] = typer.Argument(None, help="out=FOLDER and the generator's settings (n=3000 ...)."),
) -> None:
    """Generate a fresh copy of a sample dataset (for example more spoken digits)."""
    from torchworks.config import parse_overrides
    from torchworks.datasets import make_dataset

    typer.echo(f"dataset: {make_dataset(name, parse_overrides(settings or []))}")


def _print_metrics(metrics: dict) -> None:
    from torchworks.console import say

    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    say("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in scalars.items()))
    for name, values in (metrics.get("baselines") or {}).items():
        shared = {k: values[k] for k in scalars if isinstance(values.get(k), float)}
        say(f"baseline {name}: " + "  ".join(f"{k}={v:.4f}" for k, v in shared.items()))


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2."""
    try:
        app()  # standalone: usage errors print with usage and exit 2, Ctrl-C exits 1
    except TorchworksError as exc:
        typer.secho(f"error: {exc.render()}", err=True, fg="red")
        sys.exit(EXIT_USER_ERROR)
