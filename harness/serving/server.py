"""Running the app under uvicorn with its limits set: the same settings for ``rag-harden serve`` and for the
in-process loopback server that tests and benchmarks use.

uvicorn's own settings cover what they can: ``timeout_keep_alive`` (idle keep-alive connections),
``h11_max_incomplete_event_size`` (request line plus headers), ``limit_concurrency`` (open connections;
then 503), ``access_log=False`` (its access line carries the query string; :mod:`harness.serving.middleware`
writes one without it). uvicorn has no header read timeout: a client may send half its headers and hold the
connection for ever. :func:`header_timeout_protocol` adds one to uvicorn's h11 protocol: the headers of each
request must be complete within ``header_timeout_s`` of the connection opening (or of the first byte of a
request that follows another on a keep-alive connection), else the connection gets a 408 and is closed, and
``/metrics`` counts it (``rag_harden_slow_clients_total{kind="header_timeout"}``).
"""

from __future__ import annotations

import copy
import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

from harness.config import ServeConfig


def header_timeout_protocol(header_timeout_s: float, on_timeout: Callable[[str], None] | None = None) -> type:
    """uvicorn's h11 protocol with a deadline on the request headers."""
    import asyncio

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from harness.serving.errors import error_body

    body = error_body("request_timeout", f"request headers not received within {header_timeout_s:g} s", "-")
    reply = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )

    class HeaderTimeoutH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # a new request on a kept-alive connection: its headers get the same deadline
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(header_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if on_timeout is not None:
                on_timeout("header_timeout")
            self.transport.write(reply)
            self.transport.close()

    return HeaderTimeoutH11Protocol


def uvicorn_settings(app: Any, config: ServeConfig) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that apply ``config``'s connection limits to ``app``."""
    on_timeout = getattr(getattr(app, "state", None), "on_slow_client", None)
    return {
        "http": header_timeout_protocol(config.header_timeout_s, on_timeout),
        "timeout_keep_alive": config.keep_alive_s,
        "h11_max_incomplete_event_size": config.max_header_bytes,
        "limit_concurrency": config.max_connections,
        "timeout_graceful_shutdown": int(config.request_timeout_s),
        "access_log": False,
        "server_header": False,
    }


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging configuration plus the ``rag_harden`` loggers (access, errors) on its stream."""
    from uvicorn.config import LOGGING_CONFIG

    conf = copy.deepcopy(LOGGING_CONFIG)
    conf["loggers"]["rag_harden"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return conf


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, config: ServeConfig) -> str | None:
    """A warning when the server binds beyond loopback without a bearer token, else None."""
    if is_loopback(host) or config.api_key_env is not None:
        return None
    return (
        f"serving on {host} without an API key: anyone who can reach this address can query the "
        "pipeline; set serve.api_key_env to require a bearer token"
    )


class BackgroundServer:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread (a context manager returning the base URL); for
    tests and benchmarks that need a real server in-process. With a :class:`ServeConfig` (or an app made by
    ``create_app``, whose limits are taken when none is given) the server has the limits of
    ``rag-harden serve``. uvicorn does not configure logging here (``log_config=None``): its records reach the
    root logger."""

    def __init__(
        self, app: Any, port: int = 0, config: ServeConfig | None = None, log_level: str = "warning"
    ) -> None:
        import uvicorn

        config = config or getattr(getattr(app, "state", None), "serve_config", None)
        settings = uvicorn_settings(app, config) if config is not None else {}
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level=log_level,
                lifespan="off",
                log_config=None,
                **settings,
            )
        )
        self.thread: threading.Thread | None = None

    def __enter__(self) -> str:
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


__all__ = [
    "BackgroundServer",
    "exposure_warning",
    "header_timeout_protocol",
    "is_loopback",
    "log_config",
    "uvicorn_settings",
]
