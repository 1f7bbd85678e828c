"""The app in process: routes, typed answers, and every bad request as a 4xx in the error grammar."""

from __future__ import annotations

import base64
import io
import json
import warnings

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import torchworks

BASE_URL = "http://127.0.0.1:8080"


@pytest.fixture
def client(make_app, image_run):
    app, _ = make_app([image_run, f"eager={image_run}"], backends={"eager": "eager"})
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_grammar(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "message", "hint", "request_id"}, body
    assert "Traceback" not in response.text
    if error:
        assert body["error"] == error, body
    return body


def test_service_routes_answer(client):
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"] == ["eager", "shapes"]
    listing = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert listing["shapes"]["backend"] == "onnx" and listing["eager"]["backend"] == "eager"
    assert listing["shapes"]["input_kind"] == "image" and listing["shapes"]["labels"] == ["circle", "square", "stripes"]
    assert client.get("/v1/models/shapes").json()["task"] == "image-classification"


@pytest.mark.parametrize("model", ["shapes", "eager"])
def test_multipart_raw_and_base64_uploads_give_the_same_answer(client, shapes_png, model, image_run):
    url = f"/v1/models/{model}/predict"
    multipart = client.post(url, files={"file": ("circle.png", shapes_png, "image/png")})
    raw = client.post(url, content=shapes_png, headers={"content-type": "image/png"})
    encoded = client.post(url, json={"inputs": [{"name": "c.png", "base64": base64.b64encode(shapes_png).decode()}],
                                     "top_k": 2})
    answers = [r.json()["predictions"][0] for r in (multipart, raw, encoded)]
    # the answer of the Python API on the same file, computed without the server
    [expected] = torchworks.load(image_run).predict(str(image_run.parents[2] / "shapes" / "circle" / "000.png"))
    for answer in answers:
        assert answer["label"] == expected["label"]
        assert answer["probability"] == pytest.approx(expected["probability"], abs=1e-4)
    assert answers[0]["input"] == "circle.png" and answers[2]["input"] == "c.png"
    assert [t["label"] for t in answers[2]["top_k"]] == [t["label"] for t in expected["top_k"][:2]]
    assert sum(t["probability"] for t in answers[0]["top_k"]) == pytest.approx(1.0, abs=1e-4)
    assert multipart.json()["backend"] == ("onnx" if model == "shapes" else "eager")


def test_onnx_and_eager_agree(client, shapes_png):
    files = {"file": ("c.png", shapes_png, "image/png")}
    onnx = client.post("/v1/models/shapes/predict", files=files).json()["predictions"][0]
    eager = client.post("/v1/models/eager/predict", files=files).json()["predictions"][0]
    assert onnx["label"] == eager["label"]
    assert onnx["probability"] == pytest.approx(eager["probability"], abs=1e-4)


