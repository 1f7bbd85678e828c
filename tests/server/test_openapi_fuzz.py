"""Every operation of the OpenAPI schema, fuzzed with schemathesis with valid and invalid data: no
5xx, invalid data refused, and every answer matches the schema (status codes, content types, bodies)."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.testclient import TestClient

from torchworks.server.startup import load_models
from torchworks.server.app import build_app
from torchworks.server.settings import ServeSettings


@pytest.fixture(scope="module")
def fuzzed_schema(image_run):
    config = ServeSettings(max_wait_ms=1.0, allowed_hosts=("testserver",))  # the fuzzer's Host header
    models, metrics = load_models([str(image_run)], config)
    app = build_app(models, config, metrics)
    with TestClient(app):  # runs the lifespan: models started and warmed
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_survives_fuzzing(fuzzed_schema):
    operations = [result.ok() for result in fuzzed_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/models/shapes/predict", "/healthz", "/readyz", "/metrics",
                                              "/v1/models", "/v1/models/shapes"}
    answered: dict[tuple[str, str], list[int]] = {}
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call()
            answered.setdefault((case.path, mode.value), []).append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
            # a schema cannot say "a decodable image", so schema-valid bodies may rightly get a 4xx
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing to get wrong: no parameters, no body
    refused = answered[("/v1/models/shapes/predict", "negative")]
    assert len(refused) >= 20 and all(400 <= status < 500 for status in refused)
