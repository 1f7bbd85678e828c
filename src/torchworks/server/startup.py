"""The ``serve`` mode: bundles (or registry versions) behind one HTTP server on one port.

Everything that can be wrong is checked before the port opens: the bind is safe (a non-loopback
address needs API keys unless ``--insecure``), every reference resolves, every bundle loads and
its exports verify. SIGTERM turns ``/readyz`` to 503 at once, keeps answering for ``drain_delay_s``
(load balancers take a probe period to notice), then closes the port and lets in-flight requests finish
within ``drain_s`` before the process exits 0.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from torchworks.errors import ConfigError, did_you_mean
from torchworks.registry.versions import NAME as MODEL_NAME
from torchworks.server.settings import ServeSettings



def check_bind(settings: ServeSettings) -> None:
    """Refuse to listen beyond this machine without API keys, unless told so explicitly."""
    if not settings.is_loopback and not settings.api_keys and not settings.insecure:
        raise ConfigError(f"refusing to serve on {settings.host} without API keys",
                          expected="--api-key-file FILE for an address other machines can reach",
                          got="no keys", hint="add --api-key-file keys.txt, or --insecure if the network is trusted")


def read_api_keys(path: Path) -> tuple[str, ...]:
    """Keys from a file, one per line (blank lines and ``#`` comments ignored)."""
    if not path.is_file():
        raise ConfigError(f"API key file '{path}' does not exist", expected="a file with one key per line",
                          got="no such file", hint="create it, e.g. `python -c 'import secrets; print(secrets."
                          "token_urlsafe(32))' > keys.txt`")
    keys = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.lstrip().startswith("#"))
    short = [key for key in keys if len(key) < 16]
    if not keys or short:
        raise ConfigError(f"API key file '{path}' holds {'no keys' if not keys else 'a key that is too short'}",
                          expected="keys of at least 16 characters, one per line",
                          got=f"{len(keys)} keys" if not short else f"a key of {len(short[0])} characters",
                          hint="generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    return keys


def resolve_reference(reference: str, registry: str | None = None):
    """``RUN``, ``NAME=RUN`` or ``registry:NAME@ALIAS`` / ``registry:NAME/VERSION`` -> (name, source)."""
    from torchworks.server.models import ModelSource

    name, sep, target = reference.partition("=")
    if not sep:
        name, target = "", reference
    if target.startswith("registry:"):
        from torchworks.registry import resolve_registry_reference

        resolved = resolve_registry_reference(target.removeprefix("registry:"), registry)
        return name or resolved.name, ModelSource(resolved.bundle, resolved.facts())
    run = Path(target).expanduser()
    return name or run.name, ModelSource(run)


def load_models(references: list[str], settings: ServeSettings, registry: str | None = None):
    """The served models with their metrics, loaded and checked (not yet started)."""
    from torchworks.server.models import ServedModel
    from torchworks.server.telemetry import ServerMetrics

    if not references:
        raise ConfigError("no model to serve", expected="one or more run folders or registry references",
                          got="none", hint="torchworks serve runs/<task>/<name>")
    resolved = [resolve_reference(reference, registry) for reference in references]
    names = [name for name, _ in resolved]
    for name in names:
        if not MODEL_NAME.match(name):
            raise ConfigError(f"'{name}' cannot be a model name in URLs", expected="letters, digits, '.', '_' "
                              "or '-', at most 64", got=repr(name), hint="name it explicitly: NAME=RUN")
    unknown = sorted(set(settings.backends) - set(names))
    if unknown:
        raise ConfigError(f"--backend names model '{unknown[0]}', which is not served", expected="one of: "
                          + ", ".join(names), got=unknown[0], hint=did_you_mean(unknown[0], names))
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise ConfigError(f"two models are called '{duplicate}'", expected="one name per model",
                          got=f"{names.count(duplicate)} models", hint=f"name them: a={duplicate}_run b=...")
    metrics = ServerMetrics(names)
    return [ServedModel(name, source, settings, metrics) for name, source in resolved], metrics


def serve(references: list[str], settings: ServeSettings, announce: Callable[[str], None] = print,
          registry: str | None = None) -> None:
    """Load, bind, announce the address, and serve until SIGINT/SIGTERM."""
    import torch
    import uvicorn

    from torchworks.server.app import build_app

    check_bind(settings)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    models, metrics = load_models(references, settings, registry)
    app = build_app(models, settings, metrics)
    listener = _bind(settings)
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=settings.drain_s,
                            timeout_keep_alive=5, h11_max_incomplete_event_size=64 * 1024, access_log=False,
                            server_header=False)
    server = _draining_server(config, app.state.readiness, settings.drain_delay_s)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    announce(f"serving {', '.join(m.name for m in models)} at http://{host}:{port} (page: /ui, API: /docs)")
    server.run(sockets=[listener])


def _bind(settings: ServeSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off only on sockets whose protocol
    # says TCP, and with it on, small answers wait ~40 ms for the client's delayed ACK
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((settings.host, settings.port))
    except OSError as error:
        listener.close()
        raise ConfigError(f"cannot listen on {settings.host}:{settings.port}", expected="a free port on a local "
                          "address", got=error.strerror or str(error), hint="choose another --port") from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _draining_server(config, readiness, delay_s: float):
    """uvicorn's server, with ``/readyz`` turned to 503 the moment a shutdown signal arrives, and
    exit code 0 once in-flight requests have drained.

    On SIGTERM the server first keeps accepting and answering for ``delay_s`` seconds while ``/readyz``
    says 503: a load balancer notices at its next probe and stops sending, so no client meets a closed
    port. Then uvicorn's graceful shutdown runs (the port closes, in-flight requests get ``drain_s``).
    SIGINT (Ctrl-C) or a second SIGTERM skips what is left of the delay.
    """
    import signal
    import threading

    import uvicorn

    class DrainingServer(uvicorn.Server):
        delay: threading.Timer | None = None

        def handle_exit(self, sig, frame) -> None:
            readiness.set("draining", "the server is shutting down")
            if self.delay is None and sig == signal.SIGTERM and delay_s > 0:
                # a timer thread, not the event loop: this runs inside a signal handler
                self.delay = threading.Timer(delay_s, self.stop_accepting, args=(sig,))
                self.delay.daemon = True
                self.delay.start()
                return
            if self.delay is not None:
                self.delay.cancel()
            self.stop_accepting(sig)

        def stop_accepting(self, sig) -> None:
            super().handle_exit(sig, None)
            # a drained shutdown is a clean exit (0), not death by the signal uvicorn would re-raise
            self._captured_signals.clear()

    return DrainingServer(config)
