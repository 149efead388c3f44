"""The guard proxy's overhead: `rag-harden serve` as a guard proxy in front of a fixed-latency loopback RAG
service, against calling that service directly.

Run: python -m bench.proxy_overhead [--rate 10] [--seconds 10] [--latency-ms 50] [--concurrency 4]
[--out runs/proxy-overhead.json]

The upstream is `rag-harden serve` over a pipeline that sleeps ``latency-ms`` and answers a fixed text that
carries a name and an e-mail address (so the PII guard has something to redact); the proxy reaches it as an
``http`` target (``POST /v1/query``, answer path ``answer``, no contexts). Three runs of the same open-loop
load (locust in a process of its own, constant arrivals, ``rate`` x ``seconds`` requests, the questions of
scenarios/load.yaml) go to: the upstream directly; the proxy without guards (the HTTP hop, admission control,
JSON, metrics); the proxy with the default guards (presidio PII at query, context and answer; the injection
classifier at query and context, its canary at the answer). Each proxy gets 3 warm-up requests first. The
overhead per request is the proxy run's latency percentile minus the direct run's (two runs' percentiles, not
paired differences: requests are not matched one to one). The load generator has a process of its own, but
both servers share this one (and its GIL), and all share the machine's cores: on a small or busy machine the
figures are an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import httpx

from bench.serve_overhead import fixed_latency_app, open_loop

ANSWER = (
    "Travel is booked through the travel desk: write to Jane Doe at jane.doe@example.com. The hotel cap is "
    "180 EUR per night in Berlin and 150 EUR elsewhere, and receipts go with the expense claim within thirty "
    "days [1]."
)
PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


def proxy_app(upstream: str, guards: Any, concurrency: int) -> Any:
    """The guard proxy (as `rag-harden serve` builds it) in front of ``upstream``'s ``/v1/query``."""
    from harness.config import ServeConfig
    from harness.serve import create_app
    from harness.serving.proxy import GuardProxy
    from harness.targets.config import HttpTargetConfig, RetryConfig
    from harness.targets.http import HttpTarget

    config = HttpTargetConfig(
        url=f"{upstream}/v1/query",
        body={"question": "{question}"},
        paths={"answer": "answer"},  # type: ignore[arg-type]
        max_concurrency=concurrency,
        timeout_s=30,
        retry=RetryConfig(attempts=1),
    )
    proxy = GuardProxy(HttpTarget(config, guards=guards))
    serve = ServeConfig(max_concurrency=concurrency, max_queue=10_000, request_timeout_s=30)
    return create_app(serve, lambda: proxy, load_in_background=False)


def row(label: str, result: Any) -> dict[str, Any]:
    return {
        "run": label,
        "sent": result.n_scheduled,
        "achieved_rps": result.achieved_rps,
        "error_rate": result.metrics["load.error_rate"],
        **{k: getattr(result.latency, k) for k in PERCENTILES},
        "pacing_error_p99_ms": result.pacing_error.p99_ms,
    }


def overhead(proxied: dict[str, Any], direct: dict[str, Any]) -> dict[str, float | None]:
    return {
        f"overhead_{k}": None if proxied[k] is None or direct[k] is None else proxied[k] - direct[k]
        for k in PERCENTILES
    }


def line(r: dict[str, Any]) -> str:
    """One printed row: the run's percentiles, and for a proxy run the overhead over the direct run."""
    figures = ", ".join(f"{k[:3]} {r[k]:7.1f} ms" for k in PERCENTILES if r[k] is not None)
    added = [
        f"{k[:3]} {r['overhead_' + k]:+7.1f} ms" for k in PERCENTILES if r.get("overhead_" + k) is not None
    ]
    return (
        f"{r['run']:18s} {r['sent']:4d} sent, {r['achieved_rps']:5.1f} req/s, errors {r['error_rate']:.3f}: "
        f"{figures}{'; overhead ' + ', '.join(added) if added else ''} "
        f"(load generator pacing error p99 {r['pacing_error_p99_ms']:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=10, help="Requests per second (open loop).")
    parser.add_argument("--seconds", type=float, default=10, help="Duration of each of the three runs.")
    parser.add_argument("--latency-ms", type=float, default=50, help="The upstream's fixed latency.")
    parser.add_argument("--concurrency", type=int, default=4, help="The proxy's serve.max_concurrency.")
    parser.add_argument("--out", type=Path, default=Path("runs/proxy-overhead.json"))
    args = parser.parse_args()

    import harness  # noqa: F401  (offline environment first)
    from guards import build_guards
    from harness.config import InjectionGuardConfig, PiiGuardConfig
    from harness.guarding import GuardChain
    from harness.serve import BackgroundServer

    started = time.perf_counter()
    chain = build_guards([PiiGuardConfig(), InjectionGuardConfig()])
    print(f"guards loaded in {time.perf_counter() - started:.1f} s", flush=True)
    upstream_concurrency = max(8, int(args.rate * args.latency_ms / 1000 * 2) + 2)
    rows = []
    with BackgroundServer(fixed_latency_app(args.latency_ms, upstream_concurrency, ANSWER)) as upstream:
        rows.append(row("direct", open_loop(upstream, args.rate, args.seconds)))
        for label, guards in (("proxy, guards off", GuardChain()), ("proxy, guards on", chain)):
            with BackgroundServer(proxy_app(upstream, guards, args.concurrency)) as proxy:
                for _ in range(3):  # warm-up: the guards' first calls initialise spaCy and the classifier
                    httpx.post(
                        f"{proxy}/v1/query", json={"question": "Where is the travel policy?"}, timeout=60
                    )
                rows.append(row(label, open_loop(proxy, args.rate, args.seconds)))
    for r in rows[1:]:
        r.update(overhead(r, rows[0]))
    for r in rows:
        print(line(r), flush=True)
    record: dict[str, Any] = {"benchmark": "proxy_overhead", "machine": platform.platform(), "rows": rows}
    record.update(upstream_latency_ms=args.latency_ms, rate=args.rate, seconds=args.seconds)
    record.update(proxy_concurrency=args.concurrency, load_average_1min=os.getloadavg()[0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
