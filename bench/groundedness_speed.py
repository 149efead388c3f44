"""Milliseconds per answer of the offline groundedness scorer on this machine's CPU, models loaded.

Run: python -m bench.groundedness_speed [--dataset PATH ...] [--demo-run] [--limit N]
[--modes batched,batched8,warm,cold,decide,decide-warm] [--threads N] [--out runs/groundedness-speed.json]
[--against EARLIER_OUT.json]

Data sets, each timed on its own: ``demo_golden`` (the default golden set's reference answers against their
reference documents, the realistic batch: passages recur across questions), then by default
``../shared/benchmarks/halueval_qa_dev.jsonl`` (short QA answers) and ``golden_sets/long_answers.jsonl``
(multi-sentence answers); ``--dataset`` takes any file `rag-harden calibrate` reads instead, ``--demo-run``
the default scenario's golden questions answered by the extractive generator against the passages it
retrieved (what `rag-harden run` scores; the generator's own sentence vectors are not shared with the
scorer here).

Modes, each with a fresh scorer (the one loaded MiniLM is shared):

- ``batched``: :meth:`GroundednessScorer.score_many` over the data set, default batch (what `rag-harden
  calibrate` does);
- ``batched8``: ``score_many`` in batches of 8 answers (what a run does, :func:`harness.runner.iter_scored`);
- ``warm``: one answer at a time, the scorer's cache kept across answers (what a run does, item by item);
- ``cold``: one answer at a time, the cache emptied before each answer (every passage sentence is new);
- ``decide``: :meth:`GroundednessScorer.decide_many` over the data set: the same decisions, MiniLM called
  only for the claims whose semantic feature can change one (the faithfulness of a result with a skipped
  claim is a lower bound, not a score);
- ``decide-warm``: ``decide`` one answer at a time, the cache kept (what a guard on served answers does).

Printed per mode: CPU ms per answer (process time: the honest figure on a shared machine) and wall ms per
answer (mean, and p50/p95 per answer for the one-at-a-time modes), the largest difference of any exact
answer's faithfulness from the first mode's (the modes must agree up to float noise of the embeddings), the
number of answers whose decision at the model's threshold differs from the first mode's (must be 0), and
the share of answers scored exactly. The 1-minute load average is printed and written with the figures: on
a busy machine wall times are inflated. Each answer's faithfulness is written too, so ``--against`` an
earlier output (of another commit: a speed change must not move a score beyond float noise, nor any
decision) prints and records the same two comparisons with that file's same data set and mode.
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
MODES = ("batched", "batched8", "warm", "cold", "decide", "decide-warm")
Item = tuple[str, list[str], str]  # (answer, passages, question)
Scores = dict[str, list[Any]]  # "faithfulness" and "exact", one entry per answer


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


def demo_run() -> list[Item]:
    """The default scenario's golden questions answered by the extractive generator, each with the passages
    it retrieved, as the runner gives them to the scorer (declined answers are not scored)."""
    from harness.config import ExtractiveGeneratorConfig, load_scenario
    from harness.golden import load_golden_set
    from harness.pipeline.rag import build_pipeline
    from harness.runner import groundedness_input

    scenario = load_scenario(REPO / "scenarios" / "default.yaml")
    extractive = scenario.pipeline.model_copy(update={"generator": ExtractiveGeneratorConfig()})
    pipeline = build_pipeline(scenario.model_copy(update={"pipeline": extractive}))
    examples = load_golden_set(scenario.golden_set)
    items = [groundedness_input(e, pipeline.answer(e.user_input)) for e in examples]
    return [(a, list(p), q) for a, p, q in (x for x in items if x is not None)]


def dataset_items(path: Path) -> list[Item]:
    from harness.eval.calibration import load_cases

    return [(c.answer, c.context, c.question) for c in load_cases(path)]


def run_mode(scorer: Any, items: Sequence[Item], mode: str) -> tuple[list[Any], dict[str, float]]:
    """Each item's :class:`~harness.eval.groundedness.Groundedness` and the figures of one mode."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    per: list[float] = []
    if mode in ("batched", "batched8"):
        results = scorer.score_many(items) if mode == "batched" else scorer.score_many(items, batch_size=8)
    elif mode == "decide":
        results = scorer.decide_many(items)
    else:
        results = []
        for item in items:
            if mode == "cold":
                scorer._cache.clear()
                scorer._contexts.clear()
            t0 = time.perf_counter()
            results += scorer.decide_many([item]) if mode == "decide-warm" else [scorer.score(*item)]
            per.append((time.perf_counter() - t0) * 1e3)
    n = len(items)
    figures = {
        "cpu_ms_per_answer": (time.process_time() - cpu0) * 1e3 / n,
        "wall_ms_per_answer": (time.perf_counter() - wall0) * 1e3 / n,
        "n": float(n),
        "exact_share": sum(g.exact for g in results) / n,
    }
    if per:
        figures |= {"p50_ms": float(np.percentile(per, 50)), "p95_ms": float(np.percentile(per, 95))}
    return results, figures


