"""One bundle behind the server: its task, backend, batcher, and typed request and response models."""

from __future__ import annotations

import base64
import binascii
import copy
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import torch
from pydantic import BaseModel, ConfigDict, Field, create_model

from torchworks.batches import join_batches
from torchworks.engine.loading import load_model
from torchworks.engine.predict import prediction_state
from torchworks.engine.runners import choose_runner
from torchworks.errors import BundleError, RequestError
from torchworks.server.batching import Batcher
from torchworks.server.settings import ServeSettings
from torchworks.server.telemetry import ServerMetrics
from torchworks.tasks.protocol import Explainable, Exportable, Servable, ServingSpec
from torchworks.uploads import Upload

EXPLAIN_BACKLOG = 4  # explain requests per model running or waiting; more are answered 503


class FileInput(BaseModel):
    """A file inside a JSON request: its name (for the suffix) and its bytes in base64."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    base64: str = Field(min_length=1)


@dataclass
class ModelSource:
    """Where a served model came from: a run folder, or a registry version."""

    run: Path
    registry: dict[str, Any] = field(default_factory=dict)


class ServedModel:
    """A loaded bundle ready to answer requests through its batcher.

    Args:
        name: The name in URLs (``/v1/models/{name}``).
        source: The run folder (and registry facts, when it came from one).
    """

    def __init__(self, name: str, source: ModelSource, settings: ServeSettings, metrics: ServerMetrics):
        self.name = name
        self.source = source
        self.settings = settings
        self.bundle, self.task, self.config, model = load_model(source.run)
        if not isinstance(self.task, Servable):
            raise BundleError(f"'{source.run}' is a {self.task.name} model, which cannot be served yet",
                              expected="a model of a task whose modes include serve", got=self.task.name,
                              hint="`torchworks tasks` lists the modes of each task")
        self.spec: ServingSpec = self.task.serving(self.bundle.state)
        self.explain_methods: tuple[str, ...] = self.task.explain_methods if self.explains else ()
        self.runner = choose_runner(settings.backend_of(name), self.bundle, model, settings.threads)
        self._model = model  # eager, for explanations (copied before use when the eager runner also holds it)
        self._explainer: torch.nn.Module | None = None
        self._explaining = threading.Lock()  # one explanation at a time per model: they hook into the model
        self._explain_requests = 0  # running or waiting for the lock (each holds a worker thread)
        collate = self.task.collate_fn(labelled=False)
        # what runs a batch: the runner, or the task's way around it (a recommender's item index)
        run = self.task.prediction_runner(self.runner, self.bundle.state)
        self.batcher = Batcher(lambda samples: run(collate(samples)), max_batch=settings.max_batch,
                               max_wait_ms=settings.max_wait_ms, queue_size=settings.queue_size,
                               concatenate=join_batches, name=name,
                               on_batch=metrics.batch_size.labels(name).observe, size_of=_length,
                               incoming=lambda: self._decoding)
        self._decoding = 0  # requests between arrival and the queue
        metrics.track_queue(name, lambda: self.batcher.depth)
        self.option_details = _option_details(self.task.config_class, self.spec.options, self.bundle.config)
        self.request_model = _request_model(name, self.spec, settings.max_inputs)
        self.explain_request_model = _explain_request_model(name, self.spec, self.explain_methods,
                                                            settings.max_explain_inputs)
        # per-model names, so that two models of one task with different columns never share a schema
        record = create_model(f"{_title(name)}Prediction", __base__=self.spec.record)
        self.response_model = create_model(f"{_title(name)}Response", __config__=ConfigDict(extra="forbid"),
                                           model=(str, ...), backend=(str, ...), predictions=(list[record], ...))

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the batch worker and run the task's example batch once (first calls are slow)."""
        self.batcher.start()
        if isinstance(self.task, Exportable):
            self.runner(self.task.example_input(self.bundle.state))

    def stop(self) -> None:
        self.batcher.stop()

    # ------------------------------------------------------------- predict
    def items_from_json(self, inputs: list[Any]) -> list[Any]:
        """Validated JSON inputs as items for ``predict_inputs`` (files decoded from base64)."""
        if self.spec.json_item is not None:
            return [self.task.from_json(item, self.bundle.state) for item in inputs]
        return [self.upload(item.name, _unbase64(item, number), "") for number, item in enumerate(inputs, 1)]

    def upload(self, name: str, data: bytes, content_type: str) -> Upload:
        """An uploaded file, refused (415) when its suffix is not one this model reads."""
        upload = Upload(name, data, content_type)
        if upload.suffix not in self.spec.file_types:
            raise RequestError(f"file '{name}' is not a kind {self.name} reads", status=415,
                               code="unsupported_media_type",
                               expected="a file ending in " + ", ".join(self.spec.file_types),
                               got=repr(upload.suffix or "no extension"), hint="send a file of a supported kind")
        return upload

    async def predict(self, items: list[Any], top_k: int, options: dict[str, Any],
                      include: tuple[str, ...] = ()) -> dict[str, Any]:
        """Records for ``items``: decoded in a worker thread, batched with other requests, formatted,
        with the fields of the spec's ``extras`` named in ``include`` added."""
        deadline = time.perf_counter() + self.settings.timeout_s
        state = self._state(options)
        self.batcher.refuse_when_full(self._decoding)
        self._decoding += 1
        try:
            samples, ids = await anyio.to_thread.run_sync(self._prepare, items, state)
        finally:
            self._decoding -= 1
        outputs = await self.batcher.submit(samples, max(0.001, deadline - time.perf_counter()))
        records = await anyio.to_thread.run_sync(self._records, outputs, ids, state, top_k, include)
        return {"model": self.name, "backend": self.runner.name, "predictions": records}

    def included(self, names: list[str]) -> tuple[str, ...]:
        """``names`` of extra record fields asked for, checked against the spec's ``extras`` (422 otherwise)."""
        unknown = [name for name in names if name not in self.spec.extras]
        if unknown:
            offered = ", ".join(self.spec.extras)
            raise RequestError(f"{self.name} has no extra field '{unknown[0]}' to include", status=422,
                               code="unknown_include", expected="one of: " + (offered or "none"), got=unknown[0],
                               hint=f"ask for one of {offered}" if offered else "leave include out")
        return tuple(dict.fromkeys(names))

    def _records(self, outputs: Any, ids: list[Any], state: dict[str, Any], top_k: int,
                 include: tuple[str, ...]) -> list[dict[str, Any]]:
        records = self.task.format_predictions(outputs, ids, state, top_k)
        for record in records:
            if "error" not in record:  # a record that failed has nothing to add to
                record.update({name: self.spec.extras[name](record, state) for name in include})
        return records

    def _state(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = [key for key in options if key not in self.spec.options]
        if unknown:
            raise RequestError(f"option '{unknown[0]}' cannot be set in a request to {self.name}", status=422,
                               code="unknown_option", expected="one of: " + (", ".join(self.spec.options) or "none"),
                               got=unknown[0], hint="leave it out")
        return prediction_state(self.task, self.bundle, options)

    def _prepare(self, items: list[Any], state: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        dataset, ids = self.task.predict_inputs(items, state)
        if len(dataset) > self.settings.max_inputs:
            raise RequestError(f"the request to {self.name} holds too many inputs", status=413,
                               code="too_many_inputs", expected=f"at most {self.settings.max_inputs}",
                               got=str(len(dataset)), hint="split it into several requests")
        return [dataset[i] for i in range(len(dataset))], ids

    # ------------------------------------------------------------- explain
    @property
    def explains(self) -> bool:
        return isinstance(self.task, Explainable)

    async def explain(self, items: list[Any], method: str | None, target: str | None,
                      options: dict[str, Any]) -> dict[str, Any]:
        """The task's explanations of ``items`` with the eager model (whatever backend predicts),
        figures as base64 PNGs. One explanation runs at a time per model; a request that cannot
        start, or finish its next input, before its deadline gets a 504."""
        from torchworks.engine.explain import check_options, choose_method

        deadline = time.perf_counter() + self.settings.timeout_s
        method = choose_method(self.task, method)
        checked = check_options(self.task, options)
        if self._explain_requests >= EXPLAIN_BACKLOG:
            raise RequestError(f"{self.name} is busy explaining", status=503, code="busy",
                               expected=f"at most {EXPLAIN_BACKLOG} explanations running or waiting",
                               got=str(self._explain_requests), hint="retry after a second",
                               headers={"Retry-After": "1"})
        self._explain_requests += 1
        try:
            explanations = await anyio.to_thread.run_sync(self._explain, items, method, target, checked, deadline)
        finally:
            self._explain_requests -= 1
        return {"model": self.name, "method": method,
                "explanations": [{**explanation.record, "summary": explanation.summary,
                                  "figures": {name: base64.b64encode(png).decode("ascii")
                                              for name, png in explanation.figures.items()},
                                  "html": explanation.html} for explanation in explanations]}

    def _explain(self, items: list[Any], method: str, target: str | None, options: dict[str, str],
                 deadline: float) -> list[Any]:
        from torchworks.engine.explain import explain_dataset

        state = self.bundle.state
        dataset, ids = self.task.explain_inputs(self._model, items, state, options)
        limit = self.settings.max_explain_inputs
        if len(dataset) > limit:
            raise RequestError(f"the explain request to {self.name} holds too many inputs", status=413,
                               code="too_many_inputs", expected=f"at most {limit}", got=str(len(dataset)),
                               hint="split it into several requests, or predict instead")
        if not self._explaining.acquire(timeout=max(0.0, deadline - time.perf_counter())):
            raise _late("another explanation is still running")
        try:
            if self._explainer is None:
                # the eager runner calls this very module from the batch thread; hooks must not reach it
                self._explainer = copy.deepcopy(self._model) if self.runner.name == "eager" else self._model

            def in_time(index: int) -> None:
                if time.perf_counter() > deadline:
                    raise _late(f"{index} of {len(dataset)} inputs were explained in time")

            return explain_dataset(self.task, self._explainer, dataset, ids, state, method=method, target=target,
                                   options=options, before_item=in_time)
        finally:
            self._explaining.release()

    # ---------------------------------------------------------------- info
    def describe(self) -> dict[str, Any]:
        manifest = self.bundle.manifest
        metrics = {k: v for k, v in (manifest.get("metrics") or {}).items() if isinstance(v, (int, float))}
        return {
            "name": self.name,
            "task": self.task.name,
            "input_kind": self.spec.input_kind,
            "file_types": list(self.spec.file_types),
            "accepts_json": self.spec.json_item is not None,
            "options": list(self.spec.options),
            "option_details": self.option_details,
            "example": self.spec.example,
            "table": self.spec.table or None,
            "draws": self.spec.draws or None,
            "labels": self.bundle.state.get("labels"),
            "colours": [list(colour) for colour in self.spec.colours] or None,
            "choices": self.spec.choices or None,
            "extras": list(self.spec.extras),
            "backend": self.runner.name,
            # how the served export scored against eager on the test split (none for eager)
            "backend_parity": ((manifest.get("exports") or {}).get(self.runner.name) or {}).get("parity"),
            "metrics": metrics,
            "primary_metric": self.task.primary_metric,
            "created": manifest.get("created"),
            "data_fingerprint": (manifest.get("data") or {}).get("fingerprint"),
            "run": self.source.registry.get("run_name") or self.source.run.name,
            "registry": self.source.registry or None,
            "max_batch": self.settings.max_batch,
            "explain_methods": list(self.explain_methods),
            "explain_options": list(self.task.explain_options) if self.explains else [],
        }


def _option_details(config_class: type[BaseModel], options: tuple[str, ...], trained: dict[str, Any]
                    ) -> dict[str, dict[str, Any]]:
    """What each prediction option takes, from the task's config (so the page can offer a choice
    where the config has one): ``type``, ``choices`` (a Literal's values), ``minimum``/``maximum``,
    ``default`` (the value the model was trained with) and ``description``."""
    properties = config_class.model_json_schema().get("properties", {})
    details = {}
    for name in options:
        field = properties.get(name, {})
        # an optional setting is anyOf [its type, null]: describe its type
        kind = next((part for part in field.get("anyOf", []) if part.get("type") != "null"), field)
        details[name] = {"type": kind.get("type", "string"), "choices": kind.get("enum") or ([kind["const"]] if "const" in kind else None),
                         "minimum": kind.get("minimum"), "maximum": kind.get("maximum"),
                         "default": trained.get(name, field.get("default")), "description": field.get("description", "")}
    return details


def _request_model(name: str, spec: ServingSpec, max_inputs: int) -> type[BaseModel]:
    item = spec.json_item if spec.json_item is not None else FileInput
    extras = {}
    if spec.extras:  # only a model that has extra fields takes `include`
        extras["include"] = (list[Literal[tuple(spec.extras)]], Field(  # type: ignore[valid-type]
            default_factory=list, description="Extra record fields to add to each prediction."))
    return create_model(
        f"{_title(name)}Request",
        __config__=ConfigDict(extra="forbid"),
        inputs=(Annotated[list[item], Field(min_length=1, max_length=max_inputs)], ...),
        top_k=(int, Field(3, ge=1, le=1000)),
        options=(dict[str, str | int | float | bool | list[str]], Field(default_factory=dict)),
        **extras,
    )


def _explain_request_model(name: str, spec: ServingSpec, methods: tuple[str, ...], max_inputs: int
                           ) -> type[BaseModel]:
    item = spec.json_item if spec.json_item is not None else FileInput
    method = Literal[methods] if methods else str  # type: ignore[valid-type]
    return create_model(
        f"{_title(name)}ExplainRequest",
        __config__=ConfigDict(extra="forbid"),
        inputs=(Annotated[list[item], Field(min_length=1, max_length=max_inputs)], ...),
        method=(method | None, Field(None, description="The attribution method; the task's default when left out.")),
        target=(str | None, Field(None, max_length=1000,
                                  description="What to explain (a class label...); the prediction when left out.")),
        options=(dict[str, str | int | float], Field(default_factory=dict,
                                                     description="Method settings such as steps or layer.")),
    )


def _late(got: str) -> RequestError:
    return RequestError("the explanation did not finish before the request's deadline", status=504,
                        code="timeout", expected="an answer within the server's timeout", got=got,
                        hint="send fewer inputs, fewer steps, or a cheaper method (saliency)")


def _length(sample: Any) -> int:
    """A sample's first dimension (tokens, frames; channels for an image, the same for all)."""
    return int(sample.shape[0]) if isinstance(sample, torch.Tensor) and sample.dim() else 0


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").replace(".", "-").split("-") if part) or "Model"


def _unbase64(item: FileInput, number: int) -> bytes:
    try:
        return base64.b64decode(item.base64, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"input {number} ('{item.name}') is not valid base64", status=422, code="bad_base64",
                           expected="the file's bytes in standard base64", got=f"{len(item.base64)} characters",
                           hint="encode the file with base64 (for example `base64 -w0 file`)") from None
