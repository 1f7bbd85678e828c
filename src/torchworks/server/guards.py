"""What every request passes before any route sees it: host, origin, key, encoding and size checks.

A pure ASGI middleware, so that limits hold on the receive path itself: a body is counted as it
arrives (``Content-Length`` or chunked) and refused with 413 the moment it is over the limit, before
anything parses it. Compressed bodies are refused (415): a few kilobytes of gzip can inflate to
gigabytes. Answers are JSON in the project's error grammar.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from torchworks.errors import RequestError
from torchworks.server.settings import LOOPBACK_HOSTS, ServeSettings

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/ui/login"})  # reachable without a key
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_COOKIE = "torchworks_key"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestGuard:
    """Checks each HTTP request, buffers its body within the limit, and hands it to ``app``.

    Args:
        on_refusal: Called with ``(status, code)`` for every request refused here (metrics).
    """

    def __init__(self, app: Any, settings: ServeSettings, on_refusal: Callable[[int, str], None] = lambda s, c: None):
        self.app = app
        self.settings = settings
        self.on_refusal = on_refusal
        self.hosts = {h.lower() for h in (*LOOPBACK_HOSTS, settings.host, *settings.allowed_hosts)}
        self.check_host = settings.is_loopback or bool(settings.allowed_hosts)
        self.keys = [key.encode() for key in settings.api_keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = "".join(c for c in headers.get("x-request-id", "")[:64] if c.isalnum() or c in "-_.")
        request_id = given or uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            self._check(scope, headers)
            body = await self._read_body(receive, headers) if scope["method"] not in SAFE_METHODS else b""
        except RequestError as refusal:
            self.on_refusal(refusal.status, refusal.code)
            await send_error(send, refusal, request_id)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check(self, scope: Scope, headers: dict[str, str]) -> None:
        host = _host_name(headers.get("host", ""))
        if self.check_host and host not in self.hosts:
            raise RequestError(f"requests for host '{host}' are not served here", status=400, code="unknown_host",
                               expected="a Host header naming this server (" + ", ".join(sorted(self.hosts)) + ")",
                               got=repr(host), hint="use --allowed-host NAME for a name that should reach this server")
        if scope["method"] not in SAFE_METHODS and _cross_site(headers):
            raise RequestError("cross-site requests are refused", status=403, code="cross_site",
                               expected="a request from this server's own page or a non-browser client",
                               got=f"origin {headers.get('origin') or headers.get('sec-fetch-site')!r}",
                               hint="call the API from a script, or open the page this server serves at /ui")
        if self.keys and scope["path"] not in OPEN_PATHS and not self._authorised(headers):
            raise RequestError("a valid API key is required", status=401, code="unauthorized",
                               expected="an 'Authorization: Bearer <key>' header with a key this server accepts",
                               got="a wrong key" if "authorization" in headers else "no key",
                               hint="ask the server's operator for a key; the page at /ui/login takes one",
                               headers={"WWW-Authenticate": "Bearer"})
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise RequestError("compressed request bodies are not accepted", status=415, code="unsupported_encoding",
                               expected="an uncompressed body", got=f"Content-Encoding: {encoding}",
                               hint="send the body uncompressed")

    def _authorised(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else _cookie(headers.get("cookie", ""), KEY_COOKIE)
        return key_accepted(given, self.keys)

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        limit = self.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise RequestError("the Content-Length header is not a number", status=400, code="bad_length",
                                   expected="a byte count", got=repr(declared[:40]))
            if int(declared) > limit:
                raise _too_large(int(declared), limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError("the client went away", status=400, code="disconnected",
                                   expected="a complete request", got="a disconnect")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def key_accepted(given: str, keys: list[bytes]) -> bool:
    """Whether ``given`` is one of ``keys``, compared in constant time."""
    candidate = given.encode()
    return bool(given) and any(hmac.compare_digest(candidate, key) for key in keys)


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError("the request body is too large", status=413, code="payload_too_large",
                        expected=f"at most {limit:,} bytes", got=f"{size:,} bytes or more",
                        hint="send smaller or fewer files, or start the server with a larger --max-body-mb")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cross_site(headers: dict[str, str]) -> bool:
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = headers.get("origin")
    if not origin:
        return False  # not a browser, or a same-origin GET-style request
    return origin.split("://", 1)[-1].strip().lower() != headers.get("host", "").strip().lower()


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


async def send_error(send: Send, error: RequestError, request_id: str) -> None:
    """Answer ``error`` as JSON with its status and headers."""
    body = json.dumps({**error.as_json(), "request_id": request_id}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-request-id", request_id.encode()), (b"connection", b"close")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
