"""Time to first token vs full latency of streamed chat requests to `rag-harden serve` (default scenario).

Run: python -m bench.stream_ttft [--scenario scenarios/default.yaml] [--answer-guard] [--n 10]
[--out runs/stream-ttft.json]

Starts ``rag-harden serve`` on 127.0.0.1 (a free port) as its own process, waits for ``/readyz``, sends one
warm-up request, then ``--n`` golden questions one after another to ``/v1/chat/completions`` with the
official ``openai`` client and ``stream=True``. Per request it takes the time to the first content chunk
(TTFT), the time to the end of the stream (total) and every content chunk's arrival time. Printed: p50 TTFT,
p50 total, their ratio, the median of the per-request ratios, the token arrival times of one request (tokens
arriving over time, not at once), and the server process's CPU seconds per request (utime+stime from /proc:
wall times on a shared machine are inflated by the others' load, printed as the 1-minute load average).

``--answer-guard`` serves the scenario with a PII guard on the answer stage added (the stream then goes
through the guard's hold-back window, :mod:`harness.pipeline.streaming`). No answer text is written to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_answer_guard(scenario: Path, folder: Path) -> Path:
    """A copy of ``scenario`` with a PII guard on the answer stage, its relative paths made absolute."""
    data = yaml.safe_load(scenario.read_text())
    base = scenario.resolve().parent
    data["corpus"]["paths"] = [str((base / p).resolve()) for p in data["corpus"]["paths"]]
    data["golden_set"] = str((base / data["golden_set"]).resolve())
    data["guards"] = [*data.get("guards", []), {"kind": "pii", "stages": ["answer"]}]
    data["name"] = f"{data['name']}-answer-guard"
    data.pop("asserts", None)
    out = folder / "scenario.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"rag-harden serve exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/readyz not ready within {timeout_s:g} s")


def stream_one(client: Any, model: str, question: str) -> dict[str, Any]:
    """One streamed chat request: TTFT, total and every content chunk's arrival (s from the request)."""
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], stream=True
    )
    arrivals: list[tuple[float, int]] = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((time.perf_counter() - started, len(chunk.choices[0].delta.content)))
    total = time.perf_counter() - started
    return {"ttft_s": arrivals[0][0] if arrivals else total, "total_s": total, "arrivals": arrivals}


def run(scenario: Path, n: int, answer_guard: bool, ready_timeout_s: float) -> dict[str, Any]:
    from openai import OpenAI

    from harness.golden import load_golden_set

    with tempfile.TemporaryDirectory() as tmp:
        served = _with_answer_guard(scenario, Path(tmp)) if answer_guard else scenario
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [str(Path(sys.executable).parent / "rag-harden"), "serve", str(served), "--port", str(port)]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(url, proc, ready_timeout_s)
            client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
            model = client.models.list().data[0].id
            examples = load_golden_set(_golden_path(served))
            questions = [e.user_input for e in examples if e.answerable][: n + 1]
            stream_one(client, model, questions[0])  # warm-up
            load = os.getloadavg()[0]
            cpu0 = _cpu_s(proc.pid)
            runs = [stream_one(client, model, q) for q in questions[1:]]
            cpu = (_cpu_s(proc.pid) - cpu0) / len(runs)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return _summary(runs, cpu, load, answer_guard)


def _golden_path(scenario: Path) -> Path:
    path = Path(yaml.safe_load(scenario.read_text())["golden_set"])
    return path if path.is_absolute() else (scenario.resolve().parent / path)


def _summary(runs: Sequence[dict[str, Any]], cpu: float, load: float, answer_guard: bool) -> dict[str, Any]:
    ttft = statistics.median(r["ttft_s"] for r in runs)
    total = statistics.median(r["total_s"] for r in runs)
    ratios = [r["ttft_s"] / r["total_s"] for r in runs]
    guard = "on" if answer_guard else "off"
    print(f"{len(runs)} streamed requests, answer guard {guard}, load average {load:.2f}")
    print(f"  p50 TTFT {ttft * 1e3:.0f} ms, p50 total {total * 1e3:.0f} ms, ratio {ttft / total:.1%}")
    print(f"  per-request TTFT/total: median {statistics.median(ratios):.1%}, max {max(ratios):.1%}")
    print(f"  server CPU {cpu:.2f} s per request (utime+stime)")
    print("  per request: TTFT ms / total ms / content chunks")
    for r in runs:
        print(f"    {r['ttft_s'] * 1e3:8.0f} {r['total_s'] * 1e3:8.0f} {len(r['arrivals']):5d}")
    shown = max(runs, key=lambda r: len(r["arrivals"]))
    times = " ".join(f"{t * 1e3:.0f}" for t, _ in shown["arrivals"])
    print(f"  token arrival times of one request ({len(shown['arrivals'])} chunks, ms): {times}")
    return {
        "answer_guard": answer_guard,
        "load_average_1m": load,
        "p50_ttft_ms": ttft * 1e3,
        "p50_total_ms": total * 1e3,
        "ratio_of_p50s": ttft / total,
        "median_ratio": statistics.median(ratios),
        "server_cpu_s_per_request": cpu,
        "requests": [
            {
                "ttft_ms": r["ttft_s"] * 1e3,
                "total_ms": r["total_s"] * 1e3,
                "arrivals_ms": [t * 1e3 for t, _ in r["arrivals"]],
            }
            for r in runs
        ],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "default.yaml")
    parser.add_argument("--n", type=int, default=10, help="timed requests (after one warm-up)")
    parser.add_argument("--answer-guard", action="store_true", help="add a PII guard on the answer stage")
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="seconds to wait for /readyz")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "stream-ttft.json")
    args = parser.parse_args(argv)
    figures = run(args.scenario, args.n, args.answer_guard, args.ready_timeout)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
