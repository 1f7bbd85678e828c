"""POST /v1/models/{name}/explain: the same attributions as ``torchworks explain``, from whatever
backend predicts, without disturbing predictions; every mistake a 4xx in the error grammar."""

from __future__ import annotations

import base64
import concurrent.futures

import numpy as np
import pytest
from fastapi.testclient import TestClient

from torchworks.engine.explain import explain_items
from torchworks.engine.loading import load_model

BASE_URL = "http://127.0.0.1:8080"


@pytest.fixture
def client(make_app, image_run, text_run):
    app, _ = make_app([image_run, f"eager={image_run}", text_run], backends={"eager": "eager"},
                      max_explain_inputs=2)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as test_client:
        yield test_client


def _error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["message"] and "hint" in body and "Traceback" not in response.text
    return body


@pytest.mark.parametrize("model", ["shapes", "eager"])
def test_an_uploaded_image_gets_the_same_gradcam_as_the_cli(client, image_run, shapes_png, model):
    response = client.post(f"/v1/models/{model}/explain", files={"file": ("circle.png", shapes_png, "image/png")},
                           data={"target": "square"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == model and body["method"] == "gradcam"
    (record,) = body["explanations"]
    assert record["input"] == "circle.png" and record["target"] == "square" and record["method"] == "gradcam"
    assert base64.b64decode(record["figures"]["overlay"])[:8] == b"\x89PNG\r\n\x1a\n"
    # the same numbers as the engine gives for the same picture
    bundle, task, _, eager = load_model(image_run)
    path = image_run.parent.parent.parent / "shapes" / "circle" / "000.png"
    (local,) = explain_items(task, eager, bundle.state, [str(path)], target="square")
    np.testing.assert_allclose(record["attributions"]["map"], local.record["attributions"]["map"], atol=1e-5)


def test_text_is_explained_word_by_word_with_a_chosen_method_and_options(client, text_run):
    response = client.post("/v1/models/tickets/explain", json={"inputs": ["my refund and invoice please"],
                                                               "method": "integrated_gradients",
                                                               "options": {"steps": 8}})
    assert response.status_code == 200, response.text
    (record,) = response.json()["explanations"]
    words = record["attributions"]["words"]
    assert [w["word"] for w in words] == ["my", "refund", "and", "invoice", "please"]
    assert record["prediction"]["label"] == "billing" and record["html"].startswith("<p")
    top = max(words, key=lambda w: w["score"])["word"]
    assert top in ("refund", "invoice"), words
    # the same scores as the engine gives for the same text, method and steps
    bundle, task, _, eager = load_model(text_run)
    (local,) = explain_items(task, eager, bundle.state, ["my refund and invoice please"],
                             method="integrated_gradients", options={"steps": "8"})
    assert [w["word"] for w in local.record["attributions"]["words"]] == [w["word"] for w in words]
    np.testing.assert_allclose([w["score"] for w in words], [w["score"] for w in local.record["attributions"]["words"]],
                               atol=1e-5)


def test_explaining_leaves_the_served_eager_model_untouched(client, shapes_png):
    files = {"file": ("c.png", shapes_png, "image/png")}
    before = client.post("/v1/models/eager/predict", files=files).json()["predictions"][0]

    def explain() -> int:
        return client.post("/v1/models/eager/explain", files=files, data={"method": "saliency"}).status_code

    def predict() -> dict:
        return client.post("/v1/models/eager/predict", files=files).json()["predictions"][0]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        explained = [pool.submit(explain) for _ in range(3)]
        predicted = [pool.submit(predict) for _ in range(12)]
        assert all(f.result() in (200, 503) for f in explained) and 200 in [f.result() for f in explained]
        assert all(f.result() == before for f in predicted)
    served = client.app.state.models["eager"]
    assert not any(module._forward_hooks or module._backward_hooks for module in served.runner.model.modules())
    metrics = client.get("/metrics").text
    answered = sum(f.result() == 200 for f in explained)
    assert f'torchworks_requests_total{{code="200",model="eager",route="explain"}} {answered:.1f}' in metrics


@pytest.mark.parametrize("send, status, error", [
    (lambda c, png: c.post("/v1/models/shapes/explain", files={"file": ("c.png", png)}, data={"method": "gradcan"}),
     422, "config_error"),
    (lambda c, png: c.post("/v1/models/shapes/explain", files={"file": ("c.png", png)}, data={"target": "hexagon"}),
     422, "config_error"),
    (lambda c, png: c.post("/v1/models/shapes/explain", files=[("file", (f"{i}.png", png)) for i in range(3)]),
     400, "bad_multipart"),
    (lambda c, png: c.post("/v1/models/tickets/explain", json={"inputs": ["a", "b", "c"]}), 422, "invalid_request"),
    (lambda c, png: c.post("/v1/models/tickets/explain", json={"inputs": ["a"], "method": "occlusion"}),
     422, "invalid_request"),
    (lambda c, png: c.post("/v1/models/tickets/explain", json={"inputs": ["a"], "options": {"stepz": 3}}),
     422, "config_error"),
    (lambda c, png: c.post("/v1/models/tickets/explain", json={"inputs": ["a"], "top_k": 3}), 422, "invalid_request"),
    (lambda c, png: c.post("/v1/models/shapes/explain", content=b"\x89PNG\r\n\x1a\nbroken",
                           headers={"content-type": "image/png"}), 422, "data_error"),
    (lambda c, png: c.post("/v1/models/nope/explain", json={"inputs": ["a"]}), 404, "unknown_model"),
])
def test_bad_explain_requests_are_4xx(client, shapes_png, send, status, error):
    _error(send(client, shapes_png), status, error)
    assert client.get("/healthz").status_code == 200


def test_the_schema_lists_the_explain_route_with_its_methods(client):
    paths = client.get("/openapi.json").json()["paths"]
    body = paths["/v1/models/shapes/explain"]["post"]["requestBody"]["content"]
    form = body["multipart/form-data"]["schema"]["properties"]
    assert form["method"]["enum"] == ["gradcam", "saliency", "integrated_gradients", "occlusion"]
    assert "/v1/models/tickets/explain" in paths
    listing = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert listing["tickets"]["explain_methods"][0] == "integrated_gradients"
