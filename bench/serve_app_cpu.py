"""CPU per request of the server's ASGI app alone: ``create_app`` in front of the fixed-latency stub (latency
0), called in-process, without HTTP, sockets or a load generator, so nothing else in the process competes.

Run: python -m bench.serve_app_cpu [--requests 3000] [--concurrency 20] [--path /v1/query] [--baseline REV]

What it counts: the middleware, routing, body parsing and validation, admission control and the hand-off to a
pipeline thread and back, the reply's serialisation, the metrics; not uvicorn's HTTP parsing and writing (see
``bench.serve_overhead`` for the whole server under load). The figure is the process's CPU time (all threads)
over the requests, after 200 warm-up requests; ``--baseline REV`` runs the same in a worktree of REV, in a
process of its own, and prints both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.serve_overhead import REPO, baseline_checkout, fixed_latency_app, remove_checkout

BODIES = {
    "/v1/query": {"question": "What is the refund policy for damaged items?"},
    "/v1/chat/completions": {
        "model": "m",
        "messages": [{"role": "user", "content": "What is the refund policy?"}],
    },
}


async def _one(app: Any, path: str, body: bytes, statuses: list[int]) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)


async def _measure(path: str, requests: int, concurrency: int) -> dict:
    app = fixed_latency_app(0.0, concurrency + 2)
    body = json.dumps(BODIES[path]).encode()
    statuses: list[int] = []
    for _ in range(200):
        await _one(app, path, body, statuses)
    statuses.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests // concurrency):
        await asyncio.gather(*(_one(app, path, body, statuses) for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if set(statuses) != {200}:
        raise SystemExit(f"{path}: replies other than 200: {sorted(set(statuses))}")
    n = len(statuses)
    return {
        "path": path,
        "requests": n,
        "cpu_ms_per_request": cpu * 1e3 / n,
        "wall_ms_per_request": wall * 1e3 / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--path", choices=sorted(BODIES), default="/v1/query")
    parser.add_argument("--baseline", help="a git revision to measure too, in a worktree of its own")
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)  # one run, a JSON line out
    args = parser.parse_args()
    if args.row or not args.baseline:
        row = asyncio.run(_measure(args.path, args.requests, args.concurrency))
        print(json.dumps(row) if args.row else row_line("this", row))
        return
    runs = {"baseline": baseline_checkout(args.baseline, also=[Path(__file__)]), "this": REPO}
    argv = [sys.executable, "-m", "bench.serve_app_cpu", "--row", "--path", args.path]
    argv += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
    try:
        for label, checkout in runs.items():  # each in a fresh process
            out = subprocess.run(argv, cwd=checkout, capture_output=True, text=True, check=True).stdout
            print(row_line(label, json.loads(out.strip().splitlines()[-1])), flush=True)
    finally:
        remove_checkout(runs["baseline"])


def row_line(label: str, row: dict) -> str:
    return (
        f"{label:>9} {row['path']}: CPU {row['cpu_ms_per_request']:.3f} ms per request "
        f"(wall {row['wall_ms_per_request']:.3f} ms, {row['requests']} requests)"
    )


if __name__ == "__main__":
    main()
