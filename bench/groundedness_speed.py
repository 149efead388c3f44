"""Milliseconds per answer of the offline groundedness scorer on the 2-core CPU, models loaded.

Run: python -m bench.groundedness_speed [--dataset ../shared/benchmarks/halueval_qa_dev.jsonl] [--dataset
golden_sets/long_answers.jsonl]

Any data set `rag-harden calibrate` reads (HaluEval-style pairs or single labelled answers); each is timed on
its own (short QA answers, multi-sentence answers).

Two figures: *cold* (the passage sentences have never been seen: they are embedded in the call) and *warm
passages* (the passages' sentences were embedded before, as they are in a RAG system whose corpus recurs
across questions; each answer's claims are still embedded in the call).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset",
        type=Path,
        action="append",
        help="default: ../shared/benchmarks/halueval_qa_dev.jsonl and golden_sets/long_answers.jsonl",
    )
    parser.add_argument("--limit", type=int, default=None, help="first N answers of each data set")
    parser.add_argument("--out", type=Path, default=Path("runs/groundedness-speed.json"))
    args = parser.parse_args()

    import harness  # noqa: F401
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.eval.calibration import load_cases
    from harness.eval.groundedness import GroundednessScorer
    from harness.pipeline.embedders import EMBEDDERS
    from harness.text import split_sentences

    datasets = args.dataset or [
        p
        for p in (
            REPO.parent / "shared" / "benchmarks" / "halueval_qa_dev.jsonl",
            REPO / "golden_sets" / "long_answers.jsonl",
        )
        if p.exists()
    ]
    embedder = EMBEDDERS.build(SentenceTransformersEmbedderConfig(device="cpu"))
    embedder.embed(["warm-up"], kind="passage")

    def run(scorer, cases, warm: bool) -> list[float]:
        out = []
        for c in cases:
            if warm:
                scorer._vectors([s for p in c.context for s in split_sentences(p)])
            t0 = time.perf_counter()
            scorer.score(c.answer, c.context, c.question)
            out.append((time.perf_counter() - t0) * 1e3)
            scorer._cache.clear() if not warm else None
        return out

    results = {}
    for path in datasets:
        cases = load_cases(path)[: args.limit]
        for mode, warm in (("cold", False), ("warm_passages", True)):
            name = f"{path.stem}/{mode}"
            ms = np.asarray(run(GroundednessScorer(embedder), cases, warm))
            results[name] = {
                "p50_ms": float(np.percentile(ms, 50)),
                "p95_ms": float(np.percentile(ms, 95)),
                "mean_ms": float(ms.mean()),
                "n": int(ms.size),
            }
            print(
                f"{name:34s} p50 {results[name]['p50_ms']:6.2f} ms  p95 {results[name]['p95_ms']:6.2f} ms  "
                f"mean {results[name]['mean_ms']:6.2f} ms  ({ms.size} answers)"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "groundedness_speed",
                "machine": platform.platform(),
                "load_average_1min": os.getloadavg()[0],
                "cpus": os.cpu_count(),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
