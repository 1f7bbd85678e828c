"""The API docs pages: local files only, a policy that admits exactly their inline script, and a clear
error at start-up when the files are not installed."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from torchworks.errors import ConfigError
from torchworks.server import docs

BASE_URL = "http://127.0.0.1:8080"


@pytest.fixture
def client(make_app, image_run):
    app, _ = make_app([image_run])
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_name_only_files_of_this_server(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith(("/docs/assets/", "/openapi.json")) for s in sources), sources
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no web fonts
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    inline = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    allowed = re.findall(r"'sha256-([^']+)'", policy)
    assert len(allowed) == len(inline) == (1 if path == "/docs" else 0)
    for script in inline:
        assert base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() in allowed
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_docs_assets_are_the_installed_files(client):
    folder = resources.files(docs.ASSET_PACKAGE).joinpath(docs.ASSET_FOLDER)
    for name, media_type in docs.ASSETS.items():
        answer = client.get(f"/docs/assets/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == media_type
        assert answer.content == folder.joinpath(name).read_bytes()
    assert b"SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").content
    assert client.get("/docs/assets/../app.py").status_code == 404
    assert client.get("/docs/assets/oauth2-redirect.html").status_code == 404


def test_missing_docs_files_stop_the_app_with_the_package_named(make_app, image_run, monkeypatch):
    with pytest.raises(ConfigError, match="not installed") as missing:
        docs.docs_assets("torchworks_no_such_docs_package")
    assert "torchworks_no_such_docs_package" in str(missing.value)

    monkeypatch.setitem(docs.ASSETS, "redoc.standalone.js.gone", "text/javascript")
    with pytest.raises(ConfigError, match="'redoc.standalone.js.gone' is missing") as absent:
        make_app([image_run])
    assert "fastapi_offline" in str(absent.value) and "pip install --force-reinstall fastapi-offline" in absent.value.hint


def test_serve_refuses_to_start_without_the_docs_files(cli, image_run, monkeypatch):
    monkeypatch.setattr(docs, "ASSET_FOLDER", "gone")
    code, _, err = cli("serve", str(image_run), "--port", "0")
    assert code == 2
    assert "the API docs' file 'swagger-ui-bundle.js' is missing" in err and "Traceback" not in err
