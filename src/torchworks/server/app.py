"""The FastAPI app: health, readiness, metrics, model listing, typed predict and explain routes, the web page
and the API docs (served from this machine, see :mod:`torchworks.server.docs`).

Every answer that is not a success is JSON in the project's grammar (``error``, ``message``,
``hint``, plus ``request_id``): a client mistake is a 4xx, a busy or slow model 503/504, and a failure
inside a model a 500 that says so without a stack trace (the log has it, under the request id).
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from torchworks.errors import ConfigError, DataError, RequestError, TorchworksError
from torchworks.server.docs import add_docs_routes
from torchworks.server.guards import RequestGuard
from torchworks.server.models import ServedModel
from torchworks.server.requests import read_model_request
from torchworks.server.settings import ServeSettings
from torchworks.server.telemetry import ServerMetrics
from torchworks.server.ui import add_ui_routes

log = logging.getLogger("torchworks.server")


class Readiness:
    """Whether the server should get traffic: ``loading``, ``ready``, ``failed`` or ``draining``."""

    def __init__(self) -> None:
        self.status = "loading"
        self.reason = "models are loading and warming up"

    def set(self, status: str, reason: str = "") -> None:
        self.status, self.reason = status, reason


def build_app(models: list[ServedModel], settings: ServeSettings, metrics: ServerMetrics) -> FastAPI:
    """An app serving ``models`` (already loaded; started and warmed when the app starts)."""
    readiness = Readiness()
    by_name = {model.name: model for model in models}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            for model in models:
                await anyio.to_thread.run_sync(model.start)
        except Exception as error:  # noqa: BLE001  (the server stays up and says why it is not ready)
            log.exception("warming up failed")
            readiness.set("failed", f"a model failed to warm up: {type(error).__name__}: {str(error)[:200]}")
        else:
            readiness.set("ready")
        yield
        readiness.set("draining", "the server is shutting down")
        for model in models:
            await anyio.to_thread.run_sync(model.stop)

    app = FastAPI(title="torchworks", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Predictions from torchworks model bundles. Errors are JSON: error, message, hint.")
    app.state.readiness = readiness
    app.state.models = by_name
    app.state.settings = settings
    _add_error_handlers(app, metrics)
    _add_service_routes(app, by_name, readiness, metrics)
    for model in models:
        _add_predict_route(app, model, metrics)
        if model.explains:
            _add_explain_route(app, model, metrics)
    _add_unknown_model_routes(app, by_name)
    add_ui_routes(app)
    add_docs_routes(app, app.title)
    app.openapi = lambda: _openapi(app)
    app.add_middleware(RequestGuard, settings=settings, on_refusal=metrics.observe_error)
    return app


def _add_service_routes(app: FastAPI, models: dict[str, ServedModel], readiness: Readiness,
                        metrics: ServerMetrics) -> None:
    @app.get("/healthz", tags=["service"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["service"], summary="Models are loaded and warmed (503 otherwise)",
             responses={503: {"description": "Not ready: loading, failed or draining"}})
    async def readyz() -> Response:
        body = {"status": readiness.status, "reason": readiness.reason, "models": sorted(models)}
        return JSONResponse(body, status_code=200 if readiness.status == "ready" else 503)

    @app.get("/metrics", tags=["service"], summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/models", tags=["models"], summary="The models served")
    async def list_models() -> dict[str, list[dict[str, Any]]]:
        return {"models": [model.describe() for model in models.values()]}


def _add_predict_route(app: FastAPI, model: ServedModel, metrics: ServerMetrics) -> None:
    async def predict(request: Request) -> Any:
        async def answer() -> Any:
            asked = await read_model_request(model, request, await request.body())
            return await model.predict(asked.items, asked.top_k, asked.options, asked.include)

        return await _observed(metrics, model.name, "predict", answer)

    async def describe() -> dict[str, Any]:
        return model.describe()

    app.add_api_route(f"/v1/models/{model.name}", describe, methods=["GET"], tags=["models"],
                      summary=f"About {model.name} ({model.task.name})", operation_id=f"describe_{model.name}")
    app.add_api_route(f"/v1/models/{model.name}/predict", predict, methods=["POST"], tags=["models"],
                      response_model=model.response_model, response_model_exclude_none=True,
                      operation_id=f"predict_{model.name}",
                      summary=f"Predict with {model.name} ({model.task.name})",
                      openapi_extra={"requestBody": _request_body(model, model.request_model, {
                          "top_k": {"type": "integer", "minimum": 1, "maximum": 1000}, **_include_field(model)})},
                      responses={status: {"description": text} for status, text in _ERROR_STATUSES.items()})


def _add_explain_route(app: FastAPI, model: ServedModel, metrics: ServerMetrics) -> None:
    async def explain(request: Request) -> Any:
        async def answer() -> Any:
            asked = await read_model_request(model, request, await request.body(), explain=True)
            return await model.explain(asked.items, asked.method, asked.target, asked.options)

        return await _observed(metrics, model.name, "explain", answer)

    methods = ", ".join(model.explain_methods)
    app.add_api_route(f"/v1/models/{model.name}/explain", explain, methods=["POST"], tags=["models"],
                      operation_id=f"explain_{model.name}", summary=f"Explain {model.name}'s answers ({methods})",
                      description="Attributions of the eager model for each input (the same records as "
                                  "`torchworks explain`), figures as base64 PNG.",
                      openapi_extra={"requestBody": _request_body(model, model.explain_request_model, {
                          "method": {"type": "string", "enum": list(model.explain_methods)},
                          "target": {"type": "string", "maxLength": 1000}})},
                      responses={status: {"description": text} for status, text in _ERROR_STATUSES.items()})


async def _observed(metrics: ServerMetrics, name: str, route: str, answer: Any) -> Any:
    """``await answer()``, counted and timed under the model's ``name`` and ``route`` by its status."""
    started = time.perf_counter()
    status = 500
    try:
        with metrics.track_in_progress(name, route):
            result = await answer()
        status = 200
        return result
    except TorchworksError as error:
        status = _status_of(error)
        raise
    finally:
        metrics.observe_request(name, status, time.perf_counter() - started, route)


