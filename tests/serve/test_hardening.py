"""`rag-harden serve` under hostile input, on a real uvicorn on 127.0.0.1: the body limit on the stream, error
bodies that never echo input, no personal data in logs, slow clients cut off and counted, the bearer token.
Each test reproduces a row of issue 10 and fails on the server as it was before the fix."""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import threading
import time

import httpx
import pytest

from harness.config import ServeConfig
from harness.errors import ConfigError
from harness.serve import create_app, exposure_warning
from tests.fakes import FailingGenerator, LoopbackServer, SlowGenerator, TokenizingGenerator, small_pipeline

EMAIL, CARD = "a@example.org", "4111 1111 1111 1111"
PLANTED = (EMAIL, CARD, "4111111111111111")


def serve(pipeline, **limits):
    return LoopbackServer(create_app(ServeConfig(**limits), lambda: pipeline, load_in_background=False))


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_reply(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def read_replies(socks: list[socket.socket], timeout: float = 5.0) -> list[bytes]:
    """Each socket's reply, all within one deadline (a server that holds them fails fast, not 100 x 5 s)."""
    deadline = time.monotonic() + timeout
    return [read_reply(sock, timeout=max(deadline - time.monotonic(), 0.01)) for sock in socks]


def status_of(reply: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3})", reply)
    return int(match.group(1)) if match else 0


def assert_error_shape(body: dict, type_: str) -> None:
    assert set(body) == {"error"} and body["error"]["type"] == type_
    assert {"type", "message", "request_id"} <= set(body["error"])
    assert body["error"]["request_id"].startswith("req-")


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, name
    return float(match.group(1))


# --- body limit ---------------------------------------------------------------------------------------------

def test_content_length_over_the_limit_is_refused_before_the_body_is_sent() -> None:
    with serve(small_pipeline(SlowGenerator(0.0)), max_body_bytes=4096) as url:
        sock = connect(url)
        sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5000000\r\n\r\n")
        reply = read_reply(sock)
    assert status_of(reply) == 413 and b"connection: close" in reply.lower()
    assert_error_shape(json.loads(reply.split(b"\r\n\r\n", 1)[1]), "body_too_large")


def test_a_chunked_body_is_counted_as_it_arrives_and_refused_past_the_limit() -> None:
    """Issue 10, body limit: a 5 MB chunked body was read in full (11 s, +370 MB) and its bad JSON echoed."""
    generator = TokenizingGenerator()
    with serve(small_pipeline(generator), max_body_bytes=65_536) as url:
        sock = connect(url)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        piece = (f'{{"bad json {EMAIL} {CARD} ' * 1000).encode()[:32_768]
        sent, started = 0, time.monotonic()
        try:
            while sent < 5_000_000 and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = read_reply(sock)
        elapsed = time.monotonic() - started
        read = metric(url, "rag_harden_request_body_bytes_total")
    assert status_of(reply) == 413, reply[:200]
    # refused once past the limit, not at the end: the server read at most the limit plus a socket read or two
    assert read <= 65_536 + 2 * 65_536 and elapsed < 3, (read, sent, elapsed)
    body = reply.split(b"\r\n\r\n", 1)[1].decode()
    assert_error_shape(json.loads(body), "body_too_large")
    assert not any(p in body for p in PLANTED) and generator.calls == 0


