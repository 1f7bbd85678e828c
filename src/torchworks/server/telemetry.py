"""Prometheus metrics of one server: requests by model, route and status, requests in progress, latency,
batch sizes, queue depth.

Each app owns its registry, so two servers in one process (tests) never share counters. Unknown model
names are counted as ``-`` so that a client cannot grow the label set without bound.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # the *_created series only double what a scraper already knows

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServerMetrics:
    """The counters, histograms and gauges ``GET /metrics`` exposes."""

    def __init__(self, model_names: list[str]):
        self.registry = CollectorRegistry()
        self.known = set(model_names)
        self.requests = Counter("torchworks_requests", "Model requests answered, by model, route (predict, "
                                "explain) and HTTP status.", ["model", "route", "code"], registry=self.registry)
        self.latency = Histogram("torchworks_request_seconds", "Model request latency, by model and route.",
                                 ["model", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("torchworks_batch_size", "Inputs per model call, by model.", ["model"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.in_progress = Gauge("torchworks_requests_in_progress", "Model requests accepted and not yet "
                                 "answered (reading the body, queued or running), by model and route.",
                                 ["model", "route"], registry=self.registry)
        self.queue_depth = Gauge("torchworks_queue_depth", "Requests waiting or running, by model.", ["model"],
                                 registry=self.registry)
        self.errors = Counter("torchworks_errors", "Error responses of any route, by HTTP status and error code.",
                              ["code", "error"], registry=self.registry)

    def label(self, model: str) -> str:
        return model if model in self.known else "-"

    def track_queue(self, model: str, depth: Callable[[], int]) -> None:
        self.queue_depth.labels(model).set_function(depth)

    def track_in_progress(self, model: str, route: str = "predict"):
        """A context manager that counts one model request in progress while it runs."""
        return self.in_progress.labels(self.label(model), route).track_inprogress()

    def observe_request(self, model: str, status: int, seconds: float, route: str = "predict") -> None:
        label = self.label(model)
        self.requests.labels(label, route, str(status)).inc()
        if status < 400:
            self.latency.labels(label, route).observe(seconds)

    def observe_error(self, status: int, error: str) -> None:
        self.errors.labels(str(status), error).inc()

    content_type = CONTENT_TYPE_LATEST

    def render(self) -> bytes:
        return generate_latest(self.registry)
