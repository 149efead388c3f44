"""Running the app under uvicorn with its limits set: the same settings for ``rag-harden serve`` and for the
in-process loopback server that tests and benchmarks use.

uvicorn's own settings cover what they can: ``timeout_keep_alive`` (idle keep-alive connections),
``limit_concurrency`` (open connections; then 503), ``access_log=False`` (its access line carries the query
string; :mod:`harness.serving.middleware` writes one without it), ``proxy_headers=False`` (its middleware
rewrote every request's client address from ``X-Forwarded-For``, which nothing here reads). uvicorn has no
header read timeout: a client may send half its headers and hold the connection for ever.
:func:`header_timeout_protocol` adds one to uvicorn's HTTP protocol: the headers of each request must be
complete within ``header_timeout_s`` of the connection opening (or of the first byte of a request that follows
another on a keep-alive connection), else the connection gets a 408 and is closed, and ``/metrics`` counts it
(``rag_harden_slow_clients_total{kind="header_timeout"}``).

The protocol is httptools (uvicorn's C parser) when it is installed, h11 (pure Python) otherwise: at 200
req/s in front of a fixed-latency pipeline (``python -m bench.serve_overhead``) h11's parsing and writing held
the GIL for about 23% of the event loop's time (py-spy ``--gil``), and a ``/v1/query`` took 1311 function
calls on the loop on h11 against 933 on httptools (cProfile). Both bound the request line plus headers by
``max_header_bytes`` (then uvicorn's 400): h11 through ``h11_max_incomplete_event_size`` (what it buffers of
incomplete headers), httptools by counting in :func:`httptools_protocol`.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import importlib.util
import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

from harness.config import ServeConfig


class _HeaderDeadline:
    """The header deadline shared by both protocols: armed when a connection opens and at the first byte of
    each later request, disarmed once the headers are complete; on expiry a 408 and the connection closed."""

    header_timeout_s: float
    timeout_reply: bytes
    timeout_hooks: tuple[Callable[[str], None], ...] = ()  # in a tuple: a function is not bound as a method
    _header_timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_pending(self) -> bool:
        raise NotImplementedError

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._headers_pending():
            return
        for hook in self.timeout_hooks:
            hook("header_timeout")
        self.transport.write(self.timeout_reply)
        self.transport.close()


def _timeout_reply(header_timeout_s: float) -> bytes:
    from harness.serving.errors import error_body

    body = error_body("request_timeout", f"request headers not received within {header_timeout_s:g} s", "-")
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )


def h11_protocol(header_timeout_s: float, on_timeout: Callable[[str], None] | None = None) -> type:
    """uvicorn's h11 protocol (pure Python) with the header deadline; the header size limit is h11's
    ``max_incomplete_event_size``."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(_HeaderDeadline, H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:
                self._arm()  # a new request on a kept-alive connection: its headers get the same deadline
            super().data_received(data)
            if not self._headers_pending():
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _headers_pending(self) -> bool:
            return self.conn.their_state is h11.IDLE

    _configure(HeaderTimeoutH11Protocol, header_timeout_s, on_timeout)
    return HeaderTimeoutH11Protocol


class _HeadersTooLarge(Exception):
    pass


