"""What every request passes first: API keys, Host (DNS rebinding), cross-site origins, encodings,
body size, and the page's login cookie."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient

BASE_URL = "http://127.0.0.1:8080"
KEY = "k" * 8 + "-test-key-0123456789"


@pytest.fixture
def keyed(make_app, image_run):
    app, _ = make_app([image_run], api_keys=(KEY,))
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def test_keys_guard_everything_but_health(keyed, shapes_png):
    files = {"file": ("c.png", shapes_png, "image/png")}
    for method, path in (("post", "/v1/models/shapes/predict"), ("get", "/v1/models"), ("get", "/ui"),
                         ("get", "/metrics"), ("get", "/docs"), ("get", "/openapi.json")):
        response = getattr(keyed, method)(path, **({"files": files} if method == "post" else {}))
        assert response.status_code == 401, path
        assert response.json()["error"] == "unauthorized" and response.headers["www-authenticate"] == "Bearer"
    wrong = keyed.post("/v1/models/shapes/predict", files=files, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and KEY not in wrong.text and "a wrong key" in wrong.json()["message"]
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/readyz").status_code == 200
    right = keyed.post("/v1/models/shapes/predict", files=files, headers={"authorization": f"Bearer {KEY}"})
    assert right.status_code == 200
    [prediction] = right.json()["predictions"]
    assert prediction["input"] == "c.png" and prediction["label"] in ("circle", "square", "stripes")


def test_the_login_form_sets_a_strict_cookie_that_opens_the_page(keyed):
    assert keyed.get("/ui/login").status_code == 200
    refused = keyed.post("/ui/login", data={"key": "wrong"}, headers={"origin": BASE_URL}, follow_redirects=False)
    assert refused.status_code == 401
    accepted = keyed.post("/ui/login", data={"key": KEY}, headers={"origin": BASE_URL}, follow_redirects=False)
    assert accepted.status_code == 303
    cookie = accepted.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert keyed.get("/ui").status_code == 200  # the client keeps the cookie
    listed = keyed.get("/v1/models")
    assert listed.status_code == 200 and [m["name"] for m in listed.json()["models"]] == ["shapes"]


@pytest.mark.parametrize("headers", [
    {"host": "evil.example"},
    {"host": "evil.example:8080"},
    {"host": "127.0.0.1.evil.example"},
])
def test_requests_for_other_host_names_are_refused(make_app, image_run, headers):
    app, _ = make_app([image_run])
    with TestClient(app, base_url=BASE_URL) as client:
        response = client.get("/v1/models", headers=headers)
        assert response.status_code == 400 and response.json()["error"] == "unknown_host"


def test_allowed_hosts_extend_the_list(make_app, image_run):
    app, _ = make_app([image_run], allowed_hosts=("models.internal",))
    with TestClient(app, base_url="http://models.internal:8080") as client:
        assert client.get("/v1/models").status_code == 200


@pytest.mark.parametrize(("method", "headers"), [
    ("post", {"sec-fetch-site": "cross-site"}),
    ("post", {"origin": "http://evil.example"}),
    ("post", {"origin": "http://127.0.0.1:9999"}),
    ("delete", {"sec-fetch-site": "cross-site"}),
    ("delete", {"origin": "http://evil.example"}),
    ("put", {"origin": "null"}),
])
def test_cross_site_writes_are_refused(make_app, image_run, shapes_png, method, headers):
    app, _ = make_app([image_run])
    with TestClient(app, base_url=BASE_URL) as client:
        response = client.request(method.upper(), "/v1/models/shapes/predict", headers=headers, content=shapes_png)
        assert response.status_code == 403 and response.json()["error"] == "cross_site"
        same_origin = client.post("/v1/models/shapes/predict", content=shapes_png,
                                  headers={"origin": BASE_URL, "sec-fetch-site": "same-origin", "content-type": "image/png"})
        assert same_origin.status_code == 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, identity"])
def test_compressed_bodies_are_refused_unread(make_app, image_run, encoding):
    import gzip

    app, _ = make_app([image_run])
    bomb = gzip.compress(b" " * (65 << 20))  # 65 MB of spaces in about 64 KB
    with TestClient(app, base_url=BASE_URL) as client:
        response = client.post("/v1/models/shapes/predict", content=bomb,
                               headers={"content-encoding": encoding, "content-type": "application/json"})
        assert response.status_code == 415 and response.json()["error"] == "unsupported_encoding"


def test_bad_content_length_is_400(make_app, image_run):
    app, _ = make_app([image_run])
    with TestClient(app, base_url=BASE_URL) as client:
        response = client.post("/v1/models/shapes/predict", content=b"x",
                               headers={"content-length": "12abc", "content-type": "image/png"})
        assert response.status_code == 400 and response.json()["error"] == "bad_length", response.text
        assert "'12abc'" in response.json()["message"]


def test_multipart_abuse_is_4xx(make_app, image_run, shapes_png):
    app, _ = make_app([image_run], max_body_mb=4)
    with TestClient(app, base_url=BASE_URL) as client:
        url = "/v1/models/shapes/predict"
        many_fields = {f"f{i}": "x" for i in range(10_000)}
        response = client.post(url, data=many_fields, files={"file": ("c.png", shapes_png, "image/png")})
        assert response.status_code == 400 and response.json()["error"] == "bad_multipart", response.text
        assert "16 fields" in response.json()["message"]
        huge_field = {"options": "x" * (5 << 20)}
        response = client.post(url, data=huge_field, files={"file": ("c.png", shapes_png, "image/png")})
        assert response.status_code == 413 and response.json()["error"] == "payload_too_large", response.text
        boundary = "b" * 40
        headers_bomb = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.png\"\r\n"
                        + "X-Pad: " + "y" * 200_000 + "\r\n\r\n").encode() + shapes_png + f"\r\n--{boundary}--\r\n".encode()
        response = client.post(url, content=headers_bomb, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert 400 <= response.status_code < 500 and response.json()["error"] == "bad_multipart", response.text
        assert client.get("/healthz").status_code == 200


def test_a_key_is_never_written_to_the_log(image_run, server_process, tmp_path, shapes_png):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# operators' keys\n{KEY}\n")
    with server_process([str(image_run), "--port", "0", "--api-key-file", str(keys)]) as (process, url):
        httpx.post(f"{url}/v1/models/shapes/predict", files={"file": ("c.png", shapes_png, "image/png")},
                   headers={"authorization": "Bearer wrong-key-wrong-key"})
        ok = httpx.post(f"{url}/v1/models/shapes/predict", files={"file": ("c.png", shapes_png, "image/png")},
                        headers={"authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert KEY not in errors and "wrong-key" not in errors


def test_a_keyed_server_may_listen_beyond_loopback(image_run, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(KEY + "\n")
    code = ("import sys\nfrom torchworks.server.startup import check_bind\nfrom torchworks.server.settings import "
            f"ServeSettings\ncheck_bind(ServeSettings(host='0.0.0.0', api_keys=({KEY!r},)))\n"
            "check_bind(ServeSettings(host='0.0.0.0', insecure=True))\nprint('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"
