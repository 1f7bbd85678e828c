"""The ``train`` mode: config -> validated data -> Lightning fit -> test evaluation -> bundle."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchworks.console import say
from torchworks.errors import TrainingError
from torchworks.tasks import get_task


@dataclass
class RunResult:
    """A finished run: where its bundle is and what it scored."""

    task: str
    path: Path
    metrics: dict[str, Any]
    seconds: float

    def __repr__(self) -> str:
        return f"RunResult(task={self.task!r}, path='{self.path}', seconds={self.seconds:.1f})"


def train(task_name: str, settings: dict[str, Any]) -> RunResult:
    """Train a model for ``task_name`` and write its bundle. See :class:`TrainConfig` for settings."""
    import lightning.pytorch as pl

    from torchworks.engine.callbacks import quiet_lightning
    from torchworks.engine.runs import check_output_root
    from torchworks.engine.settings import apply_data_choices, config_as_dict, task_config

    started = time.perf_counter()
    quiet_lightning()
    task = get_task(task_name)
    settings = _with_stored_settings(task, settings)
    config = task_config(task, settings)
    task.check_config(config)
    task_root = check_output_root(config.output) / task.name
    run_dir, checkpoint = _run_folder(task, task_root, config, settings)
    if checkpoint is not None:
        config = _stored_config(task, run_dir, settings)
    config_dict = config_as_dict(config)
    _announce(task.name, run_dir, config_dict)
    if checkpoint is not None:
        _announce_resume(run_dir, checkpoint, config.epochs)
    try:
        pl.seed_everything(config.seed, workers=True, verbose=False)
        data = task.prepare_data(config)
        _typed_state(task, data.state)  # a state that does not fit the task's model fails now, not after fitting
        config = apply_data_choices(task, config, data)
        config_dict = config_as_dict(config)
        model = task.build_model(config, data.state, for_training=True)
        baselines = task.baselines(data, config) if config.baselines else {}
        data.baselines = baselines
        history, logger, hardware = _fit(task, model, data, config, run_dir, checkpoint, config_dict)
        _write_bundle(task, model, data, config_dict, baselines, history, hardware, run_dir, logger)
        _prune_checkpoints(run_dir, config.keep_checkpoints)
    except BaseException as exc:
        _discard_unresumable(run_dir)
        if _is_oom(exc):
            raise _as_user_error(exc) from None
        raise
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return RunResult(task.name, run_dir, metrics, time.perf_counter() - started)


def _run_folder(task, task_root: Path, config, settings: dict[str, Any]) -> tuple[Path, Path | None]:
    from torchworks.engine.runs import CHECKPOINTS, default_run_name, new_run_dir, resumable_run_dir

    if config.resume:
        run_dir = resumable_run_dir(task_root, config.name)
        return run_dir, run_dir / CHECKPOINTS / "last.ckpt"
    name = config.name or default_run_name(config.data, getattr(config, "model", None))
    run_dir = new_run_dir(task_root, name)
    (run_dir / "config.json").write_text(json.dumps({"settings": {k: str(v) for k, v in settings.items()}}))
    return run_dir, None


def _with_stored_settings(task, settings: dict[str, Any]) -> dict[str, Any]:
    """resume=true: the run's stored settings under the ones given now, so `resume=true name=RUN`
    needs nothing else (data=, model=... come from the run's config.json)."""
    from torchworks.config.loading import read_yaml_config
    from torchworks.engine.runs import resumable_run_dir

    given = {**(read_yaml_config(settings["config"]) if "config" in settings else {}), **settings}
    if str(given.get("resume", "")).strip().lower() not in ("true", "1", "yes", "on"):
        return settings
    name = given.get("name")
    run_dir = resumable_run_dir(Path(given.get("output", "runs")) / task.name, str(name) if name else None)
    stored = json.loads((run_dir / "config.json").read_text())["settings"]
    return {**stored, **settings, "name": run_dir.name}


def _stored_config(task, run_dir: Path, settings: dict[str, Any]):
    """On resume: the run's own settings, with anything given now (say, more epochs) on top."""
    from torchworks.engine.settings import task_config

    stored = json.loads((run_dir / "config.json").read_text())["settings"]
    fresh = {k: v for k, v in settings.items() if k not in ("resume", "name", "config")}
    return task_config(task, {**stored, **fresh, "resume": True, "name": run_dir.name})


def _announce(task_name: str, run_dir: Path, config: dict[str, Any]) -> None:
    from rich.markup import escape

    say(f"[bold]torchworks train {task_name}[/bold] -> {run_dir}")
    # unset values (None) are left out: what the data decides for them is said once it is read
    shown = " ".join(f"{k}={v}" for k, v in config.items() if v is not None)
    say("[dim]config: " + escape(shown) + "[/dim]")


def _announce_resume(run_dir: Path, checkpoint: Path, epochs: int) -> None:
    """``resuming run X at epoch 4 of 10 (3 done, from checkpoints/last.ckpt)``."""
    from torchworks.engine.checkpointing import epochs_done

    done = epochs_done(checkpoint)
    source = checkpoint.relative_to(run_dir)
    if done is None:
        say(f"resuming run {run_dir.name} from {source}")
    elif done >= epochs:
        say(f"resuming run {run_dir.name}: all {epochs} epochs are done ({source}); writing its bundle")
    else:
        say(f"resuming run {run_dir.name} at epoch {done + 1} of {epochs} ({done} done, from {source})")


def _fit(task, model, data, config, run_dir: Path, checkpoint: Path | None, config_dict: dict[str, Any]):
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping

    from torchworks.engine.averaging import ExponentialAverage
    from torchworks.engine.callbacks import HistoryRecorder, training_progress
    from torchworks.engine.checkpointing import RunCheckpoint, SafeCheckpointIO
    from torchworks.engine.devices import resolve_accelerator, resolve_precision, supported_precision
    from torchworks.engine.module import TaskDataModule, TaskModule
    from torchworks.engine.reproducibility import EpochSeeder
    from torchworks.engine.runs import CHECKPOINTS
    from torchworks.engine.time_budget import TimeBudget
    from torchworks.engine.tracking import make_logger

    checkpoints = run_dir / CHECKPOINTS
    datamodule = TaskDataModule(task, data, config)
    module = TaskModule(task, model, config, data.state)
    history = HistoryRecorder()
    watched, direction = task.monitor
    callbacks = [
        RunCheckpoint(checkpoints, monitor=watched, mode=direction),  # last.ckpt every epoch, best.ckpt linked
        EpochSeeder(datamodule.sampler, config.seed),
        history,
        *task.training_callbacks(config),
    ]
    if config.ema:
        callbacks.append(ExponentialAverage(config.ema))
    if config.max_minutes:
        callbacks.append(TimeBudget(config.max_minutes, config.epochs))
    if config.patience:
        callbacks.append(EarlyStopping(monitor=watched, mode=direction, patience=config.patience))
    if config.progress:
        callbacks.append(training_progress())
    accelerator = resolve_accelerator(config.device)
    precision = resolve_precision(config.precision, accelerator)
    # the probe runs the model once on the first validation batch's inputs (a labelled batch is (inputs, targets))
    precision = supported_precision(precision, accelerator, model, lambda: next(iter(datamodule.val_dataloader()))[0])
    say(f"[dim]device={accelerator} precision={precision}[/dim]")
    logger = make_logger(task.name, run_dir, config.output, config_dict) if config.mlflow else False
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_epochs=config.epochs,
        logger=logger,
        callbacks=callbacks,
        plugins=[SafeCheckpointIO(checkpoints)],
        gradient_clip_val=config.grad_clip or None,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        default_root_dir=run_dir,
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    _restore_best(module, checkpoints / "best.ckpt", SafeCheckpointIO(checkpoints))
    return history.history, logger, {"accelerator": accelerator, "precision": precision}


def _prune_checkpoints(run_dir: Path, keep: str) -> None:
    """Once the bundle is written: keep only the checkpoints ``keep_checkpoints`` asks for.

    A finished run cannot be resumed, and its bundle holds the best weights, so by default
    (``none``) the folder goes; ``last``/``best`` keep one file (with optimizer state, for
    fine-tuning elsewhere), ``all`` keeps both.
    """
    from torchworks.engine.checkpointing import BEST, LAST
    from torchworks.engine.runs import CHECKPOINTS

    folder = run_dir / CHECKPOINTS
    wanted = {"none": set(), "last": {LAST}, "best": {BEST}, "all": {LAST, BEST}}[keep]
    if not folder.is_dir():
        return
    try:
        if not wanted:
            shutil.rmtree(folder)
            return
        for item in folder.iterdir():
            if item.name not in wanted:
                item.unlink()
    except OSError as exc:  # the run is finished; a checkpoint that cannot be removed is only disk space
        say(f"[yellow]warning:[/yellow] could not remove old checkpoints in {folder}: {exc.strerror or exc}")


def _restore_best(module, best: Path, io) -> None:
    """Keep the weights of the best epoch by the task's monitored value, as the bundle's model."""
    if best.is_file():
        module.load_state_dict(io.load_checkpoint(best)["state_dict"])


def _write_bundle(task, model, data, config_dict, baselines, history, hardware, run_dir: Path, logger) -> None:
    from torchworks.bundle.io import save_files, save_state_files, save_weights, split_state, write_manifest
    from torchworks.engine.outputs import evaluate_on_test, write_run_outputs
    from torchworks.engine.tracking import log_results
    from torchworks.engine.verdict import run_verdict

    model.cpu()
    config = task.config_class.model_validate(config_dict)
    task.calibrate(model.eval(), data, config)  # thresholds and score distributions, before the test sees them
    evaluation = evaluate_on_test(task, model, data, config, latency=True)
    files = task.bundle_files(model.eval(), data.state, config)  # may record what it measured in the state
    state = _typed_state(task, data.state)
    state["state"], state_files = split_state(state["state"], getattr(task.state_class, "file_fields", ()))
    verdict = run_verdict(task, config, evaluation.metrics, baselines)
    metrics = {**evaluation.metrics, "baselines": baselines, "verdict": verdict.as_dict(), "speed": evaluation.speed}
    write_run_outputs(run_dir, task, config_dict, evaluation, metrics, history, data.summary,
                      headline=verdict.headline())
    weights = save_weights(run_dir, model)
    write_manifest(
        run_dir,
        {
            "task": task.name,
            "name": run_dir.name,
            "config": config_dict,
            **state,
            "weights": weights,
            "files": save_files(run_dir, files),
            "state_files": save_state_files(run_dir, state_files),
            "metrics": metrics,
            "history": history,
            "training": {**hardware, "epochs_run": len(history)},
            "data": {"fingerprint": data.fingerprint, "summary": data.summary},
        },
    )
    if logger:
        log_results(logger, metrics, run_dir)


def _typed_state(task, state: Any) -> dict[str, Any]:
    """The bundle entries of ``state``: ``{"state": ...}`` as the task's ``state_class`` dumps it, plus
    ``{"state_schema": {"name", "version"}}``; ``{"state": state}`` as given when the task declares none.

    Raises:
        TypeError: The state does not fit the task's model: a bug in the task, named with the field.
    """
    from torchworks.tasks.state import ValidationError, first_problem, schema_entry

    state_class = task.state_class
    if state_class is None:
        return {"state": state}
    try:
        validated = state_class.model_validate(state)
    except ValidationError as error:
        field, problem = first_problem(error)
        raise TypeError(f"task '{task.name}': prepare_data returned a state that does not fit "
                        f"{state_class.__name__}: '{field}' {problem}") from None
    return {"state": validated.model_dump(mode="json"), "state_schema": schema_entry(state_class)}


def _discard_unresumable(run_dir: Path) -> None:
    """Remove a run folder that failed before its first checkpoint: nothing in it is worth keeping."""
    if not (run_dir / "checkpoints").is_dir() and not (run_dir / "bundle.json").exists():
        shutil.rmtree(run_dir, ignore_errors=True)


def _is_oom(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or _worker_death(exc) is not None or (
        isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
    )


def _worker_death(exc: BaseException) -> str | None:
    """How a DataLoader worker process died, if that is what ``exc`` reports, else None.

    A worker that raises has its error re-raised in the trainer; 'exited unexpectedly' means the
    process itself was ended, nearly always by the kernel's out-of-memory killer (SIGKILL, exit -9).
    PyTorch names the signal only in a chained cause, and only when its SIGCHLD handler saw it.
    """
    seen: BaseException | None = exc
    death = None
    while seen is not None:
        text = str(seen).lower()
        if "dataloader worker" in text and "killed by signal: killed" in text:
            return "was killed (exit -9), probably by the system running out of memory"
        if "dataloader worker" in text and "exited unexpectedly" in text:
            death = "exited unexpectedly, most often because the system ran out of memory"
        seen = seen.__cause__ or seen.__context__
    return death


def _as_user_error(exc: BaseException) -> TrainingError:
    text = str(exc)
    if death := _worker_death(exc):
        return TrainingError(
            f"a data-loading worker {death}",
            expected="workers that fit in memory",
            got=text.splitlines()[0][:160],
            hint="lower num_workers= or batch_size= (or image_size=); num_workers=0 shows any error of its own",
        )
    return TrainingError(
        "training ran out of memory",
        expected="a batch that fits in memory",
        got=text.splitlines()[0][:160] if text else type(exc).__name__,
        hint="lower batch_size= (or image_size=), or use a smaller model=",
    )
