"""Streaming from any OpenAI-compatible server (``vllm serve``, ...): time to first token (TTFT), time per
output
token (TPOT: (latency - TTFT) / (tokens - 1)) and inter-token latency (ITL: the gaps between streamed chunks).

Standard library only (``http.client``), so it runs on the GPU machine as it is. :class:`StubServer` is a
loopback
OpenAI-compatible server that streams a fixed number of tokens on a fixed schedule: ``rag-harden gpu --quick``
measures it when no server is given (it checks the client's own overhead: the schedule is the row's roofline),
and the tests use it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from bench.gpu.results import Part, Roofline, Row, no_roofline


@dataclass
class StreamTiming:
    ttft_ms: float
    latency_ms: float
    tokens: int
    itl_ms: list[float]

    @property
    def tpot_ms(self) -> float:
        return (self.latency_ms - self.ttft_ms) / max(1, self.tokens - 1)


def stream_chat(
    base_url: str,
    model: str,
    prompt: str,
    max_tokens: int,
    *,
    api_key: str | None = None,
    timeout_s: float = 60.0,
) -> StreamTiming:
    """One streamed ``POST {base_url}/chat/completions``; a token is a chunk with non-empty delta content."""
    url = urlsplit(base_url.rstrip("/") + "/chat/completions")
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(url.hostname or "127.0.0.1", url.port, timeout=timeout_s)
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "stream": True,
            "temperature": 0.0,
        }
    )
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    t0 = time.perf_counter()
    conn.request("POST", url.path, body=body, headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"{base_url}: HTTP {resp.status}")
    arrivals: list[float] = []
    try:
        for raw in resp:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            choices = json.loads(data).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                arrivals.append(time.perf_counter())
    finally:
        conn.close()
    end = time.perf_counter()
    if not arrivals:
        raise RuntimeError(f"{base_url}: the stream carried no tokens")
    return StreamTiming(
        ttft_ms=(arrivals[0] - t0) * 1e3,
        latency_ms=(end - t0) * 1e3,
        tokens=len(arrivals),
        itl_ms=[(b - a) * 1e3 for a, b in zip(arrivals, arrivals[1:], strict=False)],
    )


def summarize(timings: list[StreamTiming]) -> dict[str, float]:
    ttft = np.asarray([t.ttft_ms for t in timings])
    tpot = np.asarray([t.tpot_ms for t in timings])
    itl = np.asarray([x for t in timings for x in t.itl_ms] or [float("nan")])
    return {
        "ttft_p50_ms": float(np.percentile(ttft, 50)),
        "ttft_p95_ms": float(np.percentile(ttft, 95)),
        "tpot_p50_ms": float(np.percentile(tpot, 50)),
        "itl_p50_ms": float(np.percentile(itl, 50)),
        "itl_p95_ms": float(np.percentile(itl, 95)),
        "tokens_mean": float(np.mean([t.tokens for t in timings])),
        "requests": float(len(timings)),
    }


class StubServer:
    """``POST /v1/chat/completions`` streaming ``tokens`` chunks: the first after ``first_ms``, then one every
    ``every_ms`` (a context manager; ``url`` is its base URL)."""

    def __init__(self, tokens: int = 16, first_ms: float = 20.0, every_ms: float = 5.0) -> None:
        self.tokens, self.first_ms, self.every_ms = tokens, first_ms, every_ms
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                n = min(stub.tokens, int(request.get("max_tokens", stub.tokens)))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                time.sleep(stub.first_ms / 1e3)
                for i in range(n):
                    if i:
                        time.sleep(stub.every_ms / 1e3)
                    chunk = {
                        "choices": [{"index": 0, "delta": {"content": f"t{i} "}}],
                        "model": request.get("model"),
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def log_message(self, *_args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def run_openai(
    base_url: str | None,
    model: str,
    *,
    requests: int,
    max_tokens: int,
    log: Callable[[str], None],
    api_key: str | None = None,
) -> Part:
    started = time.perf_counter()
    part = Part("openai", "ok")
    if base_url is None:
        with StubServer(tokens=max_tokens) as stub:
            timings = [stream_chat(stub.url, "stub", "hello", max_tokens) for _ in range(requests)]
            st = summarize(timings)
            ideal = stub.first_ms + stub.every_ms * (max_tokens - 1)
            measured = float(np.median([t.latency_ms for t in timings]))
            roof = Roofline(
                "schedule",
                ideal,
                "ms",
                0.0,
                "the stub's own schedule",
                ideal,
                measured,
                ideal / measured,
                f"stub schedule {stub.first_ms:.0f} ms + {max_tokens - 1} x {stub.every_ms:.0f} ms = "
                f"{ideal:.1f} ms; measured {measured:.1f} ms -> {ideal / measured:.3f}",
            )
            part.rows.append(
                Row(
                    "openai",
                    "loopback-stub",
                    {"server": "loopback stub", "max_tokens": max_tokens, "requests": requests},
                    st,
                    roof,
                )
            )
            part.notes.append(
                "no server given: measured against a loopback stub (this checks the client, not a "
                "model); pass --openai-url to measure a real server"
            )
    else:
        try:
            timings = [
                stream_chat(base_url, model, "Write one sentence about GPUs.", max_tokens, api_key=api_key)
                for _ in range(requests)
            ]
        except (OSError, RuntimeError, ValueError) as exc:
            part.status, part.reason = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
            return part
        st = summarize(timings)
        part.rows.append(
            Row(
                "openai",
                "server",
                {"server": base_url, "model": model, "max_tokens": max_tokens, "requests": requests},
                st,
                no_roofline(st["tpot_p50_ms"], "n/a: the server's hardware is not measured by this run"),
            )
        )
    log(f"openai: ttft p50 {part.rows[-1].metrics['ttft_p50_ms']:.1f} ms" if part.rows else "openai: no rows")
    part.seconds = time.perf_counter() - started
    return part


__all__ = ["StreamTiming", "StubServer", "run_openai", "stream_chat", "summarize"]
