"""The server's own overhead: `rag-harden serve` in front of a pipeline of fixed latency, under open-loop
load.

Run: python -m bench.serve_overhead [--rates 50 100 200] [--seconds 10] [--latency-ms 50]

The pipeline behind the server sleeps exactly ``latency-ms`` and returns a canned answer, so whatever the
client
sees above that is the server's overhead (HTTP, JSON, admission control, thread hand-off, metrics). The load
generator (locust, open loop, constant arrivals) runs on the same 2-core machine and competes for the CPU, so
the
figures are an upper bound of the overhead. Also searches for the highest rate that keeps p99 overhead within
``--slo-ms`` (default 50 ms) and no errors.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.pipeline.protocols import AnswersPipeline

REPO = Path(__file__).resolve().parent.parent


FIXED_ANSWER = "A fixed answer [1]."


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

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Any:
        time.sleep(self.latency_s)
        return self._answer

    def answer_many(
        self, questions: Sequence[str], top_k: int | None = None, *, guarded: bool = True
    ) -> list[Any]:
        return [self.answer(q, top_k, guarded=guarded) for q in questions]


def fixed_latency_app(latency_ms: float, concurrency: int, answer: str = FIXED_ANSWER):
    """``rag-harden serve`` in front of a :class:`FixedLatencyPipeline` (``POST /v1/query``)."""
    from harness.config import ServeConfig
    from harness.serve import create_app

    return create_app(
        ServeConfig(max_concurrency=concurrency, max_queue=10_000, request_timeout_s=30),
        lambda: FixedLatencyPipeline(latency_ms / 1e3, answer),
        load_in_background=False,
    )


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


def measure(rate: float, seconds: float, latency_ms: float) -> dict:
    from harness.serve import BackgroundServer

    concurrency = max(4, int(rate * latency_ms / 1000 * 2) + 2)
    with BackgroundServer(fixed_latency_app(latency_ms, concurrency)) as url:
        result = open_loop(url, rate, seconds)
    return {
        "rate": rate,
        "concurrency": concurrency,
        "sent": result.n_scheduled,
        "achieved_rps": result.achieved_rps,
        "error_rate": result.metrics["load.error_rate"],
        "added_p50_ms": _minus(result.latency.p50_ms, latency_ms),
        "added_p99_ms": _minus(result.latency.p99_ms, latency_ms),
        "pacing_error_p99_ms": result.pacing_error.p99_ms,
    }


def _minus(value: float | None, base: float) -> float | None:
    return None if value is None else value - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--slo-ms", type=float, default=50)
    parser.add_argument("--out", type=Path, default=Path("runs/serve-overhead.json"))
    args = parser.parse_args()

    import harness  # noqa: F401

    rows = []
    for rate in args.rates:
        row = measure(rate, args.seconds, args.latency_ms)
        rows.append(row)
        print(
            f"{rate:6.0f} req/s offered: achieved {row['achieved_rps']:6.1f}, errors "
            f"{row['error_rate']:.3f}, "
            f"added p50 {row['added_p50_ms']:7.2f} ms, added p99 {row['added_p99_ms']:7.2f} ms; the load "
            f"generator's own pacing error p99 {row['pacing_error_p99_ms']:7.2f} ms",
            flush=True,
        )
    sustained = None
    for rate in sorted(r["rate"] for r in rows):
        row = next(r for r in rows if r["rate"] == rate)
        if row["error_rate"] == 0 and row["added_p99_ms"] is not None and row["added_p99_ms"] <= args.slo_ms:
            sustained = rate
    print(f"highest offered rate with no errors and added p99 <= {args.slo_ms:g} ms: {sustained}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "serve_overhead",
                "machine": platform.platform(),
                "generator_latency_ms": args.latency_ms,
                "rows": rows,
                "sustained_rps": sustained,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