def httptools_protocol(
    header_timeout_s: float, max_header_bytes: int, on_timeout: Callable[[str], None] | None = None
) -> type:
    """uvicorn's httptools protocol (the C parser of Node's llhttp) with the header deadline and a limit on
    the request line plus headers: over ``max_header_bytes`` the reply is the 400 that h11 gives (uvicorn's
    "Invalid HTTP request received.") and the connection closes. Counted twice: each parsed piece (URL,
    header name and value) as the parser hands it over, and every byte received while the headers are still
    incomplete, so a header that never ends cannot grow past the limit either."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderLimitsHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        _in_headers = True  # from the connection's start or a response's end to the next headers' end
        _received = 0  # bytes received while in the headers
        _parsed = 0  # bytes of the request line and headers parsed so far

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._in_headers:
                self._received += len(data)
            super().data_received(data)
            if self._in_headers and self._received > max_header_bytes and not self.transport.is_closing():
                self.send_400_response("Invalid HTTP request received.")

        def on_message_begin(self) -> None:
            self._arm()  # a new request on a kept-alive connection: its headers get the same deadline
            self._in_headers, self._parsed = True, 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            self._in_headers, self._received = False, 0
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            self._in_headers, self._received = True, 0
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _count(self, n: int) -> None:
            self._parsed += n
            if self._parsed > max_header_bytes:  # raised inside the parser: uvicorn answers 400 and closes
                raise _HeadersTooLarge

        def _headers_pending(self) -> bool:
            return self._in_headers

    _configure(HeaderLimitsHttpToolsProtocol, header_timeout_s, on_timeout)
    return HeaderLimitsHttpToolsProtocol


def _configure(
    protocol: type[_HeaderDeadline], header_timeout_s: float, on_timeout: Callable[[str], None] | None
) -> None:
    protocol.header_timeout_s = header_timeout_s
    protocol.timeout_hooks = (on_timeout,) if on_timeout is not None else ()
    protocol.timeout_reply = _timeout_reply(header_timeout_s)


def header_timeout_protocol(
    header_timeout_s: float, on_timeout: Callable[[str], None] | None = None, max_header_bytes: int = 16_384
) -> type:
    """The HTTP protocol for uvicorn: httptools (less CPU per request than h11, see the module docstring) when
    it is installed, else h11; both with the header deadline and the header size limit."""
    if importlib.util.find_spec("httptools") is None:
        return h11_protocol(header_timeout_s, on_timeout)
    return httptools_protocol(header_timeout_s, max_header_bytes, on_timeout)


def freeze_heap() -> None:
    """Move every object alive now to the garbage collector's permanent generation (``gc.freeze``), after a
    collection so that the load's garbage is not kept. Call it once the pipeline has loaded: a full
    collection then traverses what serving allocated since, not the half million objects of torch,
    transformers, spaCy and presidio (a full collection of that heap took 0.86 s on the loaded 2-core
    machine, all of it with the GIL held, so every request in flight waited; after the freeze, under 0.01 ms).
    For the server process only: objects frozen here are never collected, even once unreachable.

    The young generation's threshold goes from 700 to :data:`YOUNG_THRESHOLD` tracked allocations (net of
    deallocations). Serving makes almost no cyclic garbage, but the objects of the requests in flight
    crossed 700 over and over: at 200 req/s in front of a fixed-latency pipeline (``python -m
    bench.serve_overhead``, heap frozen) the collector ran 37-69 times in 8 s, and every tenth run was a
    middle-generation one of up to 5 ms of CPU with the GIL held (none of them found garbage); at 2,000, 11
    runs in 8 s of at most 1.1 ms and no middle-generation one (at 5,000: 4 runs, up to 3 ms; at 10,000: 2
    runs, up to 6.3 ms)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


YOUNG_THRESHOLD = 2_000  # see freeze_heap


def uvicorn_settings(app: Any, config: ServeConfig) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that apply ``config``'s connection limits to ``app``."""
    on_timeout = getattr(getattr(app, "state", None), "on_slow_client", None)
    return {
        "http": header_timeout_protocol(config.header_timeout_s, on_timeout, config.max_header_bytes),
        "timeout_keep_alive": config.keep_alive_s,
        "h11_max_incomplete_event_size": config.max_header_bytes,
        "limit_concurrency": config.max_connections,
        "timeout_graceful_shutdown": int(config.request_timeout_s),
        "access_log": False,
        "proxy_headers": False,
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
    ``rag-harden serve``; ``http`` replaces its HTTP protocol class. uvicorn does not configure logging here
    (``log_config=None``): its records reach the root logger."""

    def __init__(
        self,
        app: Any,
        port: int = 0,
        config: ServeConfig | None = None,
        log_level: str = "warning",
        http: type | None = None,
    ) -> None:
        import uvicorn

        config = config or getattr(getattr(app, "state", None), "serve_config", None)
        settings = uvicorn_settings(app, config) if config is not None else {}
        if http is not None:  # another HTTP protocol class than serve's (tests of h11 beside httptools)
            settings["http"] = http
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
    "freeze_heap",
    "h11_protocol",
    "header_timeout_protocol",
    "httptools_protocol",
    "is_loopback",
    "log_config",
    "uvicorn_settings",
]
