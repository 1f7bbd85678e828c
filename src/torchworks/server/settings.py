"""How a server runs: where it listens, how it batches, what it accepts. One validated object."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
Backend = Literal["auto", "eager", "torchscript", "onnx", "torchscript-int8", "onnx-int8"]


class ServeSettings(BaseModel):
    """Settings of ``torchworks serve`` (each is also a ``--flag``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field("127.0.0.1", description="Interface to bind; anything but loopback needs an API key.")
    port: int = Field(8080, ge=0, le=65_535, description="TCP port (0: any free port).")
    backend: Backend = Field("auto", description="auto: the ONNX export when the bundle has one that passed its parity gate, else eager.")
    backends: dict[str, Backend] = Field(default_factory=dict, description="Per-model backends, by model name.")
    max_batch: int = Field(32, ge=1, le=4096, description="Most inputs run through a model at once.")
    max_wait_ms: float = Field(2.0, ge=0, le=10_000, description="How long a batch waits to fill up.")
    queue_size: int = Field(256, ge=1, le=1_000_000, description="Requests waiting per model before 503.")
    timeout_s: float = Field(30.0, gt=0, le=3600, description="Per-request deadline; 504 after it.")
    max_body_mb: float = Field(16.0, gt=0, le=1024, description="Largest request body accepted (413 above).")
    max_inputs: int = Field(256, ge=1, le=100_000, description="Most inputs in one request (413 above).")
    max_explain_inputs: int = Field(8, ge=1, le=1000, description="Most inputs in one explain request (413 above); "
                                    "explanations cost tens of forward and backward passes each.")
    threads: int = Field(0, ge=0, le=256, description="Threads per model for inference (0: all cores).")
    api_keys: tuple[str, ...] = Field((), description="Accepted bearer tokens; empty: no authentication.")
    insecure: bool = Field(False, description="Allow a non-loopback bind without API keys.")
    allowed_hosts: tuple[str, ...] = Field((), description="Extra Host header values accepted (DNS-rebinding guard).")
    drain_s: float = Field(30.0, ge=0, le=3600, description="Grace period for in-flight requests on SIGTERM.")
    drain_delay_s: float = Field(1.0, ge=0, le=600, description="On SIGTERM, how long the server keeps accepting "
                                 "and answering while /readyz already says 503, so that load balancers stop "
                                 "sending before the port closes; set it to the readiness probe's period. A "
                                 "second SIGTERM, or SIGINT (Ctrl-C), skips it.")

    def backend_of(self, model: str) -> str:
        return self.backends.get(model, self.backend)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS
