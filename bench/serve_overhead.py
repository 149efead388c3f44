"""The server's own overhead: `rag-harden serve` in front of a pipeline of fixed latency, under open-loop
load.

Run: python -m bench.serve_overhead [--rates 50 100 200] [--seconds 10] [--latency-ms 50] [--repeat 3]
     [--baseline REV]

The pipeline behind the server blocks its pipeline thread for exactly ``latency-ms`` (like a real pipeline's
model calls) and returns a canned answer, so whatever is left is the server's (HTTP, JSON, admission control,
the thread hand-off, metrics). Three views of that overhead, side by side, for each rate:

- ``server``: inside the server process, from the ASGI app being called to its last response byte handed to
  the transport, minus ``latency-ms`` (timestamps taken by a thin ASGI wrapper around the app);
- ``client``: what the load generator saw from its *actual* send to the end of the response, minus
  ``latency-ms`` (adds HTTP parsing, the loopback socket and the generator's own receive lag);
- ``pacing``: how late the generator sent each request (actual minus scheduled send time): its own lag, not
  the server's. A figure measured from the scheduled send time would add this to the client view.

Beside them, ``stub late``: how much longer than ``latency-ms`` the pipeline's own ``time.sleep`` blocked
(the kernel waking the sleeping thread late, e.g. timer slack and a busy CPU). It is inside the server view
(which subtracts the nominal ``latency-ms``) but is the stub's, not the server's: a real pipeline computes
rather than sleeps.

The load generator (locust, open loop, one greenlet per scheduled arrival) is a process of its own on the same
machine and competes for the CPU. CPU time per request is load-independent where wall times are not: the
server's threads (all but this process's main thread, which only waits for the generator) and the generator
process (its start-up included). The 1-minute load average before and after each run is printed beside it.

``--baseline REV`` measures ``REV`` too, in the same sitting: a git worktree of REV (under the system temp
folder, removed at the end) gets this file, and each repeat runs the baseline and this checkout back to back,
each in a fresh process, with the same measurement code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from harness.pipeline.protocols import AnswersPipeline

REPO = Path(__file__).resolve().parent.parent

FIXED_ANSWER = "A fixed answer [1]."

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class FixedLatencyPipeline(AnswersPipeline):
    """Answers every question with the same answer after ``latency_s`` (the server's cost is what is left)."""

    def __init__(self, latency_s: float, answer: str = FIXED_ANSWER) -> None:
        from harness.pipeline.protocols import Generation
        from harness.pipeline.rag import Answer, StageTimings

        self.latency_s = latency_s
        self._answer = Answer(
            question="",
            answer=answer,
            passages=[],
            citations=[],
            timings=StageTimings(
                embed_ms=0, search_ms=0, generate_ms=latency_s * 1e3, total_ms=latency_s * 1e3
            ),
            generation=Generation(text=answer),
        )
        self.late_ms: list[float] = []  # per call: how much longer than latency_s the sleep took

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Any:
        started = time.perf_counter()
        time.sleep(self.latency_s)
        self.late_ms.append((time.perf_counter() - started - self.latency_s) * 1e3)
        return self._answer

    def answer_many(
        self, questions: Sequence[str], top_k: int | None = None, *, guarded: bool = True
    ) -> list[Any]:
        return [self.answer(q, top_k, guarded=guarded) for q in questions]


def fixed_latency_app(latency_ms: float, concurrency: int, answer: str = FIXED_ANSWER):
    """``rag-harden serve`` in front of a :class:`FixedLatencyPipeline` (``POST /v1/query``), with the heap
    frozen once the pipeline has loaded, as ``rag-harden serve`` does (``freeze_heap``: without it a full
    collection of this process's heap, 126 ms of CPU with the GIL held, fell inside an 8 s run)."""
    from harness.config import ServeConfig
    from harness.serve import create_app

    return create_app(
        ServeConfig(max_concurrency=concurrency, max_queue=10_000, request_timeout_s=30),
        lambda: FixedLatencyPipeline(latency_ms / 1e3, answer),
        load_in_background=False,
        freeze_heap=True,
    )


class ServerClock:
    """ASGI wrapper: each HTTP request's time in the server (ms), from the app being called to the last body
    message handed to the server. Keeps the wrapped app's ``state`` (the server's limits are read from it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.samples_ms: list[float] = []

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.samples_ms.append((time.perf_counter() - started) * 1e3)

        await self.app(scope, receive, timed)


def open_loop(url: str, rate: float, seconds: float):
    """Constant-rate open-loop load (locust, its own process) on ``url``'s ``/v1/query``, the questions of
    scenarios/load.yaml's golden set: the :class:`~bench.load.runner.LoadResult`."""
    from bench.load.runner import run_load
    from harness.config import LoadConfig, LoadStage, load_scenario

    load = LoadConfig(
        target=url,
        model="open",
        arrival="constant",
        max_requests=100_000,
        quality_sample=0,
        stages=[LoadStage(duration_s=seconds, rate=rate)],
    )
    scenario = load_scenario(REPO / "scenarios" / "load.yaml")  # its golden questions are the requests
    return run_load(scenario.model_copy(update={"load": load}))


def server_cpu_s() -> float:
    """CPU seconds of this process's threads but the main one (the server's loop and pipeline threads)."""
    import psutil

    main = threading.main_thread().native_id
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id != main)


def children_cpu_s() -> float:
    times = os.times()
    return times.children_user + times.children_system


def measure(rate: float, seconds: float, latency_ms: float) -> dict:
    from bench.records import LatencyDigest
    from harness.serve import BackgroundServer

    concurrency = max(4, int(rate * latency_ms / 1000 * 2) + 2)
    clock = ServerClock(fixed_latency_app(latency_ms, concurrency))
    load_before = os.getloadavg()[0]
    with BackgroundServer(clock) as url:
        server_cpu, generator_cpu = server_cpu_s(), children_cpu_s()
        result = open_loop(url, rate, seconds)
        server_cpu, generator_cpu = server_cpu_s() - server_cpu, children_cpu_s() - generator_cpu
    server = LatencyDigest.of(ms - latency_ms for ms in clock.samples_ms).stats()
    stub = LatencyDigest.of(clock.state.serve_state["pipeline"].late_ms).stats()
    n = max(len(clock.samples_ms), 1)
    return {
        "rate": rate,
        "concurrency": concurrency,
        "sent": result.n_scheduled,
        "achieved_rps": result.achieved_rps,
        "error_rate": result.metrics["load.error_rate"],
        "server_added_p50_ms": server.p50_ms,
        "server_added_p99_ms": server.p99_ms,
        "client_added_p50_ms": _minus(result.service_time.p50_ms, latency_ms),
        "client_added_p99_ms": _minus(result.service_time.p99_ms, latency_ms),
        "from_scheduled_added_p99_ms": _minus(result.latency.p99_ms, latency_ms),
        "pacing_error_p50_ms": result.pacing_error.p50_ms,
        "pacing_error_p99_ms": result.pacing_error.p99_ms,
        "stub_late_p50_ms": stub.p50_ms,
        "stub_late_p99_ms": stub.p99_ms,
        "server_cpu_ms_per_request": server_cpu * 1e3 / n,
        "generator_cpu_ms_per_request": generator_cpu * 1e3 / n,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
    }


def _minus(value: float | None, base: float) -> float | None:
    return None if value is None else value - base


def _ms(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.2f}"


def row_line(label: str, row: dict) -> str:
    return (
        f"{label:>9} {row['rate']:4.0f} req/s: achieved {row['achieved_rps']:5.1f}, errors "
        f"{row['error_rate']:.3f}; added p50/p99 server {_ms(row['server_added_p50_ms'])} / "
        f"{_ms(row['server_added_p99_ms'])} ms, client {_ms(row['client_added_p50_ms'])} / "
        f"{_ms(row['client_added_p99_ms'])} ms; pacing error p50/p99 {_ms(row['pacing_error_p50_ms'])} / "
        f"{_ms(row['pacing_error_p99_ms'])} ms; stub late p50/p99 {_ms(row.get('stub_late_p50_ms'))} / "
        f"{_ms(row.get('stub_late_p99_ms'))} ms; CPU per request server "
        f"{row['server_cpu_ms_per_request']:.2f} ms, generator "
        f"{row['generator_cpu_ms_per_request']:.2f} ms; load "
        f"{row['loadavg_before']:.2f}->{row['loadavg_after']:.2f}"
    )


def baseline_checkout(rev: str, also: Sequence[Path] = ()) -> Path:
    """A worktree of ``rev`` with this file (and the files ``also`` names) in it: the same measurement for
    both revisions."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO, capture_output=True, text=True
    )
    if sha.returncode != 0:
        raise SystemExit(f"--baseline {rev}: not a commit of {REPO} ({sha.stderr.strip()})")
    path = Path(tempfile.mkdtemp(prefix="rag-harden-serve-overhead-")) / sha.stdout.strip()[:12]
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(path), sha.stdout.strip()],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    for source in (Path(__file__), *also):
        shutil.copyfile(source, path / "bench" / source.name)
    return path


def remove_checkout(path: Path) -> None:
    """Remove a :func:`baseline_checkout` (the repository's list of worktrees is as it was)."""
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=False)
    shutil.rmtree(path.parent, ignore_errors=True)


def run_child(checkout: Path, rate: float, args: argparse.Namespace) -> dict:
    """One measurement in a fresh process of ``checkout`` (its ``harness`` and ``bench``)."""
    argv = [sys.executable, "-m", "bench.serve_overhead", "--row", "--rates", str(rate)]
    argv += ["--seconds", str(args.seconds), "--latency-ms", str(args.latency_ms)]
    proc = subprocess.run(argv, cwd=checkout, capture_output=True, text=True, timeout=args.seconds + 300)
    if proc.returncode != 0:
        raise SystemExit(f"the run in {checkout} failed (exit {proc.returncode}): {proc.stderr[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--baseline", help="a git revision to measure back to back with this checkout")
    parser.add_argument("--slo-ms", type=float, default=50)
    parser.add_argument("--out", type=Path, default=Path("runs/serve-overhead.json"))
    parser.add_argument("--row", action="store_true", help=argparse.SUPPRESS)  # one rate, a JSON line out
    args = parser.parse_args()

    import harness  # noqa: F401

    if args.row:
        print(json.dumps(measure(args.rates[0], args.seconds, args.latency_ms)))
        return
    checkouts = {"baseline": baseline_checkout(args.baseline)} if args.baseline else {}
    checkouts["this"] = REPO
    rows = []
    try:
        for repeat in range(args.repeat):
            for rate in args.rates:
                for label, checkout in checkouts.items():
                    if args.baseline:
                        row = run_child(checkout, rate, args)
                    else:
                        row = measure(rate, args.seconds, args.latency_ms)
                    rows.append({"revision": label, "repeat": repeat, **row})
                    print(row_line(label, row), flush=True)
    finally:
        if args.baseline:
            remove_checkout(checkouts["baseline"])
    sustained = None
    for rate in sorted(set(args.rates)):
        mine = [r for r in rows if r["rate"] == rate and r["revision"] == "this"]
        if all(r["error_rate"] == 0 and (r["server_added_p99_ms"] or 0) <= args.slo_ms for r in mine):
            sustained = rate
    print(f"highest offered rate with no errors and server-side added p99 <= {args.slo_ms:g} ms: {sustained}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "serve_overhead",
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "generator_latency_ms": args.latency_ms,
                "baseline": args.baseline,
                "rows": rows,
                "sustained_rps": sustained,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
