"""Milliseconds per answer of the offline groundedness scorer on this machine's CPU, models loaded.

Run: python -m bench.groundedness_speed [--dataset PATH ...] [--limit N] [--modes batched,warm,cold]
[--threads N] [--out runs/groundedness-speed.json]

Data sets, each timed on its own: ``demo_golden`` (the default golden set's reference answers against their
reference documents, the realistic batch: passages recur across questions), then by default
``../shared/benchmarks/halueval_qa_dev.jsonl`` (short QA answers) and ``golden_sets/long_answers.jsonl``
(multi-sentence answers); ``--dataset`` takes any file `rag-harden calibrate` reads instead.

Modes, each with a fresh scorer (the one loaded MiniLM is shared):

- ``batched``: :meth:`GroundednessScorer.score_many` over the data set (what `rag-harden calibrate` does);
- ``warm``: one answer at a time, the scorer's cache kept across answers (what a run does, item by item);
- ``cold``: one answer at a time, the cache emptied before each answer (every passage sentence is new).

Printed per mode: CPU ms per answer (process time: the honest figure on a shared machine) and wall ms per
answer (mean, and p50/p95 per answer for the one-at-a-time modes), and the largest difference of any
answer's faithfulness from the first mode's (the modes must agree up to float noise of the embeddings). The
1-minute load average is printed and written with the figures: on a busy machine wall times are inflated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "benchmarks"
MODES = ("batched", "warm", "cold")
Item = tuple[str, list[str], str]  # (answer, passages, question)


def demo_golden() -> list[Item]:
    """The default golden set's reference answers, each with the documents it cites and its question."""
    from harness.golden import load_golden_set
    from harness.pipeline.documents import load_documents

    docs = {d.doc_id: d.text for d in load_documents([REPO / "golden_sets" / "demo_corpus"])}
    out = []
    for ex in load_golden_set(REPO / "golden_sets" / "demo_golden.jsonl"):
        passages = [docs[d] for d in ex.reference_doc_ids if d in docs]
        if ex.answerable and ex.reference and passages:
            out.append((ex.reference, passages, ex.user_input))
    return out


def dataset_items(path: Path) -> list[Item]:
    from harness.eval.calibration import load_cases

    return [(c.answer, c.context, c.question) for c in load_cases(path)]


def run_mode(scorer: Any, items: Sequence[Item], mode: str) -> tuple[list[float], dict[str, float]]:
    """Faithfulness of each item and the figures of one mode."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    per: list[float] = []
    if mode == "batched":
        scores = [g.faithfulness for g in scorer.score_many(items)]
    else:
        scores = []
        for answer, passages, question in items:
            if mode == "cold":
                scorer._cache.clear()
                scorer._contexts.clear()
            t0 = time.perf_counter()
            scores.append(scorer.score(answer, passages, question).faithfulness)
            per.append((time.perf_counter() - t0) * 1e3)
    n = len(items)
    figures = {
        "cpu_ms_per_answer": (time.process_time() - cpu0) * 1e3 / n,
        "wall_ms_per_answer": (time.perf_counter() - wall0) * 1e3 / n,
        "n": float(n),
    }
    if per:
        figures |= {"p50_ms": float(np.percentile(per, 50)), "p95_ms": float(np.percentile(per, 95))}
    return scores, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", type=Path, action="append", help="default: demo_golden, HaluEval dev, long"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N answers of each data set")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("runs/groundedness-speed.json"))
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"--modes: unknown {sorted(unknown)}; valid: {', '.join(MODES)}")

    import torch

    import harness  # noqa: F401  (environment for offline use)
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.eval.groundedness import GroundednessScorer
    from harness.pipeline.embedders import EMBEDDERS

    if args.threads:
        torch.set_num_threads(args.threads)
    sets: dict[str, list[Item]] = {}
    if args.dataset:
        sets = {p.stem: dataset_items(p) for p in args.dataset}
    else:
        sets["demo_golden"] = demo_golden()
        for p in (SHARED / "halueval_qa_dev.jsonl", REPO / "golden_sets" / "long_answers.jsonl"):
            if p.is_file():
                sets[p.stem] = dataset_items(p)
    # The embedder's own vector cache off: each mode starts from nothing but its scorer's cache.
    embedder = EMBEDDERS.build(SentenceTransformersEmbedderConfig(device="cpu", cache_size=0))
    embedder.embed(["warm-up"], kind="passage")

    results: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0]
    print(f"torch threads {torch.get_num_threads()}, load average {load:.1f}, {os.cpu_count()} CPUs")
    for name, items in sets.items():
        items = items[: args.limit]
        first: list[float] | None = None
        for mode in modes:
            scores, fig = run_mode(GroundednessScorer(embedder), items, mode)
            first = scores if first is None else first
            fig["max_abs_diff_vs_" + modes[0]] = float(np.max(np.abs(np.subtract(scores, first))))
            results[f"{name}/{mode}"] = fig
            spread = f"  p50 {fig['p50_ms']:7.1f}  p95 {fig['p95_ms']:7.1f}" if "p50_ms" in fig else ""
            print(
                f"{name + '/' + mode:26s} CPU {fig['cpu_ms_per_answer']:7.1f} ms/answer  wall "
                f"{fig['wall_ms_per_answer']:7.1f}{spread}  max |d faithfulness| "
                f"{fig['max_abs_diff_vs_' + modes[0]]:.1e}  ({len(items)} answers)",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "groundedness_speed",
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "load_average_1min": os.getloadavg()[0],
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
