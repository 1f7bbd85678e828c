"""``torchworks MODE ...``: turns arguments into engine calls and results into lines a person reads.

Heavy libraries (torch, Lightning, MLflow) are imported inside the commands, so ``--help`` is instant.
A :class:`~torchworks.errors.TorchworksError` is printed as one line and exits with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from torchworks.cli.arguments import (
    SETTINGS_CONTEXT,
    print_help,
    print_sections,
    run_task,
    split_settings,
    subject,
    wants_help,
    with_query,
)
from torchworks.cli.data import data_app
from torchworks.cli.help import (
    explain_help,
    mode_help,
    predict_help,
    quickstart_help,
    task_as_command,
    train_help,
)
from torchworks.cli.registry import REGISTRY_HELP, registry_app
from torchworks.cli.results import print_metrics
from torchworks.cli.runs import runs
from torchworks.errors import EXIT_USER_ERROR, TorchworksError

app = typer.Typer(
    name="torchworks",
    help="From data to a trained, evaluated model: torchworks MODE TASK key=value ...",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")
app.add_typer(registry_app, name="registry")
app.command(context_settings=SETTINGS_CONTEXT)(runs)

SETTINGS_HELP = "Settings as key=value (epochs=10 model=resnet18 ...); config=run.yaml loads a file."


@app.command(context_settings=SETTINGS_CONTEXT)
def train(
    ctx: typer.Context,
    task: str = typer.Argument(..., help="Task name (see `torchworks tasks`)."),
    settings: Optional[list[str]] = typer.Argument(None, help=SETTINGS_HELP),
) -> None:
    """Train a model and write its bundle under runs/<task>/<name>. `torchworks train TASK --help`
    lists the task's settings."""
    if wants_help([task, *(settings or [])]):
        print_help(ctx, train_help(subject([task, *(settings or [])])))
        return
    from torchworks.config import parse_overrides

    overrides = parse_overrides(settings or [])
    _check_training(task, overrides)
    from torchworks.engine.train import train as run_training

    result = run_training(task, overrides)
    print_metrics(result.metrics)
    typer.echo(f"bundle: {result.path}")


def _check_training(task_name: str, overrides: dict) -> None:
    """Settings, the task's own config check and the output folder, before Lightning or torch load.
    A resumed run takes its stored settings; train checks those itself."""
    from torchworks.config.loading import read_yaml_config
    from torchworks.tasks import get_task

    task = get_task(task_name)
    given = {**(read_yaml_config(overrides["config"]) if "config" in overrides else {}), **overrides}
    if str(given.get("resume", "")).strip().lower() in ("true", "1", "yes", "on"):
        return
    from torchworks.engine.runs import check_output_root
    from torchworks.engine.settings import task_config

    config = task_config(task, overrides)
    task.check_config(config)
    check_output_root(config.output)


@app.command()
def evaluate(run: Path = typer.Argument(..., help="A run folder, e.g. runs/image-classification/digits-smallcnn.")) -> None:
    """Re-evaluate a trained model on its test split; writes metrics.json, plots and report.html."""
    from torchworks.engine.evaluate import evaluate as run_evaluation

    result = run_evaluation(run)
    print_metrics(result.metrics)
    typer.echo(f"report: {result.path / 'report.html'}")


@app.command(context_settings=SETTINGS_CONTEXT)
def predict(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    arguments: Optional[list[str]] = typer.Argument(
        None, help="Inputs (files, folders, CSVs, or texts for text models), then settings: top_k=5, "
                   "bad_files=skip|fail and the run's prediction options (decoder=beam ...)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions to .csv, .json or "
                                          ".parquet (large tables stream into .parquet or .csv)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --output file."),
) -> None:
    """Predict with a trained model; prints JSON lines or writes CSV/JSON. `torchworks predict RUN
    --help` lists the settings, with the run's prediction options."""
    if wants_help([run, *(arguments or [])]):
        print_help(ctx, predict_help(subject([run, *(arguments or [])])))
        return
    from torchworks.config.modes import PredictSettings, mode_settings
    from torchworks.engine.predict import prediction_state
    from torchworks.engine.prediction_files import check_output_file

    inputs, settings = split_settings(arguments or [], legacy=True)
    bundle, task = run_task(run)
    inputs, settings = with_query(inputs, settings, task.query_options)
    chosen, options = mode_settings(PredictSettings, settings, mode="predict", extra=task.prediction_options)
    prediction_state(task, bundle, options)  # their values, against the task's config
    if not inputs:
        from torchworks.errors import DataError

        raise DataError("nothing to predict", expected="at least one input after the run folder",
                        got="settings only" if settings else "no inputs", hint="torchworks predict RUN image.png")
    if chosen.cluster is not None:
        _on_cluster(run, inputs, output, options, chosen)
        return
    if output is not None:
        check_output_file(output, force, task.companion_paths(output))
    import json
    import time

    from torchworks.engine.predict import Predictor, throughput

    predictor = Predictor(run)
    if output is not None and _streamed(predictor, inputs, output, options, chosen):
        return
    started = time.perf_counter()
    result = predictor.predict_all(inputs, top_k=chosen.top_k, batch_size=chosen.batch_size, options=options,
                                   bad_files=chosen.bad_files)
    typer.echo(throughput(result, time.perf_counter() - started), err=True)
    if result.bad:
        typer.secho(f"warning: {result.summary()}", err=True, fg="yellow")  # one line, never wrapped
    if output is None:
        for record in result.records:
            typer.echo(json.dumps(record))
        return
    written = predictor.write(result.records, output, options)
    errors = f", {len(result.bad)} with an error" if result.bad else ""
    typer.echo(f"predictions: {output} ({len(result.records)} records{errors})")
    for path in written[1:4]:
        typer.echo(f"also written: {path}")
    if len(written) > 4:
        typer.echo(f"also written: {len(written) - 4} more beside them in {written[-1].parent}")


