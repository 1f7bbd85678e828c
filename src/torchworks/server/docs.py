"""The API docs at ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), served whole from this machine.

FastAPI's own pages load their scripts from a CDN and stay blank offline. Here the built
Swagger UI and ReDoc files come from an installed package (``fastapi-offline``), found through
``importlib.resources`` when the app is built: a missing file stops the server before its port
opens with an error naming the package, never a blank page. Each page carries a Content-Security-Policy
that lets it reach this server only: its one inline start-up script is allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from torchworks.errors import ConfigError

ASSET_PACKAGE = "fastapi_offline"  # the distribution fastapi-offline: built swagger-ui-dist and redoc files
ASSET_FOLDER = "static"
ASSET_PREFIX = "/docs/assets"
ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
          "redoc.standalone.js": "text/javascript; charset=utf-8", "favicon.png": "image/png"}
# styles: both pages set inline styles from script (ReDoc's styled-components inserts <style> elements);
# workers: ReDoc runs its search index in a worker made from a blob URL
_POLICY = ("default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def docs_assets(package: str = ASSET_PACKAGE) -> dict[str, Traversable]:
    """The docs' files by name, each checked to be there and not empty.

    Raises:
        ConfigError: The package is not installed, or one of its files is missing or empty.
    """
    try:
        folder = resources.files(package).joinpath(ASSET_FOLDER)
    except ModuleNotFoundError:
        raise ConfigError("the API docs' files are not installed", expected=f"the Python package '{package}' "
                          "(Swagger UI and ReDoc, served at /docs and /redoc)", got="no such package",
                          hint=f"install it: `pip install {package.replace('_', '-')}` (a dependency of "
                               "torchworks)") from None
    found: dict[str, Traversable] = {}
    for name in ASSETS:
        path = folder.joinpath(name)
        if not path.is_file() or not _starts(path):
            raise ConfigError(f"the API docs' file '{name}' is missing", expected=f"'{name}' in the package "
                              f"'{package}' ({folder})", got="no such file" if not path.is_file() else "an empty file",
                              hint=f"reinstall it: `pip install --force-reinstall {package.replace('_', '-')}`")
        found[name] = path
    return found


def _starts(path: Traversable) -> bool:
    with path.open("rb") as file:
        return bool(file.read(1))


def add_docs_routes(app: FastAPI, title: str) -> None:
    """``/docs``, ``/redoc`` and their files under ``/docs/assets/`` (the app is built with its
    own docs pages turned off). The files are looked up now, so that a broken install fails here."""
    files = docs_assets()
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSET_PREFIX}/favicon.png"
    swagger = get_swagger_ui_html(openapi_url=openapi_url, title=f"{title} - API docs",
                                  swagger_js_url=f"{ASSET_PREFIX}/swagger-ui-bundle.js",
                                  swagger_css_url=f"{ASSET_PREFIX}/swagger-ui.css", swagger_favicon_url=favicon)
    redoc = get_redoc_html(openapi_url=openapi_url, title=f"{title} - API reference",
                           redoc_js_url=f"{ASSET_PREFIX}/redoc.standalone.js", redoc_favicon_url=favicon,
                           with_google_fonts=False)
    pages = {"/docs": _secured(swagger.body), "/redoc": _secured(redoc.body)}

    for path, (body, headers) in pages.items():
        def page(body: bytes = body, headers: dict[str, str] = headers) -> Response:
            return HTMLResponse(body, headers=headers)

        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)

    for name, media_type in ASSETS.items():
        def asset(name: str = name, media_type: str = media_type) -> Response:
            headers = {"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"}
            if isinstance(files[name], Path):  # an installed package on disk (ETag, ranges, HEAD)
                return FileResponse(files[name], media_type=media_type, headers=headers)
            return Response(files[name].read_bytes(), media_type=media_type, headers=headers)  # a zipped one

        app.add_api_route(f"{ASSET_PREFIX}/{name}", asset, methods=["GET"], include_in_schema=False)


def _secured(body: bytes) -> tuple[bytes, dict[str, str]]:
    """A page and its headers: a policy allowing exactly its inline scripts (by their SHA-256)."""
    scripts = re.findall(rb"<script>(.*?)</script>", body, flags=re.DOTALL)
    allowed = ["'self'", *(f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
                           for script in scripts)]
    return body, {"content-security-policy": _POLICY.format(scripts=" ".join(allowed)),
                  "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
