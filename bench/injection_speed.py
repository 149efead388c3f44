"""Injection guard speed per item on this machine's CPU, models loaded: ms per item (p50, p95, mean).

Run: python -m bench.injection_speed [--items 300] [--out runs/injection-speed.json]

Items are the BIPIA dev contexts (e-mails, tables, code threads; median about 1,000 characters) when
../shared/benchmarks is there, else 800-character chunks of the demo corpus, plus the demo golden questions.
A calibration loop (10 million additions in pure Python) is timed too, so figures from a busy machine can be
told from those of an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "benchmarks"


def items(n: int) -> list[tuple[str, str]]:
    from harness.jsonl import iter_jsonl

    docs: list[tuple[str, str]] = []
    contexts = SHARED / "bipia_dev_contexts.jsonl"
    if contexts.is_file():
        docs = [(row["context"], "context") for _, row in iter_jsonl(contexts, "contexts")]
    else:
        from guards.injection_data import _demo_passages

        docs = [(p, "context") for p in _demo_passages(REPO / "golden_sets" / "demo_corpus")]
    questions = [
        (row["user_input"], "query") for _, row in iter_jsonl(REPO / "golden_sets" / "demo_golden.jsonl")
    ]
    mixed = docs + questions
    return (mixed * (n // len(mixed) + 1))[:n]


def calibration_s() -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(10_000_000):
        x += i
    return time.perf_counter() - t0


def measure(guard: object, sample: list[tuple[str, str]]) -> dict[str, float]:
    check = guard.check  # type: ignore[attr-defined]
    check(sample[0][0], sample[0][1])
    per: list[float] = []
    for text, stage in sample:
        t0 = time.perf_counter()
        check(text, stage)
        per.append((time.perf_counter() - t0) * 1e3)
    arr = np.asarray(per)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "mean_ms": float(arr.mean()),
        "n": int(arr.size),
    }


def main() -> None:
    from guards.injection import InjectionGuard
    from harness.config import InjectionGuardConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("runs/injection-speed.json"))
    parser.add_argument("--model", type=Path, help="Classifier model file (default: the shipped one).")
    args = parser.parse_args()
    sample = items(args.items)
    chars = [len(t) for t, _ in sample]
    result: dict[str, object] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
            "calibration_10M_adds_s": round(calibration_s(), 3),
        },
        "items": {
            "n": len(sample),
            "median_chars": float(np.median(chars)),
            "mean_chars": float(np.mean(chars)),
        },
    }
    backends: dict[str, dict[str, float]] = {}
    for backend in ("classifier", "patterns"):
        model = {"model_path": args.model} if backend == "classifier" and args.model else {}
        guard = InjectionGuard(InjectionGuardConfig(backend=backend, canary=False, **model))  # type: ignore[arg-type]
        backends[backend] = measure(guard, sample)
        print(backend, {k: round(v, 3) for k, v in backends[backend].items()})
    result["backends"] = backends
    print("machine", result["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