def test_a_body_within_the_limit_sent_chunked_is_answered() -> None:
    with serve(small_pipeline(SlowGenerator(0.0)), max_body_bytes=4096) as url:
        body = json.dumps({"question": "What is the hotel cap?"}).encode()
        r = httpx.post(f"{url}/v1/query", content=iter([body[:10], body[10:]]),
                       headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["answer"] == "A fixed answer [1]."


# --- 422 bodies ---------------------------------------------------------------------------------------------

INVALID = [
    ("/v1/query", f'{{"question": "my email is {EMAIL}, card {CARD}"'.encode()),  # truncated JSON
    ("/v1/query", json.dumps({"question": {"email": EMAIL, "card": CARD}}).encode()),
    ("/v1/query", json.dumps({"question": "hotel?", EMAIL: CARD}).encode()),  # unknown key
    ("/v1/query", json.dumps({"question": f"{EMAIL} {CARD} " + "x" * 20_000}).encode()),
    ("/v1/query", json.dumps({"question": "hotel?", "top_k": f"{CARD}"}).encode()),
    ("/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"mailto:{EMAIL}"}, "text": CARD}]}]}).encode()),
    ("/v1/chat/completions", json.dumps({"messages": [{"role": f"{EMAIL}", "content": CARD}]}).encode()),
    ("/v1/chat/completions", json.dumps([EMAIL, CARD]).encode()),
]


@pytest.fixture(scope="module")
def shared_url():
    with serve(small_pipeline(SlowGenerator(0.0))) as url:
        yield url


@pytest.mark.parametrize("path,body", INVALID)
def test_invalid_requests_get_a_422_that_never_echoes_the_input(shared_url: str, path: str,
                                                                 body: bytes) -> None:
    """Issue 10, 422 bodies: FastAPI's default 422 echoed the input in full, personal data included."""
    r = httpx.post(f"{shared_url}{path}", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert_error_shape(r.json(), "invalid_request")
    assert r.json()["error"]["fields"] and r.headers["x-request-id"] == r.json()["error"]["request_id"]
    assert not any(p in r.text for p in PLANTED), r.text


def test_error_locations_name_fields_and_types_only(shared_url: str) -> None:
    r = httpx.post(f"{shared_url}/v1/query", json={"question": "", "top_k": 0, EMAIL: 1})
    fields = {(tuple(f["loc"]), f["type"]) for f in r.json()["error"]["fields"]}
    assert fields == {(("body", "question"), "too_short"), (("body", "top_k"), "greater_than_equal"),
                      (("body", "*"), "extra_forbidden")}


# --- personal data in logs ----------------------------------------------------------------------------------

SURROGATE_BODY = ('{"question": "my email is ' + EMAIL + " card " + CARD + ' \\ud800"}').encode()


def test_a_lone_surrogate_is_a_clean_422_and_nothing_personal_reaches_the_logs(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    """Issue 10, personal data in logs: this body gave a 500 and a traceback holding the raw question."""
    caplog.set_level(logging.DEBUG)
    generator = TokenizingGenerator()
    with serve(small_pipeline(generator)) as url:
        query = httpx.post(f"{url}/v1/query", content=SURROGATE_BODY,
                           headers={"content-type": "application/json"})
        chat = httpx.post(f"{url}/v1/chat/completions", headers={"content-type": "application/json"},
                          content=b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "'
                          + SURROGATE_BODY[14:-2] + b'"}]}]}')
    for r in (query, chat):
        assert r.status_code == 422, r.text
        assert "invalid_unicode" in [f["type"] for f in r.json()["error"]["fields"]]
    captured = capfd.readouterr()
    everything = query.text + chat.text + caplog.text + captured.out + captured.err
    assert not any(p in everything for p in PLANTED)
    assert generator.calls == 0 and "invalid_unicode" in caplog.text


def test_an_unexpected_exception_is_logged_by_type_and_request_id_only(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    leaky = ValueError(f"tokenizer failed on 'my email is {EMAIL} card {CARD}'")  # as third-party errors do
    generator = FailingGenerator(ok=0, exc=leaky)
    with serve(small_pipeline(generator)) as url:
        r = httpx.post(f"{url}/v1/query", json={"question": f"my email is {EMAIL} card {CARD}"})
        assert httpx.get(f"{url}/healthz").status_code == 200  # still serving
    assert r.status_code == 500
    assert_error_shape(r.json(), "internal_error")
    captured = capfd.readouterr()
    everything = r.text + caplog.text + captured.out + captured.err
    assert not any(p in everything for p in PLANTED), everything
    assert "Traceback" not in everything
    request_id = r.json()["error"]["request_id"]
    assert f"unhandled ValueError in POST /v1/query (request {request_id})" in caplog.text


def test_the_access_log_has_no_query_string_unknown_path_or_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(small_pipeline(SlowGenerator(0.0))) as url:
        httpx.get(f"{url}/v1/models?email={EMAIL}")
        httpx.get(f"{url}/users/{EMAIL}")
        httpx.post(f"{url}/v1/query", json={"question": f"hotel cap? {EMAIL}"})
    access = [r.getMessage() for r in caplog.records if r.name == "rag_harden.access"]
    assert len(access) == 3 and not any(EMAIL in line for line in access)
    assert re.match(r"req-[0-9a-f]{16} GET /v1/models 200 body=0B [0-9.]+ms$", access[0])
    assert " GET other 404 " in access[1] and " POST /v1/query 200 body=" in access[2]
    assert not any(r.name == "uvicorn.access" for r in caplog.records)


# --- slow clients -------------------------------------------------------------------------------------------

def test_connections_that_send_half_their_headers_are_cut_off_and_counted() -> None:
    """Issue 10, slow clients: half-sent headers were held as long as the client liked, unseen in /metrics."""
    with serve(small_pipeline(SlowGenerator(0.0)), header_timeout_s=0.5) as url:
        slow = [connect(url) for _ in range(100)]
        for sock in slow:
            sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Ty")
        # others are still served meanwhile
        assert httpx.post(f"{url}/v1/query", json={"question": "hotel"}).status_code == 200
        replies = read_replies(slow)
        assert all(status_of(r) == 408 for r in replies), {status_of(r) for r in replies}
        assert metric(url, 'rag_harden_slow_clients_total{kind="header_timeout"}') == 100


def test_connections_that_send_half_their_body_are_cut_off_and_counted() -> None:
    with serve(small_pipeline(SlowGenerator(0.0)), body_timeout_s=0.5) as url:
        slow = [connect(url) for _ in range(50)]
        for sock in slow:
            sock.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 40\r\n\r\n{\"qu")
        replies = read_replies(slow)
        assert all(status_of(r) == 408 for r in replies), {status_of(r) for r in replies}
        assert_error_shape(json.loads(replies[0].split(b"\r\n\r\n", 1)[1]), "request_timeout")
        assert metric(url, 'rag_harden_slow_clients_total{kind="body_timeout"}') == 50


def test_a_client_that_trickles_its_headers_is_cut_off_at_the_deadline() -> None:
    with serve(small_pipeline(SlowGenerator(0.0)), header_timeout_s=0.6) as url:
        sock = connect(url)
        stop = threading.Event()

        def trickle() -> None:  # one byte every 50 ms keeps resetting an idle timer, not this deadline
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200:
                if stop.is_set():
                    return
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=trickle)
        started = time.monotonic()
        thread.start()
        reply = read_reply(sock, timeout=5)
        stop.set()
        thread.join()
    assert status_of(reply) == 408 and time.monotonic() - started < 2


def test_keep_alive_connections_still_work_with_the_header_deadline() -> None:
    with serve(small_pipeline(SlowGenerator(0.0)), header_timeout_s=0.3) as url:
        with httpx.Client() as client:
            for _ in range(3):
                assert client.get(f"{url}/healthz").status_code == 200
                time.sleep(0.4)  # longer than the header deadline, shorter than keep-alive


# --- access -------------------------------------------------------------------------------------------------

def test_bearer_token_guards_everything_but_health(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10, access: there was no authentication option at all."""
    monkeypatch.setenv("RAG_HARDEN_TEST_TOKEN", "s3cret-token")
    with serve(small_pipeline(SlowGenerator(0.0)), api_key_env="RAG_HARDEN_TEST_TOKEN") as url:
        body = {"question": "hotel cap?"}
        missing = httpx.post(f"{url}/v1/query", json=body)
        wrong = httpx.post(f"{url}/v1/query", json=body, headers={"authorization": "Bearer s3cret-tokem"})
        basic = httpx.post(f"{url}/v1/query", json=body, headers={"authorization": "Basic s3cret-token"})
        right = httpx.post(f"{url}/v1/query", json=body, headers={"authorization": "Bearer s3cret-token"})
        open_ = [httpx.get(f"{url}{p}").status_code for p in ("/healthz", "/health", "/readyz")]
        closed = [httpx.get(f"{url}{p}").status_code for p in ("/metrics", "/v1/models", "/openapi.json")]
    for r in (missing, wrong, basic):
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert_error_shape(r.json(), "unauthorized")
        assert "s3cret" not in r.text
    assert right.status_code == 200 and open_ == [200, 200, 200] and closed == [401, 401, 401]


def test_a_named_but_unset_token_variable_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_HARDEN_UNSET_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="RAG_HARDEN_UNSET_TOKEN"):
        create_app(ServeConfig(api_key_env="RAG_HARDEN_UNSET_TOKEN"), lambda: None, load_in_background=False)


@pytest.mark.parametrize("host,warns", [("127.0.0.1", False), ("::1", False), ("localhost", False),
                                        ("0.0.0.0", True), ("::", True), ("10.1.2.3", True)])
def test_binding_beyond_loopback_without_a_token_warns(host: str, warns: bool) -> None:
    assert (exposure_warning(host, ServeConfig()) is not None) == warns
    assert exposure_warning(host, ServeConfig(api_key_env="TOKEN")) is None


@pytest.mark.slow  # a subprocess that imports the whole CLI (about 10 s on 2 busy cores)
def test_cli_serve_warns_when_binding_beyond_loopback_without_a_token(tmp_path, repo) -> None:
    """192.0.2.1 (TEST-NET-1) is no address of this machine: the warning is printed, then the bind fails, so
    nothing is ever exposed."""
    import subprocess
    import sys

    scenario = tmp_path / "serve.yaml"
    scenario.write_text(f"name: serve\ncorpus: {{paths: [{repo / 'golden_sets' / 'demo_corpus'}]}}\n"
                        f"golden_set: {repo / 'golden_sets' / 'demo_golden.jsonl'}\n"
                        "pipeline: {generator: {backend: extractive}}\n")
    command = [sys.executable, "-c", "from harness.cli import main; main()", "serve", str(scenario),
               "--host", "192.0.2.1", "--port", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=repo)
    stderr = " ".join(done.stderr.split())
    assert "warning: serving on 192.0.2.1 without an API key" in stderr, done.stderr[-2000:]
    assert done.returncode != 0  # could not bind
