"""The web page at ``/ui``: pick a model, give it an input with the widget its task needs, see the answer.

Three fixed files (no directory is ever served, so no path can reach outside them) and a login form
that turns an API key into a same-site, HTTP-only cookie for the page's own requests.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from torchworks.server.guards import KEY_COOKIE, key_accepted

_FILES = {"": ("index.html", "text/html; charset=utf-8"), "app.js": ("app.js", "text/javascript; charset=utf-8"),
          "style.css": ("style.css", "text/css; charset=utf-8")}
_SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


def add_ui_routes(app: FastAPI) -> None:
    """``/ui``, its script and style, and ``/ui/login`` (keys from ``app.state.settings``)."""
    keys = [key.encode() for key in app.state.settings.api_keys]

    for path, (name, media_type) in _FILES.items():
        def page(name: str = name, media_type: str = media_type) -> Response:
            return Response(_asset(name), media_type=media_type, headers=_SECURITY_HEADERS)

        app.add_api_route(f"/ui/{path}" if path else "/ui", page, methods=["GET"], include_in_schema=False)

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/ui", status_code=307)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/ui/login", include_in_schema=False)
    async def login_form() -> Response:
        return HTMLResponse(_asset("login.html"), headers=_SECURITY_HEADERS)

    @app.post("/ui/login", include_in_schema=False)
    async def login(request: Request, key: str = Form(..., max_length=512)) -> Response:
        if not key_accepted(key, keys):
            return HTMLResponse(_asset("login.html").replace(b"<!--problem-->", b"<p class=error>That key is not "
                                b"accepted here.</p>"), status_code=401, headers=_SECURITY_HEADERS)
        answer = RedirectResponse("/ui", status_code=303)
        answer.set_cookie(KEY_COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return answer
