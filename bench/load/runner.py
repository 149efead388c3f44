"""Run a load test (locust in its own process) and summarise its raw samples.

Latency is measured from each request's *scheduled* send time in open-loop runs, so a server that stalls
cannot
hide its slow responses (coordinated omission); p50/p95/p99 come from the raw samples, not locust's buckets.
Goodput is the share of scheduled requests that succeeded within ``slo.goodput_ms``. A sample of golden
questions
answered during the load is scored like in ``bench`` (ragas semantic similarity), to show whether answers
degrade under load. The samples file (it holds answers) lives in a temporary folder and is deleted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from bench.load.schedule import arrival_times
from bench.records import LatencyDigest, RequestRecord
from harness.config import Scenario
from harness.errors import BackendUnavailable
from harness.eval.latency import LatencyStats
from harness.golden import load_golden_set
from harness.results import ResultHeader, new_header


class LoadResult(ResultHeader):
    """``load.json``: the load phase's figures. ``pacing_error`` is how late the load generator itself sent
    requests (actual minus scheduled send time): read the latency figures beside it."""

    scenario: str
    target: str
    model: str
    n_scheduled: int
    n_completed: int
    duration_s: float
    offered_rps: float
    achieved_rps: float
    latency: LatencyStats
    service_time: LatencyStats
    pacing_error: LatencyStats
    ttft: LatencyStats
    itl: LatencyStats
    metrics: dict[str, float | None]
    over_time: list[dict[str, float | int | None]] = Field(
        description="Per second of the run: requests scheduled (sent), succeeded by their end time (ok), and "
        "p50/p95 latency of the requests scheduled in it."
    )
    slo_ms: dict[str, float] = Field({}, description="The scenario's load SLO bounds that are set, in ms.")
    errors: dict[str, int]
    locust: dict[str, Any]


def default_target(scenario: Scenario) -> str:
    return f"http://127.0.0.1:{scenario.serve.port}"


def run_load(
    scenario: Scenario,
    *,
    target: str | None = None,
    score_answers: Callable[[list[tuple[str, str]]], float | None] | None = None,
    workers: int = 0,
) -> LoadResult:
    cfg = scenario.load
    assert cfg is not None
    target = (target or cfg.target or default_target(scenario)).rstrip("/")
    golden = load_golden_set(scenario.golden_set)
    questions = [g.user_input for g in golden]
    schedule = (
        arrival_times(cfg.stages, cfg.arrival, cfg.seed, cfg.max_requests) if cfg.model == "open" else []
    )
    path = {"query": "/v1/query", "chat": "/v1/chat/completions", "chat_stream": "/v1/chat/completions"}.get(
        cfg.request, cfg.path
    )
    job = {
        "target": target,
        "request": cfg.request,
        "path": path,
        "template": cfg.template,
        "answer_field": cfg.answer_field,
        "model": cfg.model,
        "schedule": schedule,
        "stages": [s.model_dump() for s in cfg.stages],
        "questions": questions,
        "timeout_s": cfg.timeout_s,
        "max_requests": cfg.max_requests,
        "t0_wall": 0.0,
        "api_key_env": cfg.api_key_env or (scenario.serve.api_key_env if cfg.target is None else None),
    }
    total_s = sum(s.duration_s for s in cfg.stages)
    with tempfile.TemporaryDirectory(prefix="rag-harden-load-") as tmp:
        job_path, samples_path = Path(tmp) / "job.json", Path(tmp) / "samples.jsonl"
        job["t0_wall"] = time.time()  # replaced by the generator once its processes are up (a shared start)
        job_path.write_text(json.dumps(job))
        started = time.monotonic()
        extra = ["--workers", str(workers)] if workers else []
        proc = subprocess.run(
            [sys.executable, "-m", "bench.load.worker", str(job_path), str(samples_path), *extra],
            capture_output=True,
            text=True,
            timeout=total_s + cfg.timeout_s + 120,
            cwd=Path(__file__).resolve().parents[2],
        )
        wall = time.monotonic() - started
        if proc.returncode != 0:
            raise BackendUnavailable(
                f"the load generator failed (exit {proc.returncode}): {proc.stderr[-800:]}"
            )
        files = [samples_path] if not workers else [Path(f"{samples_path}.{i}") for i in range(workers)]
        records = [
            RequestRecord.from_sample(json.loads(line))
            for f in files
            if f.exists()
            for line in f.read_text(encoding="utf-8").split("\n")
            if line.strip()
        ]
        locust = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    if not records:
        raise BackendUnavailable(f"no request reached {target}")
    if all(r.status == 0 for r in records):
        raise BackendUnavailable(f"cannot reach load target {target}: {records[0].error}")
    answered = [
        (questions[r.index % len(questions)], r.answer) for r in records if r.success and r.answer is not None
    ]
    return summarise(scenario, target, records, schedule, total_s, wall, locust, answered, score_answers)


def summarise(
    scenario: Scenario,
    target: str,
    records: list[RequestRecord],
    schedule: list[float],
    total_s: float,
    wall_s: float,
    locust: dict,
    answered: list[tuple[str, str]],
    score_answers: Callable[[list[tuple[str, str]]], float | None] | None,
) -> LoadResult:
    """Pure: the load result of typed request records (from one worker or several, merged)."""
    cfg = scenario.load
    assert cfg is not None
    ok = [r for r in records if r.success]
    good = sum(1 for r in ok if r.latency_ms <= cfg.slo.goodput_ms)
    n_scheduled = len(schedule) if cfg.model == "open" else len(records)
    duration = max(total_s, max(r.end_s for r in records))
    errors: dict[str, int] = {}
    for r in records:
        if not r.success:
            key = f"HTTP {r.status}" if r.status else "transport"
            errors[key] = errors.get(key, 0) + 1
    over_time: list[dict[str, float | int | None]] = []
    for second in range(int(np.ceil(duration))):
        window = LatencyDigest.of(r.latency_ms for r in records if second <= r.scheduled_s < second + 1)
        per_second = window.stats()
        done = sum(1 for r in ok if second <= r.end_s < second + 1)
        over_time.append(
            {
                "t_s": second,
                "sent": per_second.n,
                "ok": done,
                "p50_ms": per_second.p50_ms,
                "p95_ms": per_second.p95_ms,
            }
        )
    stats = LatencyDigest.of(r.latency_ms for r in records).stats()
    ttft = LatencyDigest.of(r.ttft_ms for r in records).stats()
    itl = LatencyDigest.of(gap * 1e3 for r in records for gap in r.itl_s).stats()
    pacing = LatencyDigest.of(r.pacing_error_ms for r in records).stats()
    quality = None
    if score_answers is not None and cfg.quality_sample and answered:
        quality = score_answers(answered[: cfg.quality_sample])
    metrics = {
        "load.p50_ms": stats.p50_ms,
        "load.p95_ms": stats.p95_ms,
        "load.p99_ms": stats.p99_ms,
        "load.error_rate": 1 - len(ok) / len(records),
        "load.goodput": good / max(n_scheduled, 1),
        "load.offered_rps": n_scheduled / total_s if cfg.model == "open" else None,
        "load.achieved_rps": len(ok) / duration,
        "load.answer.semantic_similarity": quality,
        "load.ttft_p50_ms": ttft.p50_ms,
        "load.ttft_p95_ms": ttft.p95_ms,
        "load.itl_p50_ms": itl.p50_ms,
        "load.itl_p95_ms": itl.p95_ms,
        "load.pacing_error_p99_ms": pacing.p99_ms,
    }
    return LoadResult(
        **new_header(scenario.fingerprint()),
        scenario=scenario.name,
        target=target,
        model=cfg.model,
        n_scheduled=n_scheduled,
        n_completed=len(records),
        duration_s=duration,
        offered_rps=metrics["load.offered_rps"] or 0.0,
        achieved_rps=len(ok) / duration,
        latency=stats,
        service_time=LatencyDigest.of(r.service_ms for r in records).stats(),
        pacing_error=pacing,
        ttft=ttft,
        itl=itl,
        metrics=metrics,
        over_time=over_time,
        slo_ms={k: v for k, v in cfg.slo.model_dump().items() if isinstance(v, (int, float))},
        errors=errors,
        locust=locust,
    )


def slo_checks(scenario: Scenario, result: LoadResult) -> list[tuple[str, float | None, str, bool]]:
    """(metric, value, bound, passed) for the `slo:` block and every `load.*` assert of the scenario."""
    cfg = scenario.load
    assert cfg is not None
    checks = []
    for name, bound in (("load.p95_ms", cfg.slo.p95_ms), ("load.p99_ms", cfg.slo.p99_ms)):
        if bound is not None:
            value = result.metrics[name]
            checks.append((name, value, f"<= {bound:g}", value is not None and value <= bound))
    for a in scenario.asserts:
        if a.metric.startswith("load."):
            value = result.metrics.get(a.metric)
            checks.append((a.metric, value, a.bound_text, a.check(value)))
    return checks


__all__ = ["LoadResult", "default_target", "run_load", "slo_checks", "summarise"]