_ERROR_STATUSES = {400: "Malformed request", 401: "Missing or wrong API key", 413: "Body or inputs over the limit",
                   415: "Unsupported content type or file kind", 422: "Inputs that do not fit the model",
                   503: "Queue full (Retry-After)", 504: "Deadline passed"}


def _include_field(model: ServedModel) -> dict[str, Any]:
    """The multipart ``include`` field of a model with extra record fields (none otherwise)."""
    if not model.spec.extras:
        return {}
    return {"include": {"type": "string", "description": "extra record fields, separated by commas: one of "
                                                         + ", ".join(model.spec.extras)}}


def _request_body(model: ServedModel, request_model: type, form_fields: dict[str, Any]) -> dict[str, Any]:
    prefix = request_model.__name__.removesuffix("Request")
    schema = request_model.model_json_schema(ref_template=f"#/components/schemas/{prefix}{{model}}")
    # nested types go to components under the model's prefix (see _openapi)
    schema["$defs"] = {f"{prefix}{key}": value for key, value in schema.get("$defs", {}).items()}
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if model.spec.file_types:
        content["multipart/form-data"] = {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                           **form_fields, "options": {"type": "string", "description": "a JSON object"}}}}
    return {"required": True, "content": content}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the request bodies' nested types moved into ``components``."""
    if app.openapi_schema is None:
        import copy

        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for operations in schema["paths"].values():
            for operation in operations.values():
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    media["schema"] = copy.deepcopy(media["schema"])
                    components.update(media["schema"].pop("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema


def _add_unknown_model_routes(app: FastAPI, models: dict[str, ServedModel]) -> None:
    def unknown(name: str) -> RequestError:
        from torchworks.errors import did_you_mean

        return RequestError(f"no model named '{name}' is served here", status=404, code="unknown_model",
                            expected="one of: " + ", ".join(sorted(models)), got=repr(name),
                            hint=did_you_mean(name, models))

    @app.get("/v1/models/{name}", include_in_schema=False)
    async def describe_unknown(name: str) -> None:
        raise unknown(name)

    @app.post("/v1/models/{name}/predict", include_in_schema=False)
    async def predict_unknown(name: str) -> None:
        raise unknown(name)

    @app.post("/v1/models/{name}/explain", include_in_schema=False)
    async def explain_unknown(name: str) -> None:
        if name in models:
            raise RequestError(f"{name} cannot explain its answers", status=404, code="no_explain",
                               expected="a model of a task with explain methods", got=models[name].task.name,
                               hint=f"POST to /v1/models/{name}/predict instead")
        raise unknown(name)


def _status_of(error: TorchworksError) -> int:
    if isinstance(error, RequestError):
        return error.status
    if isinstance(error, (DataError, ConfigError)):
        return 422
    return 400


def _add_error_handlers(app: FastAPI, metrics: ServerMetrics) -> None:
    def answer(request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        request_id = request.scope.get("state", {}).get("request_id", "")
        metrics.observe_error(status, body.get("error", "error"))
        return JSONResponse({**body, "request_id": request_id}, status_code=status,
                            headers={**(headers or {}), "x-request-id": request_id})

    @app.exception_handler(TorchworksError)
    async def user_error(request: Request, error: TorchworksError) -> Response:
        return answer(request, _status_of(error), error.as_json(), getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        problem = RequestError(f"the request is invalid at '{where}'", status=422, code="invalid_request",
                               expected=str(first["msg"]).lower(), hint="see the schema at /docs")
        return answer(request, 422, problem.as_json())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        what = {404: f"no such page '{request.url.path}'", 405: f"{request.method} is not allowed here"}
        problem = RequestError(what.get(error.status_code, str(error.detail)), status=error.status_code,
                               code={404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error"),
                               hint="the API is described at /docs")
        return answer(request, error.status_code, problem.as_json(), dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def failure(request: Request, error: Exception) -> Response:
        request_id = request.scope.get("state", {}).get("request_id", "")
        log.error("request %s failed", request_id, exc_info=error)
        memory = "can't allocate memory" in str(error) or isinstance(error, MemoryError)
        body = {"error": "out_of_memory" if memory else "internal_error",
                "message": f"the model failed on this request ({type(error).__name__})",
                "hint": "send fewer or smaller inputs" if memory else
                        f"the server log has the details under request id {request_id}"}
        return answer(request, 500, body)


def _version() -> str:
    # the installed distribution's version: the package root sits above every layer and is not imported
    from importlib import metadata

    try:
        return metadata.version("torchworks")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"
