"""The two HTTP protocols `rag-harden serve` can run on (httptools when installed, else h11) keep the same
limits: the request line plus headers within ``max_header_bytes`` (else 400 and the connection closed), the
header deadline from the connection's start and from the first byte of each later request on a kept-alive
connection (then 408). h11 bounds only what it buffers of incomplete headers (a header that never ends); a
complete header block over the limit that arrives in one read passes it, httptools refuses that too."""

from __future__ import annotations

import time

import pytest

from harness.config import ServeConfig
from harness.serve import create_app
from harness.serving.server import h11_protocol, httptools_protocol
from tests.fakes import LoopbackServer, SlowGenerator, small_pipeline
from tests.serve.test_hardening import connect, read_reply, status_of

LIMIT = 2048
PROTOCOLS = {
    "h11": lambda timeout_s: h11_protocol(timeout_s),
    "httptools": lambda timeout_s: httptools_protocol(timeout_s, LIMIT),
}


@pytest.fixture(scope="module")
def app():
    config = ServeConfig(max_header_bytes=LIMIT, header_timeout_s=0.4)
    return create_app(config, lambda: small_pipeline(SlowGenerator(0.0)), load_in_background=False)


@pytest.fixture(scope="module", params=sorted(PROTOCOLS))
def url(request: pytest.FixtureRequest, app):
    with LoopbackServer(app, http=PROTOCOLS[request.param](0.4)) as base:
        yield base


@pytest.fixture
def httptools_url(app):
    with LoopbackServer(app, http=PROTOCOLS["httptools"](0.4)) as base:
        yield base


def request_with(header_bytes: int) -> bytes:
    return b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * header_bytes + b"\r\n\r\n"


def test_headers_within_the_limit_are_answered(url: str) -> None:
    sock = connect(url)
    sock.sendall(request_with(LIMIT // 2).replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n"))
    assert status_of(read_reply(sock)) == 200


def assert_refused_before_the_deadline(url: str, data: bytes) -> None:
    sock = connect(url)
    sock.sendall(data)
    started = time.monotonic()
    reply = read_reply(sock, timeout=3)  # read to the end: the server closed the connection
    assert status_of(reply) == 400 and time.monotonic() - started < 0.35  # before the header deadline


def test_a_header_that_never_ends_gets_400_past_the_limit(url: str) -> None:
    assert_refused_before_the_deadline(url, request_with(4 * LIMIT)[:-4])


def test_a_complete_header_block_over_the_limit_gets_400(httptools_url: str) -> None:
    assert_refused_before_the_deadline(httptools_url, request_with(4 * LIMIT))


def test_the_second_request_on_a_kept_alive_connection_gets_the_header_deadline(url: str) -> None:
    sock = connect(url)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # the whole JSON reply (headers and body may come apart)
        first += sock.recv(65536)
    assert status_of(first) == 200
    time.sleep(0.5)  # idle longer than the header deadline, shorter than keep-alive: still open
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
    started = time.monotonic()
    reply = read_reply(sock, timeout=3)
    assert status_of(reply) == 408 and 0.3 < time.monotonic() - started < 2