def _on_cluster(run: str, inputs: list[str], output: Path | None, options: dict, chosen) -> None:
    """Score one Parquet dataset on a Dask cluster into a folder of parts."""
    from torchworks.engine.distributed import predict_on_cluster
    from torchworks.errors import ConfigError

    if output is None or len(inputs) != 1:
        raise ConfigError("cluster= scores one Parquet dataset into a folder", expected="one input and --output "
                          "FOLDER", got=f"{len(inputs)} inputs, --output {output or 'not given'}",
                          hint="torchworks predict RUN sales.parquet --output scores/ cluster=local:2")
    result = predict_on_cluster(run, inputs[0], output, chosen.cluster, options, chosen.batch_size)
    typer.echo(result.summary(), err=True)
    typer.echo(f"predictions: {output}/ ({result.rows:,} rows in {result.partitions} Parquet parts)")


def _streamed(predictor, inputs: list[str], output: Path, options: dict, chosen) -> bool:
    """Predict batch by batch straight into ``output`` when the task streams these inputs (a large table)."""
    from torchworks.engine.predict import prediction_state
    from torchworks.engine.prediction_stream import stream_predictions

    state = prediction_state(predictor.task, predictor.bundle, options)
    streamed = stream_predictions(predictor.task, predictor.model, state, list(inputs), output,
                                  chosen.batch_size or predictor.config.batch_size)
    if streamed is None:
        return False
    typer.echo(streamed.summary(), err=True)
    typer.echo(f"predictions: {output} ({streamed.rows:,} rows)")
    return True


@app.command(context_settings=SETTINGS_CONTEXT)
def explain(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    arguments: Optional[list[str]] = typer.Argument(
        None, help="Inputs (files, folders, CSVs, or texts for text models), then settings: method=NAME "
                   "target=LABEL and the method's options (steps=N ...)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="A new or empty folder for the results "
                                          "(default: RUN/explanations/TIMESTAMP)."),
) -> None:
    """Explain a trained model's answers: heat maps over images, token scores, lag and covariate
    attributions, saliency over spectrograms. Writes PNGs, explanations.json and explanation.html
    into a new folder (default: RUN/explanations/TIMESTAMP). `torchworks explain RUN --help` lists
    the run's methods and options."""
    if wants_help([run, *(arguments or [])]):
        print_help(ctx, explain_help(subject([run, *(arguments or [])])))
        return
    from torchworks.config.modes import ExplainSettings, mode_settings
    from torchworks.console import say
    from torchworks.engine.explain import check_explainable, check_output_folder, choose_method
    from torchworks.errors import DataError

    inputs, settings = split_settings(arguments or [])
    _, task = run_task(run)
    inputs, settings = with_query(inputs, settings, task.query_options)
    check_explainable(task)  # before its explain options are read: a task without the mode has none
    chosen, options = mode_settings(ExplainSettings, settings, mode="explain", extra=task.explain_options)
    choose_method(task, chosen.method)
    if not inputs:
        raise DataError("nothing to explain", expected="at least one input after the run folder",
                        got="settings only", hint="torchworks explain RUN image.png method=gradcam")
    if chosen.output is not None:
        typer.echo(f"warning: 'output={chosen.output}' is deprecated and will be removed in the next release; "
                   f"write --output {chosen.output}", err=True)
    folder = output or chosen.output
    if folder is not None:
        check_output_folder(folder.expanduser())
    from torchworks.engine.explain import explain as run_explain

    result = run_explain(run, inputs, method=chosen.method, target=chosen.target, output=folder, options=options)
    for record in result.records:
        shown = str(record.get("input", ""))
        figures = f" ({', '.join(record['figures'])})" if record.get("figures") else ""
        say(f"{shown[:60]}{'...' if len(shown) > 60 else ''}: "
            f"{record.get('summary') or 'explained ' + str(record.get('target'))}{figures}")
    if result.overview is not None:
        say(f"{result.overview['summary']} (000-overview-*.png)")
    typer.echo(f"explanations: {result.path}")