def compare(got: Scores, reference: Scores, threshold: float, suffix: str) -> dict[str, float]:
    """The largest difference of the faithfulness of answers exact in both, and the number of answers whose
    decision at ``threshold`` differs (a result that is not exact decides by its low end, as it reports)."""
    pairs = list(
        zip(got["faithfulness"], reference["faithfulness"], got["exact"], reference["exact"], strict=True)
    )
    return {
        "max_abs_diff_" + suffix: max((abs(g - r) for g, r, ge, re in pairs if ge and re), default=0.0),
        "decisions_differing_" + suffix: float(
            sum((g < threshold) != (r < threshold) for g, r, _, _ in pairs)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", type=Path, action="append", help="default: demo_golden, HaluEval dev, long"
    )
    parser.add_argument(
        "--demo-run", action="store_true", help="the extractive pipeline's answers to the demo"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N answers of each data set")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("runs/groundedness-speed.json"))
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="an earlier --out file (e.g. of another commit): compare each mode's scores with its scores",
    )
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
    if args.dataset or args.demo_run:
        sets = {p.stem: dataset_items(p) for p in args.dataset or []}
        sets |= {"demo_run": demo_run()} if args.demo_run else {}
    else:
        sets["demo_golden"] = demo_golden()
        for p in (SHARED / "halueval_qa_dev.jsonl", REPO / "golden_sets" / "long_answers.jsonl"):
            if p.is_file():
                sets[p.stem] = dataset_items(p)
    # The embedder's own vector cache off: each mode starts from nothing but its scorer's cache.
    embedder = EMBEDDERS.build(SentenceTransformersEmbedderConfig(device="cpu", cache_size=0))
    embedder.embed(["warm-up"], kind="passage")

    results: dict[str, dict[str, float]] = {}
    scores: dict[str, Scores] = {}
    earlier = json.loads(args.against.read_text())["scores"] if args.against else {}
    load = os.getloadavg()[0]
    print(f"torch threads {torch.get_num_threads()}, load average {load:.1f}, {os.cpu_count()} CPUs")
    for name, items in sets.items():
        items = items[: args.limit]
        for mode in modes:
            scorer = GroundednessScorer(embedder)
            got, fig = run_mode(scorer, items, mode)
            key = f"{name}/{mode}"
            scores[key] = {"faithfulness": [g.faithfulness for g in got], "exact": [g.exact for g in got]}
            threshold = scorer.model.faithfulness_threshold
            fig |= compare(scores[key], scores[f"{name}/{modes[0]}"], threshold, "vs_" + modes[0])
            against = ""
            if key in earlier:
                fig |= compare(scores[key], earlier[key], threshold, "vs_against")
                against = (
                    f"  vs --against: max |d| {fig['max_abs_diff_vs_against']:.1e}, decisions differing "
                    f"{fig['decisions_differing_vs_against']:.0f}"
                )
            results[key] = fig
            spread = f"  p50 {fig['p50_ms']:7.1f}  p95 {fig['p95_ms']:7.1f}" if "p50_ms" in fig else ""
            print(
                f"{key:26s} CPU {fig['cpu_ms_per_answer']:7.1f} ms/answer  wall "
                f"{fig['wall_ms_per_answer']:7.1f}{spread}  max |d faithfulness| (exact ones) "
                f"{fig['max_abs_diff_vs_' + modes[0]]:.1e}  decisions differing "
                f"{fig['decisions_differing_vs_' + modes[0]]:.0f}  exact {fig['exact_share']:.0%}  "
                f"({len(items)} answers){against}",
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
                "scores": scores,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
