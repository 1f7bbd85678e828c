"""``torchworks MODE ...``: turns arguments into engine calls and results into lines a person reads.

Heavy libraries (torch, Lightning, MLflow) are imported inside the commands, so ``--help`` is instant.
A :class:`~torchworks.errors.TorchworksError` is printed as one line and exits with code 2.
"""

from __future__ import annotations

import re
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
registry_app = typer.Typer(help="Versioned models with aliases (production, staging...).", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
REGISTRY_HELP = "sqlite:///PATH.db (MLflow) or dir:PATH; default $TORCHWORKS_REGISTRY or sqlite:///runs/mlflow.db."

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


@app.command(context_settings={"ignore_unknown_options": True})
def explain(
    run: Path = typer.Argument(..., help="A run folder."),
    arguments: list[str] = typer.Argument(..., help="Inputs (files, folders, CSVs, or texts for text models), "
                                          "then settings: method=NAME target=LABEL output=DIR steps=N ..."),
) -> None:
    """Explain a trained model's answers: heat maps over images, token scores, lag and covariate
    attributions, saliency over spectrograms. Writes PNGs, explanations.json and explanation.html
    into a new folder (default: RUN/explanations/TIMESTAMP)."""
    from torchworks.console import say
    from torchworks.engine.explain import explain as run_explain

    inputs, settings = _split_settings(arguments)
    if not inputs:
        from torchworks.errors import DataError

        raise DataError("nothing to explain", expected="at least one input after the run folder",
                        got="settings only", hint="torchworks explain RUN image.png method=gradcam")
    result = run_explain(run, inputs, method=settings.pop("method", None), target=settings.pop("target", None),
                         output=settings.pop("output", None), options=settings)
    for record in result.records:
        shown = str(record.get("input", ""))
        figures = f" ({', '.join(record['figures'])})" if record.get("figures") else ""
        say(f"{shown[:60]}{'...' if len(shown) > 60 else ''}: "
            f"{record.get('summary') or 'explained ' + str(record.get('target'))}{figures}")
    typer.echo(f"explanations: {result.path}")


_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*=")


def _split_settings(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """``["a.png", "method=saliency"]`` -> inputs and settings: an argument that starts with a
    name and ``=`` is a setting (a text with such a start can go in a .txt file instead)."""
    from torchworks.config import parse_overrides

    settings = [item for item in arguments if _SETTING.match(item)]
    return [item for item in arguments if not _SETTING.match(item)], parse_overrides(settings)


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
def serve(
    models: list[str] = typer.Argument(..., help="Run folders, NAME=RUN, or registry:NAME@ALIAS / registry:NAME/VERSION."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; other than loopback needs --api-key-file."),
    port: int = typer.Option(8080, help="TCP port (0: any free port)."),
    backend: Optional[list[str]] = typer.Option(None, help="auto (the ONNX export when it passed its parity gate, else "
                                                "eager), eager, torchscript, onnx, onnx-int8 or torchscript-int8; "
                                                "NAME=onnx for one model. Repeatable."),
    max_batch: int = typer.Option(32, help="Most inputs per model call."),
    max_wait_ms: float = typer.Option(2.0, help="How long a batch waits to fill up."),
    queue_size: int = typer.Option(256, help="Requests waiting per model before 503."),
    timeout_s: float = typer.Option(30.0, "--timeout-s", help="Per-request deadline (504 after it)."),
    max_body_mb: float = typer.Option(16.0, help="Largest request body (413 above)."),
    max_inputs: int = typer.Option(256, help="Most inputs per request (413 above)."),
    max_explain_inputs: int = typer.Option(8, help="Most inputs per explain request (413 above)."),
    threads: int = typer.Option(0, help="Inference threads (0: all cores)."),
    api_key_file: Optional[Path] = typer.Option(None, help="File of accepted bearer keys, one per line."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback bind without keys."),
    allowed_host: Optional[list[str]] = typer.Option(None, help="Extra Host header names to accept."),
    drain_s: float = typer.Option(30.0, help="Seconds in-flight requests get to finish on SIGTERM."),
    drain_delay_s: float = typer.Option(1.0, "--drain-delay-s", help="On SIGTERM, seconds the server keeps "
                                        "answering while /readyz says 503, before it stops accepting (set it to "
                                        "the load balancer's probe period). A second SIGTERM or Ctrl-C skips it."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Serve models over HTTP: REST API with dynamic batching, Prometheus metrics, a web page at /ui."""
    from torchworks.config.loading import resolve_config
    from torchworks.server.startup import read_api_keys, serve as run_server
    from torchworks.server.settings import ServeSettings

    keys = read_api_keys(api_key_file) if api_key_file else ()
    per_model = dict(item.split("=", 1) for item in backend or [] if "=" in item)
    overall = [item for item in backend or [] if "=" not in item]
    settings = resolve_config(ServeSettings, {
        "host": host, "port": port, "backend": overall[-1] if overall else "auto", "backends": per_model,
        "max_batch": max_batch, "max_wait_ms": max_wait_ms, "queue_size": queue_size, "timeout_s": timeout_s,
        "max_body_mb": max_body_mb, "max_inputs": max_inputs,
        "max_explain_inputs": max_explain_inputs, "threads": threads, "api_keys": keys,
        "insecure": insecure, "allowed_hosts": tuple(allowed_host or ()), "drain_s": drain_s,
        "drain_delay_s": drain_delay_s})
    run_server(models, settings, announce=typer.echo, registry=registry)


@app.command(context_settings={"ignore_unknown_options": True})
def export(
    run: Path = typer.Argument(..., help="A run folder."),
    settings: Optional[list[str]] = typer.Argument(
        None, help="format=onnx|torchscript|onnx-int8|torchscript-int8|int8|all (or a comma list); "
                   "tolerance=0.01 (largest metric drop the parity gate accepts); threads=N."),
) -> None:
    """Export a trained model (ONNX, TorchScript, int8) into its bundle; each export is re-evaluated on the
    test split (parity gate) and recorded in bundle.json."""
    from torchworks.engine.export import export as run_export

    options = _mode_settings("export", settings, ["format", "tolerance", "threads"])
    tolerance, threads = _number(options, "tolerance", 0.01, float), _number(options, "threads", 0, int)
    results = run_export(run, str(options.get("format", "onnx")), tolerance=tolerance, threads=threads,
                         on_result=lambda result: typer.echo(f"export {result.describe()}"))
    failed = [result for result in results if not result.passed]
    if failed:
        from torchworks.errors import BundleError

        worst = failed[0].entry["parity"]
        raise BundleError(f"{', '.join(r.format for r in failed)} failed the parity gate and will not be served",
                          expected=f"{worst['metric']} within {worst['tolerance']:g} of eager ({worst['eager']:.4f})",
                          got=f"{worst['export']:.4f}",
                          hint="serve the float exports; or, if the drop is acceptable, export again with a "
                               "larger tolerance=")
    typer.echo(f"exports: {results[-1].path.parent}")


def _mode_settings(mode: str, settings: list[str] | None, known: list[str]) -> dict:
    """``key=value`` settings of a mode that takes only ``known`` keys (did-you-mean on any other)."""
    from torchworks.config import parse_overrides
    from torchworks.errors import ConfigError, did_you_mean

    options = parse_overrides(settings or [])
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"unknown {mode} setting '{unknown[0]}'", expected=" ".join(f"{k}=..." for k in known),
                          got=unknown[0], hint=did_you_mean(unknown[0], known))
    return options


def _number(options: dict, key: str, default, kind):
    from torchworks.errors import ConfigError

    value = options.get(key, default)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"'{key}' must be a number", expected=f"{key}={default}", got=repr(value),
                          hint=f"for example {key}={default}") from None


@app.command(context_settings={"ignore_unknown_options": True})
def benchmark(
    run: Path = typer.Argument(..., help="A run folder."),
    settings: Optional[list[str]] = typer.Argument(
        None, help="formats=all (or onnx,int8,...); threads=2; seconds=2 (per measurement); export=yes|no "
                   "(export missing formats first)."),
) -> None:
    """Latency (batch 1 and 32), throughput, size and test metric of the eager model against its exports."""
    from torchworks.engine.benchmark import benchmark as run_benchmark
    from torchworks.engine.benchmark import markdown_table
    from torchworks.errors import ConfigError

    options = _mode_settings("benchmark", settings, ["formats", "threads", "seconds", "export"])
    make = str(options.get("export", "yes")).lower()
    if make not in ("yes", "no", "true", "false"):
        raise ConfigError("'export' must be yes or no", expected="export=yes or export=no", got=make,
                          hint="export=no measures only the exports the run already has")
    result = run_benchmark(run, formats=str(options.get("formats", "all")), threads=_number(options, "threads", 2, int),
                           seconds=_number(options, "seconds", 2.0, float), make_exports=make in ("yes", "true"),
                           on_row=lambda row: typer.echo(f"measured {row['format']}", err=True))
    typer.echo(markdown_table(result.rows, result.settings["metric"]))
    typer.echo(f"benchmark: {result.path} (and {result.path.with_suffix('.html').name})")


@registry_app.command("add")
def registry_add(
    run: Path = typer.Argument(..., help="A run folder, or a .tar.gz/.zip of one."),
    name: str = typer.Option(..., "--name", help="The registered model's name, e.g. tickets."),
    alias: Optional[str] = typer.Option(None, help="Also point this alias at the new version."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Register a copy of a bundle as the next version of NAME."""
    from torchworks.registry import open_registry

    store = open_registry(registry)
    version = store.add(run, name)
    if alias:
        version = store.promote(name, version.version, alias)
    typer.echo(f"registered {name} version {version.version}{' as ' + alias if alias else ''} in {store.location}")


@registry_app.command("list")
def registry_list(
    name: Optional[str] = typer.Argument(None, help="A model: list its versions."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Registered models, or the versions of one."""
    from torchworks.registry import open_registry

    store = open_registry(registry)
    if name is None:
        for known in store.names():
            versions = store.versions(known)
            aliases = ", ".join(f"{a}={v.version}" for v in versions for a in v.aliases)
            typer.echo(f"{known:<24} {len(versions)} versions  {aliases}")
        return
    store.get(name)  # a clear error when there is no such model
    for version in store.versions(name):
        metrics = version.lineage.get("metrics", {})
        shown = "  ".join(f"{k}={v:.4f}" for k, v in list(metrics.items())[:3])
        typer.echo(f"{version.version:>4}  {','.join(version.aliases) or '-':<20} {version.lineage.get('task', '?'):<20} "
                   f"{shown}  run={version.lineage.get('run_name', '?')}")


@registry_app.command("promote")
def registry_promote(
    name: str = typer.Argument(..., help="The registered model."),
    version: int = typer.Argument(..., help="The version to promote."),
    alias: str = typer.Option(..., help="The alias to point at it, e.g. production."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Point ALIAS at VERSION (serve registry:NAME@ALIAS picks it up on its next start)."""
    from torchworks.registry import open_registry

    open_registry(registry).promote(name, version, alias)
    typer.echo(f"{name}@{alias} -> version {version}")


@registry_app.command("rollback")
def registry_rollback(
    name: str = typer.Argument(..., help="The registered model."),
    alias: str = typer.Option(..., help="The alias to move back, e.g. production."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Point ALIAS back at the version it named before its last promotion."""
    from torchworks.registry import open_registry

    version = open_registry(registry).rollback(name, alias)
    typer.echo(f"{name}@{alias} -> version {version.version}")


@app.command()
def tasks() -> None:
    """List registered tasks and the modes each supports."""
    from torchworks.tasks import list_tasks

    for cls in list_tasks():
        typer.echo(f"{cls.name:<24} modes: {', '.join(cls.modes):<42} {cls.description}")


@data_app.command("list")
def data_list() -> None:
    """List bundled sample datasets (use them as data=NAME)."""
    from torchworks.engine.catalog import list_samples

    for sample in list_samples():
        typer.echo(f"{sample.name:<14} {sample.task:<22} {sample.description} [{sample.source}]")


@data_app.command("make", context_settings={"ignore_unknown_options": True})
def data_make(
    name: str = typer.Argument(..., help="A sample with a generator, e.g. spoken-digits."),
    settings: Optional[list[str]] = typer.Argument(None, help="out=FOLDER and the generator's settings (n=3000 ...)."),
) -> None:
    """Generate a fresh copy of a sample dataset (for example more spoken digits)."""
    from torchworks.config import parse_overrides
    from torchworks.engine.catalog import make_dataset

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