def test_several_files_in_one_request(client, shapes_png):
    files = [("file", (f"{i}.png", shapes_png, "image/png")) for i in range(5)]
    predictions = client.post("/v1/models/shapes/predict", files=files).json()["predictions"]
    assert [p["input"] for p in predictions] == [f"{i}.png" for i in range(5)]
    single = client.post("/v1/models/shapes/predict", files=[files[0]]).json()["predictions"][0]
    for prediction in predictions:  # the same image, batched with others, gets the answer it gets alone
        assert prediction["label"] == single["label"]
        assert prediction["probability"] == pytest.approx(single["probability"], abs=1e-5)


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "send", "status", "error"), [
    ("truncated png", lambda c, png: c.post("/v1/models/shapes/predict", files={"file": ("t.png", png[:60], "image/png")}),
     422, "data_error"),
    ("zero bytes", lambda c, png: c.post("/v1/models/shapes/predict", files={"file": ("e.png", b"", "image/png")}),
     422, "data_error"),
    ("text renamed png", lambda c, png: c.post("/v1/models/shapes/predict", files={"file": ("x.png", b"hello", "image/png")}),
     422, "data_error"),
    ("wrong suffix", lambda c, png: c.post("/v1/models/shapes/predict", files={"file": ("x.exe", png, "image/png")}),
     415, "unsupported_media_type"),
    ("wrong content type", lambda c, png: c.post("/v1/models/shapes/predict", content=png,
                                                  headers={"content-type": "application/xml"}), 415, None),
    ("no content type", lambda c, png: c.post("/v1/models/shapes/predict", content=png), 415, None),
    ("pickle", lambda c, png: c.post("/v1/models/shapes/predict", content=b"\x80\x04cos\nsystem\n.",
                                     headers={"content-type": "application/x-python-pickle"}), 415, None),
    ("unknown model", lambda c, png: c.post("/v1/models/shapez/predict", json={"inputs": []}), 404, "unknown_model"),
    ("unknown model info", lambda c, png: c.get("/v1/models/nope"), 404, "unknown_model"),
    ("not json", lambda c, png: c.post("/v1/models/shapes/predict", content=b"{inputs",
                                       headers={"content-type": "application/json"}), 400, "bad_json"),
    ("NaN literal", lambda c, png: c.post("/v1/models/shapes/predict", content=b'{"inputs": [NaN]}',
                                          headers={"content-type": "application/json"}), 400, "bad_json"),
    ("not utf-8", lambda c, png: c.post("/v1/models/shapes/predict", content=b'{"inputs": ["\xff"]}',
                                        headers={"content-type": "application/json"}), 400, "bad_json"),
    ("no inputs", lambda c, png: c.post("/v1/models/shapes/predict", json={"inputs": []}), 422, "invalid_request"),
    ("unknown field", lambda c, png: c.post("/v1/models/shapes/predict", json={"inputs": [], "x": 1}), 422, None),
    ("bad base64", lambda c, png: c.post("/v1/models/shapes/predict", json={"inputs": [{"name": "a.png", "base64": "%%"}]}),
     422, "bad_base64"),
    ("option not allowed", lambda c, png: c.post("/v1/models/shapes/predict", json={
        "inputs": [{"name": "a.png", "base64": base64.b64encode(png).decode()}], "options": {"lr": 1}}),
     422, "unknown_option"),
    ("multipart without file", lambda c, png: c.post("/v1/models/shapes/predict", data={"top_k": "2"},
                                                     files={"other": ("a.txt", b"x", "text/plain")}), 422, "no_file"),
    ("bad top_k", lambda c, png: c.post("/v1/models/shapes/predict", data={"top_k": "-1"},
                                        files={"file": ("a.png", png, "image/png")}), 422, None),
    ("no such route", lambda c, png: c.get("/v2/anything"), 404, "not_found"),
    ("wrong method", lambda c, png: c.get("/v1/models/shapes/predict"), 405, "method_not_allowed"),
])
def test_bad_requests_are_4xx_in_the_error_grammar(client, shapes_png, name, send, status, error):
    _assert_grammar(send(client, shapes_png), status, error)
    assert client.get("/readyz").status_code == 200  # still up


def test_too_many_inputs_is_413(make_app, image_run, shapes_png):
    app, _ = make_app([image_run], max_inputs=2)
    with TestClient(app, base_url=BASE_URL) as client:
        files = [("file", (f"{i}.png", shapes_png, "image/png")) for i in range(3)]
        _assert_grammar(client.post("/v1/models/shapes/predict", files=files), 400)  # more files than the parser takes
        encoded = {"name": "a.png", "base64": base64.b64encode(shapes_png).decode()}
        _assert_grammar(client.post("/v1/models/shapes/predict", json={"inputs": [encoded] * 3}), 422)


def test_decompression_bomb_png_is_refused_without_decoding(client):
    bomb = _png(20_000, 20_000)  # 400 million pixels in a few hundred kilobytes
    assert len(bomb) < 2_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would mean Pillow started on it
        body = _assert_grammar(client.post("/v1/models/shapes/predict", files={"file": ("bomb.png", bomb, "image/png")}),
                               422, "data_error")
    assert "400000000" in body["message"].replace(",", "") or "400,000,000" in body["message"]


