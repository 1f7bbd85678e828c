"""One bundle behind the server: its task, backend, batcher, and typed request and response models."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
import torch
from pydantic import BaseModel, ConfigDict, Field, create_model

from torchworks.engine.outputs import concatenate_outputs
from torchworks.engine.predict import load_model, prediction_state
from torchworks.errors import BundleError, RequestError
from torchworks.engine.runners import choose_runner
from torchworks.server.batching import Batcher
from torchworks.server.settings import ServeSettings
from torchworks.server.telemetry import ServerMetrics
from torchworks.tasks.protocol import ServingSpec
from torchworks.uploads import Upload


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
        spec = self.task.serving(self.bundle.state)
        if spec is None:
            raise BundleError(f"'{source.run}' is a {self.task.name} model, which cannot be served yet",
                              expected="a model of a task whose modes include serve", got=self.task.name,
                              hint="`torchworks tasks` lists the modes of each task")
        self.spec: ServingSpec = spec
        self.runner = choose_runner(settings.backend_of(name), self.bundle, model, settings.threads)
        collate = self.task.collate_fn() or torch.utils.data.default_collate
        self.batcher = Batcher(lambda samples: self.runner(collate(samples)), max_batch=settings.max_batch,
                               max_wait_ms=settings.max_wait_ms, queue_size=settings.queue_size,
                               concatenate=concatenate_outputs, name=name,
                               on_batch=metrics.batch_size.labels(name).observe, size_of=_length,
                               incoming=lambda: self._decoding)
        self._decoding = 0  # requests between arrival and the queue
        metrics.track_queue(name, lambda: self.batcher.depth)
        self.request_model = _request_model(name, spec, settings.max_inputs)
        # per-model names, so that two models of one task with different columns never share a schema
        record = create_model(f"{_title(name)}Prediction", __base__=spec.record)
        self.response_model = create_model(f"{_title(name)}Response", __config__=ConfigDict(extra="forbid"),
                                           model=(str, ...), backend=(str, ...), predictions=(list[record], ...))

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the batch worker and run the task's example batch once (first calls are slow)."""
        self.batcher.start()
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

    async def predict(self, items: list[Any], top_k: int, options: dict[str, Any]) -> dict[str, Any]:
        """Records for ``items``: decoded in a worker thread, batched with other requests, formatted."""
        deadline = time.perf_counter() + self.settings.timeout_s
        state = self._state(options)
        self._decoding += 1
        try:
            samples, ids = await anyio.to_thread.run_sync(self._prepare, items, state)
        finally:
            self._decoding -= 1
        outputs = await self.batcher.submit(samples, max(0.001, deadline - time.perf_counter()))
        records = await anyio.to_thread.run_sync(self.task.format_predictions, outputs, ids, state, top_k)
        return {"model": self.name, "backend": self.runner.name, "predictions": records}

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
            "example": self.spec.example,
            "labels": self.bundle.state.get("labels"),
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
        }


def _request_model(name: str, spec: ServingSpec, max_inputs: int) -> type[BaseModel]:
    item = spec.json_item if spec.json_item is not None else FileInput
    return create_model(
        f"{_title(name)}Request",
        __config__=ConfigDict(extra="forbid"),
        inputs=(Annotated[list[item], Field(min_length=1, max_length=max_inputs)], ...),
        top_k=(int, Field(3, ge=1, le=1000)),
        options=(dict[str, str | int | float | bool], Field(default_factory=dict)),
    )


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
