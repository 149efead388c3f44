"""Injection guard speed per item on this machine's CPU, models loaded: ms per item (p50, p95, mean) and CPU
ms per item (``time.process_time``, which other processes' load does not inflate as it does wall time).

Run: python -m bench.injection_speed [--items 300] [--out runs/injection-speed.json]

Items are the BIPIA dev contexts (e-mails, tables, code threads; median about 1,000 characters) when
../shared/benchmarks is there, else 800-character chunks of the demo corpus, plus the demo golden questions.
A calibration loop (10 million additions in pure Python) is timed too, so figures from a busy machine can be
told from those of an idle one.

On the detector card's data (``--data``: a ``guard eval --injection`` JSONL such as the card's
``runs/detector-card/bipia_dev_injection.jsonl``; ``--sample N``: a fixed sample stratified by label, source
and position, 0 = every row), ``--scores FILE`` writes the classifier's score, decision and finding of every
item, and ``--compare FILE`` checks them against such a file from other code (largest score difference, any
decision or finding that differs; exit 1 if one does):

    python -m bench.injection_speed --data runs/detector-card/bipia_dev_injection.jsonl --sample 3000 \
        --scores runs/injection-scores-new.json --compare runs/injection-scores-old.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections import defaultdict
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


def card_sample(path: Path, n: int, seed: int = 7) -> list[tuple[str, str]]:
    """``n`` rows of a ``guard eval --injection`` JSONL, each (label, source, position) group in its share of
    the file (at least one row each), in file order; every row when ``n`` is 0."""
    from guards.injection_eval import load_rows

    rows = load_rows(path)
    chosen = list(range(len(rows)))
    if n:
        groups: dict[tuple[int, str, str], list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[(r.label, r.source, r.position or "")].append(i)
        rng = random.Random(seed)
        picked = [
            i
            for key in sorted(groups)
            for i in rng.sample(
                groups[key], min(len(groups[key]), max(1, round(n * len(groups[key]) / len(rows))))
            )
        ]
        chosen = sorted(picked)
    return [(rows[i].text, rows[i].stage) for i in chosen]


def verdicts(guard: object, sample: list[tuple[str, str]]) -> tuple[list[dict[str, object]], float]:
    """Each item's score, action and findings (recognizer, offsets, score, hash), and the CPU ms per item of
    that loop (``check`` then ``score``, as ``guard eval`` and so the detector card do)."""
    out: list[dict[str, object]] = []
    cpu0 = time.process_time()
    for text, stage in sample:
        result = guard.check(text, stage)  # type: ignore[attr-defined]
        out.append(
            {
                "score": guard.score(text, stage),  # type: ignore[attr-defined]
                "action": result.action,
                "findings": [[f.recognizer, f.start, f.end, f.score, f.value_hash] for f in result.findings],
            }
        )
    return out, (time.process_time() - cpu0) * 1e3 / max(1, len(sample))


def compare(new: list[dict[str, object]], old: list[dict[str, object]]) -> dict[str, float]:
    """Largest score difference and the number of items whose action or findings differ."""
    if len(new) != len(old):
        raise SystemExit(f"compare: {len(new)} items against {len(old)}: not the same sample")
    diffs = [abs(float(a["score"]) - float(b["score"])) for a, b in zip(new, old, strict=True)]  # type: ignore[arg-type]
    return {
        "n": len(new),
        "max_abs_score_diff": max(diffs, default=0.0),
        "scores_differing": sum(d > 0 for d in diffs),
        "actions_differing": sum(a["action"] != b["action"] for a, b in zip(new, old, strict=True)),
        "findings_differing": sum(a["findings"] != b["findings"] for a, b in zip(new, old, strict=True)),
    }


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
    cpu0 = time.process_time()
    for text, stage in sample:
        t0 = time.perf_counter()
        check(text, stage)
        per.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = (time.process_time() - cpu0) * 1e3
    arr = np.asarray(per)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "mean_ms": float(arr.mean()),
        "cpu_ms_per_item": cpu_ms / arr.size,
        "n": int(arr.size),
    }


def main() -> None:
    from guards.injection import InjectionGuard
    from harness.config import InjectionGuardConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("runs/injection-speed.json"))
    parser.add_argument("--model", type=Path, help="Classifier model file (default: the shipped one).")
    parser.add_argument(
        "--data", type=Path, help="Items from this guard-eval JSONL instead (--items ignored)."
    )
    parser.add_argument("--sample", type=int, default=0, help="Stratified sample of --data (0 = all rows).")
    parser.add_argument("--scores", type=Path, help="Write the classifier's verdict on every item here.")
    parser.add_argument("--compare", type=Path, help="Compare the verdicts with this --scores file.")
    parser.add_argument("--no-patterns", action="store_true", help="Time the classifier only.")
    args = parser.parse_args()
    sample = card_sample(args.data, args.sample) if args.data else items(args.items)
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
    differing = False
    for backend in ("classifier",) if args.no_patterns else ("classifier", "patterns"):
        model = {"model_path": args.model} if backend == "classifier" and args.model else {}
        guard = InjectionGuard(InjectionGuardConfig(backend=backend, canary=False, **model))  # type: ignore[arg-type]
        backends[backend] = measure(guard, sample)
        print(backend, {k: round(v, 3) for k, v in backends[backend].items()})
        if backend == "classifier" and (args.scores or args.compare):
            got, cpu_ms = verdicts(guard, sample)
            backends[backend]["check_and_score_cpu_ms_per_item"] = cpu_ms
            print("check then score (as guard eval), CPU ms per item", round(cpu_ms, 3))
            if args.scores:
                args.scores.parent.mkdir(parents=True, exist_ok=True)
                args.scores.write_text(json.dumps(got))
            if args.compare:
                result["compare"] = same = compare(got, json.loads(args.compare.read_text()))
                print("compare", same)
                differing = bool(same["actions_differing"] or same["findings_differing"])
    result["backends"] = backends
    print("machine", result["machine"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    if differing:
        sys.exit(1)


if __name__ == "__main__":
    main()