def test_large_but_allowed_image_is_answered(client):
    pixels = (np.random.default_rng(0).random((300, 300)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    response = client.post("/v1/models/shapes/predict", files={"file": ("big.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 200
    [prediction] = response.json()["predictions"]
    assert prediction["input"] == "big.png" and prediction["label"] in ("circle", "square", "stripes")
    assert sum(t["probability"] for t in prediction["top_k"]) == pytest.approx(1.0, abs=1e-4)


def test_deep_json_is_400_then_the_server_still_answers(client, shapes_png):
    deep = b'{"inputs": ' + b"[" * 150_000 + b"]" * 150_000 + b"}"
    _assert_grammar(client.post("/v1/models/shapes/predict", content=deep, headers={"content-type": "application/json"}),
                    400, "bad_json")
    assert client.post("/v1/models/shapes/predict", files={"file": ("c.png", shapes_png, "image/png")}).status_code == 200


def test_huge_json_string_is_refused(client):
    body = b'{"inputs": [{"name": "a.png", "base64": "' + b"A" * (20 << 20) + b'"}]}'
    _assert_grammar(client.post("/v1/models/shapes/predict", content=body, headers={"content-type": "application/json"}),
                    413, "payload_too_large")


def test_metrics_count_requests_batches_and_errors(client, shapes_png):
    client.post("/v1/models/shapes/predict", files={"file": ("c.png", shapes_png, "image/png")})
    client.post("/v1/models/shapes/predict", files={"file": ("c.png", b"", "image/png")})
    client.post("/v1/models/unknown/predict", json={})
    text = client.get("/metrics").text
    assert 'torchworks_requests_total{code="200",model="shapes",route="predict"} 1.0' in text
    assert 'torchworks_requests_total{code="422",model="shapes",route="predict"} 1.0' in text
    assert 'torchworks_batch_size_count{model="shapes"}' in text
    assert 'torchworks_queue_depth{model="shapes"} 0.0' in text
    assert 'torchworks_errors_total{code="404",error="unknown_model"} 1.0' in text
    assert 'model="unknown"' not in text  # unknown names never become labels


def test_model_failure_is_a_500_with_request_id_and_the_next_request_works(client, shapes_png):
    runner = client.app.state.models["eager"].runner
    original = runner.model.forward

    def fail_once(*args, **kwargs):
        runner.model.forward = original
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")

    runner.model.forward = fail_once
    files = {"file": ("c.png", shapes_png, "image/png")}
    response = client.post("/v1/models/eager/predict", files=files, headers={"x-request-id": "abc-123"})
    body = _assert_grammar(response, 500, "out_of_memory")
    assert body["request_id"] == "abc-123" and "allocate" not in body["message"]
    assert client.post("/v1/models/eager/predict", files=files).status_code == 200


def test_openapi_describes_each_model_typed(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/v1/models/shapes/predict"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert response.endswith("ShapesResponse")
    assert "ShapesFileInput" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_ui_files_are_served_and_nothing_else(client):
    page = client.get("/ui")
    assert page.status_code == 200 and "torchworks" in page.text
    assert "content-security-policy" in page.headers
    assert client.get("/ui/app.js").status_code == 200
    for path in ("/ui/file=../../bundle.json", "/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/..%2fbundle.json",
                 "/ui/index.html/../../model.safetensors"):
        response = client.get(path)
        assert response.status_code in (403, 404), path
        assert "safetensors" not in response.text.lower() or response.status_code == 404


def test_json_is_strict_about_shape(client):
    body = json.dumps({"inputs": "not a list"})
    _assert_grammar(client.post("/v1/models/shapes/predict", content=body, headers={"content-type": "application/json"}),
                    422, "invalid_request")


def test_a_model_that_fails_to_warm_up_keeps_the_server_alive_but_never_ready(make_app, image_run):
    app, models = make_app([image_run], backends={"shapes": "eager"})

    def broken(inputs):
        raise RuntimeError("weights on a device that is gone")

    models[0].runner = broken
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        assert "RuntimeError" in ready.json()["reason"]


def test_a_text_that_names_a_server_file_is_classified_as_text(make_app, text_run, tmp_path, monkeypatch):
    """A request never makes the server open a file: 'secrets.csv' is just a short text."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets.csv").write_text("text\nrefund my card\n")
    app, _ = make_app([text_run])
    with TestClient(app, base_url=BASE_URL) as client:
        for text in ("secrets.csv", str(tmp_path / "secrets.csv"), "../../../../etc/passwd", "file:///etc/passwd"):
            predictions = client.post("/v1/models/tickets/predict", json={"inputs": [text]}).json()["predictions"]
            assert len(predictions) == 1 and predictions[0]["input"] == text and "row" not in predictions[0]


def test_models_describe_their_options_and_table_columns(make_app, speech_run, forecast_run):
    app, _ = make_app([f"speech={speech_run}", f"sales={forecast_run}"])
    with TestClient(app, base_url=BASE_URL) as client:
        speech, sales = (client.get(f"/v1/models/{name}").json() for name in ("speech", "sales"))
    assert speech["options"] == ["decoder", "beam_width"]
    decoder, width = speech["option_details"]["decoder"], speech["option_details"]["beam_width"]
    assert decoder["type"] == "string" and decoder["choices"] == ["greedy", "beam"] and decoder["default"] == "beam"
    assert (width["type"], width["minimum"], width["maximum"], width["default"]) == ("integer", 1, 1000, 2)
    assert width["choices"] is None and decoder["description"]
    assert speech["table"] is None
    assert sales["table"] == {"time": "week", "target": "sales", "series": "store", "covariates": [], "lookback": 8,
                              "horizon": 4}


# ------------------------------------------------------------------ object detection: boxes out
@pytest.fixture(scope="module")
def detection_served(detection_run, tmp_path_factory):
    """The shared detection run, copied and exported to ONNX once: served as ``scenes`` (its ONNX
    export, chosen by auto) and ``scenes-eager``."""
    import shutil

    from torchworks.engine.export import export

    run = shutil.copytree(detection_run, tmp_path_factory.mktemp("served-detection") / "run")
    [result] = export(run, "onnx", threads=1)
    assert result.passed, result.describe()
    return run


@pytest.fixture
def detector(make_app, detection_served):
    app, _ = make_app([f"scenes={detection_served}", f"scenes-eager={detection_served}"],
                      backends={"scenes-eager": "eager"})
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def scene_jpg(scenes_dir) -> tuple[str, bytes]:
    path = sorted((scenes_dir / "images").iterdir())[1]
    return str(path), path.read_bytes()


def own_conf(run) -> float:
    """The score threshold a detection run predicts with when a request names none (its training config's)."""
    return json.loads((run / "bundle.json").read_text())["config"]["conf"]


def _boxes_are_well_formed(record: dict, labels: list[str], conf: float) -> None:
    assert record["count"] == len(record["boxes"])
    scores = [box["score"] for box in record["boxes"]]
    assert scores == sorted(scores, reverse=True) and all(score > conf for score in scores)
    for box in record["boxes"]:
        x1, y1, x2, y2 = box["xyxy"]
        assert 0 <= x1 < x2 <= record["width"] and 0 <= y1 < y2 <= record["height"], box
        assert box["label"] in labels


def test_detection_image_in_boxes_out_as_the_python_api_gives_them(detector, detection_served, scene_jpg):
    path, data = scene_jpg
    about = detector.get("/v1/models/scenes").json()
    assert about["draws"] == "boxes" and about["backend"] == "onnx" and about["backend_parity"]["metric"] == "map"
    assert about["options"] == ["conf", "iou", "max_det", "classes"] and about["option_details"]["conf"]["default"] == own_conf(detection_served)
    labels = about["labels"]
    options = {"conf": 0.01}
    multipart = detector.post("/v1/models/scenes/predict", files={"file": ("scene.jpg", data, "image/jpeg")},
                              data={"options": json.dumps(options)})
    encoded = detector.post("/v1/models/scenes/predict", json={
        "inputs": [{"name": "scene.jpg", "base64": base64.b64encode(data).decode()}], "options": options})
    eager = detector.post("/v1/models/scenes-eager/predict", files={"file": ("scene.jpg", data, "image/jpeg")},
                          data={"options": json.dumps(options)})
    assert multipart.status_code == encoded.status_code == eager.status_code == 200, multipart.text
    [expected] = torchworks.load(detection_served).predict([path], conf=0.01)
    assert expected["count"] > 0  # a low threshold: the barely trained model still finds boxes
    for response in (multipart, encoded, eager):
        [record] = response.json()["predictions"]
        assert (record["input"], record["width"], record["height"]) == ("scene.jpg", 128, 128)
        _boxes_are_well_formed(record, labels, 0.01)
        assert record["count"] == expected["count"]
        for got in record["boxes"]:  # the same boxes (near-equal scores of an untrained model may swap places)
            assert any(got["label"] == want["label"] and got["score"] == pytest.approx(want["score"], abs=2e-4)
                       and got["xyxy"] == pytest.approx(want["xyxy"], abs=0.11) for want in expected["boxes"]), got
    assert multipart.json()["backend"] == "onnx" and eager.json()["backend"] == "eager"


def test_detection_options_apply_per_request(detector, detection_served, scene_jpg):
    _, data = scene_jpg

    def boxes(**options):
        response = detector.post("/v1/models/scenes/predict", files={"file": ("s.jpg", data, "image/jpeg")},
                                 data={"options": json.dumps(options)})
        assert response.status_code == 200, response.text
        return response.json()["predictions"][0]["boxes"]

    low = boxes(conf=0.01)
    distinct = sorted({b["score"] for b in low})
    threshold = (distinct[len(distinct) // 2 - 1] + distinct[len(distinct) // 2]) / 2  # between two shown scores
    high = boxes(conf=threshold)
    assert 0 < len(high) < len(low) and all(b["score"] > threshold for b in high)
    assert high == [b for b in low if b["score"] > threshold]  # the same boxes, fewer of them
    assert len(boxes(conf=0.01, max_det=2)) == 2
    wanted = low[0]["label"]
    only = boxes(conf=0.01, classes=wanted)
    assert only and {b["label"] for b in only} == {wanted}
    looser = boxes(conf=0.01, iou=0.9)  # NMS removes less when boxes may overlap more
    assert len(looser) >= len(low)
    conf = own_conf(detection_served)
    assert boxes() == [b for b in low if b["score"] > conf]  # the model's own conf when none is given


@pytest.mark.parametrize("name, send, status, error, says", [
    ("a text file named as an image", lambda c, jpg: c.post("/v1/models/scenes/predict", files={
        "file": ("notes.png", b"these are my notes, not an image\n", "image/png")}), 422, "data_error",
     "cannot read image 'notes.png'"),
    ("a text file with its own suffix", lambda c, jpg: c.post("/v1/models/scenes/predict", files={
        "file": ("notes.txt", b"notes\n", "text/plain")}), 415, "unsupported_media_type", "not a kind scenes reads"),
    ("text sent raw as an image", lambda c, jpg: c.post("/v1/models/scenes/predict", content=b"notes\n",
                                                        headers={"content-type": "image/png"}), 422, "data_error",
     "cannot read image"),
    ("text as base64 JSON", lambda c, jpg: c.post("/v1/models/scenes/predict", json={
        "inputs": [{"name": "n.jpg", "base64": base64.b64encode(b"notes").decode()}]}), 422, "data_error",
     "cannot read image 'n.jpg'"),
    ("an unknown class", lambda c, jpg: c.post("/v1/models/scenes/predict", files={"file": ("s.jpg", jpg, "image/jpeg")},
                                               data={"options": '{"classes": "dog"}'}), 422, "config_error",
     "unknown class 'dog'"),
    ("conf over 1", lambda c, jpg: c.post("/v1/models/scenes/predict", json={
        "inputs": [{"name": "s.jpg", "base64": base64.b64encode(jpg).decode()}], "options": {"conf": 2}}), 422,
     "config_error", "conf"),
    ("tiling is not a request option", lambda c, jpg: c.post("/v1/models/scenes/predict", files={
        "file": ("s.jpg", jpg, "image/jpeg")}, data={"options": '{"tile": 64}'}), 422, "unknown_option", "tile"),
])
def test_bad_detection_requests_are_4xx_in_the_error_grammar(detector, scene_jpg, name, send, status, error, says):
    body = _assert_grammar(send(detector, scene_jpg[1]), status, error)
    assert says in body["message"], body
    assert detector.get("/readyz").status_code == 200
