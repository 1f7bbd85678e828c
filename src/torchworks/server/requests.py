"""Reading a predict or explain request: JSON, multipart files, or one raw file, into items for the task.

JSON is parsed here rather than by the framework so that every malformed body is a 4xx: NaN and
Infinity literals (not JSON), bad UTF-8, and nesting deep enough to exhaust Python's recursion limit.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from torchworks.errors import RequestError
from torchworks.server.models import ServedModel

MULTIPART_FIELDS = 16  # top_k, options and a few spare; files are counted separately
RAW_TYPES = ("image/", "audio/", "text/csv", "text/plain", "text/tab-separated-values", "application/vnd.apache.parquet")


@dataclass
class ModelRequest:
    """What a request asks of a model: the items, how to report on them, and (explain) how to explain."""

    items: list[Any]
    top_k: int = 3
    options: dict[str, Any] = field(default_factory=dict)
    method: str | None = None
    target: str | None = None
    include: tuple[str, ...] = ()


async def read_model_request(model: ServedModel, request: Request, body: bytes, *,
                             explain: bool = False) -> ModelRequest:
    """The request's items, by its content type; ``explain``: read the explain request's fields.

    Raises:
        RequestError: 415 for a content type this model does not take, 400/422 for a bad body.
    """
    route = "explain" if explain else "predict"
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _from_json(model, body, route)
    if model.spec.file_types and content_type == "multipart/form-data":
        return await _from_form(model, request, route)
    if model.spec.file_types and content_type.startswith(RAW_TYPES):
        suffix = mimetypes.guess_extension(content_type) or ""
        return ModelRequest([model.upload(f"upload{suffix}", body, content_type)])
    accepted = ["application/json"] + (["multipart/form-data", "a file's own type (image/png...)"]
                                       if model.spec.file_types else [])
    raise RequestError(f"{model.name} does not take {content_type or 'a body without a content type'}",
                       status=415, code="unsupported_media_type", expected=" or ".join(accepted),
                       got=content_type or "no Content-Type", hint=_usage_hint(model, route))


def parse_json(body: bytes) -> Any:
    """``body`` as JSON, strictly (no NaN/Infinity), with any failure as a 400."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        problem = "bytes that are not UTF-8"
    except RecursionError:
        problem = "nesting too deep to read"
    except ValueError as error:
        problem = str(error)[:200]
    raise RequestError("the request body is not valid JSON", status=400, code="bad_json",
                       expected='a JSON object such as {"inputs": [...]}', got=problem,
                       hint="check the body with a JSON validator")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _from_json(model: ServedModel, body: bytes, route: str) -> ModelRequest:
    document = parse_json(body)
    schema = model.explain_request_model if route == "explain" else model.request_model
    try:
        request = schema.model_validate(document)
    except ValidationError as error:
        raise validation_error(error, _usage_hint(model, route)) from None
    if route == "explain":
        return ModelRequest(model.items_from_json(request.inputs), options=dict(request.options),
                            method=request.method, target=request.target)
    return ModelRequest(model.items_from_json(request.inputs), request.top_k, dict(request.options),
                        include=model.included(getattr(request, "include", [])))


def validation_error(error: ValidationError, hint: str) -> RequestError:
    """Pydantic's first complaint, in the project's grammar, as a 422."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "the body"
    more = f" (and {error.error_count() - 1} more problems)" if error.error_count() > 1 else ""
    return RequestError(f"the request does not fit the model's schema at '{where}'{more}", status=422,
                        code="invalid_request", expected=first["msg"].lower(),
                        got=_short(first.get("input")), hint=hint)


async def _from_form(model: ServedModel, request: Request, route: str) -> ModelRequest:
    settings = model.settings
    most = settings.max_explain_inputs if route == "explain" else settings.max_inputs
    try:
        form = await request.form(max_files=most, max_fields=MULTIPART_FIELDS, max_part_size=settings.max_body_bytes)
    except Exception as error:  # noqa: BLE001  (the multipart parser reports each abuse its own way)
        raise RequestError("the multipart body cannot be read", status=400, code="bad_multipart",
                           expected=f"well-formed parts: at most {most} files and {MULTIPART_FIELDS} fields, each "
                                    f"part at most {settings.max_body_bytes // 2**20} MB with short headers",
                           got=str(getattr(error, "detail", error))[:200].rstrip(". ") or type(error).__name__,
                           hint=_usage_hint(model, route)) from None
    try:
        files = [part for key in ("file", "files") for part in form.getlist(key) if isinstance(part, UploadFile)]
        if not files:
            raise RequestError("the multipart body holds no file", status=422, code="no_file",
                               expected="one or more parts named 'file'", got=", ".join(form.keys()) or "no parts",
                               hint=_usage_hint(model, route))
        items = [model.upload(part.filename or "upload", await part.read(), part.content_type or "") for part in files]
        top_k = _form_int(form.get("top_k"), "top_k", 3)
        options = parse_json(str(form.get("options")).encode()) if form.get("options") else {}
        if not isinstance(options, dict):
            raise RequestError("the 'options' field is not a JSON object", status=422, code="invalid_request",
                               expected='{"decoder": "greedy"}', got=_short(options))
        return ModelRequest(items, top_k, options, method=_form_text(form.get("method")),
                            target=_form_text(form.get("target")), include=_form_include(model, form, route))
    finally:
        await form.close()


def _form_include(model: ServedModel, form: Any, route: str) -> tuple[str, ...]:
    """The extra record fields a predict form asks for: ``include`` fields, each one name or several
    separated by commas."""
    texts = [_form_text(value) for value in form.getlist("include")]
    names = [name.strip() for text in texts if text for name in text.split(",") if name.strip()]
    if names and route == "explain":
        raise RequestError("an explain request cannot include extra fields", status=422, code="invalid_request",
                           expected="no 'include' field", got=", ".join(names), hint="include them when predicting")
    return model.included(names)


def _form_text(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 1000:
        raise RequestError("a text field of the form is not short text", status=422, code="invalid_request",
                           expected="text of at most 1000 characters", got=_short(value))
    return value.strip()


def _form_int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise RequestError(f"the '{name}' field is not a whole number from 1 to 1000", status=422,
                           code="invalid_request", expected="a number such as 3", got=_short(text))
    return int(text)


def _usage_hint(model: ServedModel, route: str = "predict") -> str:
    if model.spec.json_item is not None:
        return f"POST JSON {{\"inputs\": [...]}} to /v1/models/{model.name}/{route} (schema at /docs)"
    return f"POST the file as multipart (curl -F file=@x{model.spec.file_types[0]}) to /v1/models/{model.name}/{route}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