@app.command(context_settings=SETTINGS_CONTEXT)
def quickstart(
    ctx: typer.Context,
    task: Optional[str] = typer.Argument(None, help="One task; all tasks when omitted."),
    settings: Optional[list[str]] = typer.Argument(None, help="Overrides for the recipe, e.g. epochs=2."),
) -> None:
    """Run each task's built-in recipe on bundled data: train, evaluate, report. `torchworks quickstart
    TASK --help` lists the recipe and every setting it takes."""
    if wants_help([task or "", *(settings or [])]):
        print_help(ctx, quickstart_help(subject([task or "", *(settings or [])]) or None))
        return
    from torchworks.cli.results import print_quickstart
    from torchworks.config import parse_overrides
    from torchworks.engine.quickstart import quickstart as run_quickstart
    from torchworks.engine.quickstart import summary_rows

    print_quickstart(summary_rows(run_quickstart(task, parse_overrides(settings or []))))


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
    from torchworks.server.settings import ServeSettings
    from torchworks.server.startup import read_api_keys
    from torchworks.server.startup import serve as run_server

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


@app.command(context_settings=SETTINGS_CONTEXT)
def export(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    settings: Optional[list[str]] = typer.Argument(None, help="format=onnx tolerance=0.01 threads=0 "
                                                   "(see --help)."),
) -> None:
    """Export a trained model (ONNX, TorchScript, int8) into its bundle's exports/ folder; each export is
    re-evaluated on the test split (parity gate) and kept only if it passes. Every outcome (passed, failed,
    skipped, and why) is recorded in bundle.json. Exits 0 when at least one export passed and every format
    named on its own did (format=all and format=int8 may leave some out)."""
    from torchworks.config.modes import ExportSettings

    if wants_help([run, *(settings or [])]):
        print_help(ctx, mode_help("Export settings", ExportSettings))
        return
    chosen = _run_settings(run, ExportSettings, "export", settings, "format")
    from torchworks.engine.export import check_results, summary_lines
    from torchworks.engine.export import export as run_export

    results = run_export(run, chosen.format, tolerance=chosen.tolerance, threads=chosen.threads,
                         on_result=lambda result: typer.echo(f"export {result.describe()}"))
    if len(results) > 1:
        typer.echo("\n".join(["", *summary_lines(results)]))
    check_results(results, chosen.format)
    kept = [result for result in results if result.passed]
    typer.echo(f"exports: {kept[0].path.parent} ({', '.join(r.format for r in kept)})")


def _run_settings(run: str, settings_class, mode: str, settings: list[str] | None, formats: str):
    """A mode's ``key=value`` settings validated, its formats known and the run readable, before torch."""
    from torchworks.bundle.exports import expand_formats
    from torchworks.bundle.io import read_bundle
    from torchworks.config import parse_overrides
    from torchworks.config.modes import mode_settings

    chosen, _ = mode_settings(settings_class, parse_overrides(settings or []), mode=mode)
    expand_formats(getattr(chosen, formats))
    read_bundle(run)
    return chosen


@app.command(context_settings=SETTINGS_CONTEXT)
def benchmark(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    settings: Optional[list[str]] = typer.Argument(None, help="formats=all threads=2 seconds=2 export=true "
                                                   "(see --help)."),
) -> None:
    """Latency (batch 1 and 32), throughput, size and test metric of the eager model against its exports."""
    from torchworks.config.modes import BenchmarkSettings

    if wants_help([run, *(settings or [])]):
        print_help(ctx, mode_help("Benchmark settings", BenchmarkSettings))
        return
    chosen = _run_settings(run, BenchmarkSettings, "benchmark", settings, "formats")
    from torchworks.engine.benchmark import benchmark as run_benchmark
    from torchworks.engine.benchmark import markdown_table

    result = run_benchmark(run, formats=chosen.formats, threads=chosen.threads, seconds=chosen.seconds,
                           make_exports=chosen.export,
                           on_row=lambda row: typer.echo(f"measured {row['format']}" if "b1_p50_ms" in row else
                                                         f"not measured {row['format']}: {row['status']}"
                                                         f" ({row.get('reason', '')})", err=True))
    typer.echo(markdown_table(result.rows, result.settings["metric"]))
    typer.echo(f"benchmark: {result.path} (and {result.path.with_suffix('.html').name})")


@app.command()
def tasks() -> None:
    """List registered tasks and the modes each supports."""
    from torchworks.tasks import list_tasks

    for cls in list_tasks():
        typer.echo(f"{cls.name:<24} modes: {', '.join(cls.modes):<42} {cls.description}")


@app.command(context_settings=SETTINGS_CONTEXT)
def settings(
    task: Optional[str] = typer.Argument(None, help="A task (see `torchworks tasks`); without one, the settings "
                                         "every task shares."),
) -> None:
    """List a task's settings (key=default, type or choices, meaning), grouped into data, model, training,
    predictions and run."""
    print_sections(train_help(None if task in (None, "--help") else task))


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2."""
    try:
        if not task_as_command(sys.argv[1:], {command.name for command in app.registered_commands}):
            app()  # standalone: usage errors print with usage and exit 2, Ctrl-C exits 1
    except TorchworksError as exc:
        typer.secho(f"error: {exc.render()}", err=True, fg="red")
        sys.exit(EXIT_USER_ERROR)
