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
# Modes whose settings are key=value arguments: unknown options and --help reach the command, which
# prints help generated from its typed settings (and the task's or run's own).
SETTINGS_CONTEXT = {"ignore_unknown_options": True, "help_option_names": []}
HELP = "--help"
SETTING_NOTE = ("An argument that starts with NAME= is a setting; a text input of that shape goes in a "
                ".txt or .csv file instead.")


@app.command(context_settings=SETTINGS_CONTEXT)
def train(
    ctx: typer.Context,
    task: str = typer.Argument(..., help="Task name (see `torchworks tasks`)."),
    settings: Optional[list[str]] = typer.Argument(None, help=SETTINGS_HELP),
) -> None:
    """Train a model and write its bundle under runs/<task>/<name>. `torchworks train TASK --help`
    lists the task's settings."""
    if _wants_help([task, *(settings or [])]):
        _print_help(ctx, _train_help(_subject([task, *(settings or [])])))
        return
    from torchworks.config import parse_overrides

    overrides = parse_overrides(settings or [])
    _check_training(task, overrides)
    from torchworks.engine.train import train as run_training

    result = run_training(task, overrides)
    _print_metrics(result.metrics)
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


def _train_help(task_name: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import settings_help
    from torchworks.config.schema import TrainConfig

    common = list(TrainConfig.model_fields)
    if task_name is None:
        return [("Settings of every task (key=value; config=FILE.yaml reads them from a file):",
                 settings_help(TrainConfig)),
                ("Each task adds its own: torchworks train TASK --help (tasks: torchworks tasks).", [])]
    from torchworks.tasks import get_task

    task = get_task(task_name)
    own = [name for name in task.config_class.model_fields if name not in common]
    return [(f"Settings of {task.name} (key=value; config=FILE.yaml reads them from a file):",
             settings_help(task.config_class, names=own)),
            ("Settings of every task:", settings_help(task.config_class, names=common))]


@app.command()
def evaluate(run: Path = typer.Argument(..., help="A run folder, e.g. runs/image-classification/digits-smallcnn.")) -> None:
    """Re-evaluate a trained model on its test split; writes metrics.json, plots and report.html."""
    from torchworks.engine.evaluate import evaluate as run_evaluation

    result = run_evaluation(run)
    _print_metrics(result.metrics)
    typer.echo(f"report: {result.path / 'report.html'}")


@app.command(context_settings=SETTINGS_CONTEXT)
def predict(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    arguments: Optional[list[str]] = typer.Argument(
        None, help="Inputs (files, folders, CSVs, or texts for text models), then settings: top_k=5 and the "
                   "run's prediction options (decoder=beam ...)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions to .csv or .json."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --output file."),
) -> None:
    """Predict with a trained model; prints JSON lines or writes CSV/JSON. `torchworks predict RUN
    --help` lists the settings, with the run's prediction options."""
    if _wants_help([run, *(arguments or [])]):
        _print_help(ctx, _predict_help(_subject([run, *(arguments or [])])))
        return
    from torchworks.config.modes import PredictSettings, mode_settings
    from torchworks.engine.predict import check_output_file, prediction_state

    inputs, settings = _split_settings(arguments or [], legacy=True)
    bundle, task = _run_task(run)
    chosen, options = mode_settings(PredictSettings, settings, mode="predict", extra=task.prediction_options)
    prediction_state(task, bundle, options)  # their values, against the task's config
    if not inputs:
        from torchworks.errors import DataError

        raise DataError("nothing to predict", expected="at least one input after the run folder",
                        got="settings only" if settings else "no inputs", hint="torchworks predict RUN image.png")
    if output is not None:
        check_output_file(output, force)
    import json

    from torchworks.engine.predict import Predictor, write_predictions

    records = Predictor(run).predict(inputs, top_k=chosen.top_k, batch_size=chosen.batch_size, options=options)
    if output is None:
        for record in records:
            typer.echo(json.dumps(record))
        return
    write_predictions(records, output)
    typer.echo(f"predictions: {output} ({len(records)} rows)")


def _predict_help(run: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import PredictSettings, settings_help

    sections = [("Predict settings (key=value):", settings_help(PredictSettings))]
    if run is None:
        return [*sections, ("torchworks predict RUN --help adds the run's prediction options.", []),
                (SETTING_NOTE, [])]
    bundle, task = _run_task(run)
    options = settings_help(task.config_class, names=task.prediction_options, values=bundle.config)
    title = (f"Prediction options of this {task.name} run (current values):" if options
             else f"This {task.name} run has no prediction options.")
    return [*sections, (title, options), (SETTING_NOTE, [])]


def _run_task(run: str):
    """The bundle at ``run`` and its task, read without loading the model (no torch)."""
    from torchworks.bundle.io import read_bundle
    from torchworks.tasks import get_task

    bundle = read_bundle(run)
    return bundle, get_task(bundle.task)


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
    if _wants_help([run, *(arguments or [])]):
        _print_help(ctx, _explain_help(_subject([run, *(arguments or [])])))
        return
    from torchworks.config.modes import ExplainSettings, mode_settings
    from torchworks.console import say
    from torchworks.engine.explain import check_output_folder, choose_method
    from torchworks.errors import DataError

    inputs, settings = _split_settings(arguments or [])
    _, task = _run_task(run)
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
    typer.echo(f"explanations: {result.path}")


def _explain_help(run: str | None) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import ExplainSettings, settings_help

    sections = [("Explain settings (key=value):", settings_help(ExplainSettings))]
    if run is None:
        return [*sections, ("torchworks explain RUN --help adds the run's methods and their options.", []),
                (SETTING_NOTE, [])]
    _, task = _run_task(run)
    methods = ", ".join(task.explain_methods) or "none (this task cannot explain)"
    options = ", ".join(f"{name}=..." for name in task.explain_options) or "none"
    return [*sections, (f"Methods of {task.name} (the first is the default): {methods}", []),
            (f"Options of its methods: {options}", []), (SETTING_NOTE, [])]


_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*=")


def _split_settings(arguments: list[str], legacy: bool = False) -> tuple[list[str], dict[str, str]]:
    """``["a.png", "method=saliency"]`` -> inputs and settings: an argument that starts with a
    name and ``=`` is a setting (a text with such a start can go in a .txt file instead).

    With ``legacy``, the old ``--key value`` / ``--key=value`` spelling is read as ``key=value``
    with a one-line deprecation warning on stderr.
    """
    from torchworks.config import parse_overrides

    inputs, settings = [], []
    items = iter(arguments)
    for item in items:
        if legacy and item.startswith("--") and len(item) > 2:
            key, sep, value = item[2:].partition("=")
            value = value if sep else next(items, "")
            setting = f"{key.replace('-', '_')}={value}"
            typer.echo(f"warning: '{item}{'' if sep else ' ' + value}' is deprecated and will be removed in the next "
                       f"release; write {setting}", err=True)
            settings.append(setting)
        elif _SETTING.match(item):
            settings.append(item)
        else:
            inputs.append(item)
    return inputs, parse_overrides(settings)


def _wants_help(arguments: list[str]) -> bool:
    return HELP in arguments


def _subject(arguments: list[str]) -> str | None:
    """The TASK or RUN a ``--help`` is about (it may come before or after it); None when none is given."""
    return next((item for item in arguments if item != HELP and not _SETTING.match(item)), None)


def _print_help(ctx: typer.Context, sections: list[tuple[str, list[str]]]) -> None:
    """The command's usage and description, then each section of generated setting lines."""
    typer.echo(ctx.get_help())
    for title, lines in sections:
        typer.echo("")
        typer.echo(title)
        for line in lines:
            typer.echo(line)


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


@app.command(context_settings=SETTINGS_CONTEXT)
def export(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    settings: Optional[list[str]] = typer.Argument(None, help="format=onnx tolerance=0.01 threads=0 "
                                                   "(see --help)."),
) -> None:
    """Export a trained model (ONNX, TorchScript, int8) into its bundle; each export is re-evaluated on the
    test split (parity gate) and recorded in bundle.json."""
    from torchworks.config.modes import ExportSettings

    if _wants_help([run, *(settings or [])]):
        _print_help(ctx, _mode_help("Export settings", ExportSettings))
        return
    chosen = _run_settings(run, ExportSettings, "export", settings, "format")
    from torchworks.engine.export import export as run_export

    results = run_export(run, chosen.format, tolerance=chosen.tolerance, threads=chosen.threads,
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


def _mode_help(title: str, settings_class) -> list[tuple[str, list[str]]]:
    from torchworks.config.modes import settings_help

    return [(f"{title} (key=value; config=FILE.yaml reads them from a file):", settings_help(settings_class))]


@app.command(context_settings=SETTINGS_CONTEXT)
def benchmark(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A run folder."),
    settings: Optional[list[str]] = typer.Argument(None, help="formats=all threads=2 seconds=2 export=true "
                                                   "(see --help)."),
) -> None:
    """Latency (batch 1 and 32), throughput, size and test metric of the eager model against its exports."""
    from torchworks.config.modes import BenchmarkSettings

    if _wants_help([run, *(settings or [])]):
        _print_help(ctx, _mode_help("Benchmark settings", BenchmarkSettings))
        return
    chosen = _run_settings(run, BenchmarkSettings, "benchmark", settings, "formats")
    from torchworks.engine.benchmark import benchmark as run_benchmark
    from torchworks.engine.benchmark import markdown_table

    result = run_benchmark(run, formats=chosen.formats, threads=chosen.threads, seconds=chosen.seconds,
                           make_exports=chosen.export,
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
