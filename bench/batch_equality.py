"""Batched vs one-at-a-time greedy generation on a scenario's golden set (default: the default scenario).

Run: python -m bench.batch_equality [--scenario scenarios/default.yaml] [--batch-sizes 1,8] [--limit N]
[--out runs/batch-equality.json]

One process, one loaded pipeline: every golden item is answered once per pass (as ``rag-harden bench``
answers them: ``answer`` for a batch of one, ``answer_many`` otherwise), then scored the same way bench scores
it, and the scenario's metrics and asserts are computed from the scored items. A pass is a batch size, and
for the ``transformers`` generator optionally its decoding: ``1:generate`` (transformers' ``generate()``, the
decoding before ``harness/pipeline/generators/hf_decode.py``), ``8:no-prefix`` (no cached system turn), e.g.
``--batch-sizes 1:generate,1,8``. Printed:

- per pass: wall and CPU (process time, all threads) seconds per item for answering alone (scoring is
  the same work both ways and is not in these figures), and the 1-minute load average before the pass, since
  wall times on a shared machine are inflated by the others' load;
- the items whose answers differ from the first batch size's (left padding can flip a greedy near-tie), their
  ids, the character where they part, and their per-item scores both ways;
- the scenario's metrics both ways, their difference, and any assert whose verdict changed.

The figures and answers' hashes (never the answers) are written to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _answer_all(pipeline: Any, questions: Sequence[str], batch_size: int) -> tuple[list[Any], float, float]:
    """Every question's answer, ``batch_size`` at a time, and the wall and CPU seconds it took."""
    answers: list[Any] = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for start in range(0, len(questions), batch_size):
        batch = questions[start : start + batch_size]
        answers += [pipeline.answer(batch[0])] if len(batch) == 1 else pipeline.answer_many(batch)
    return answers, time.perf_counter() - wall0, time.process_time() - cpu0


def _item_scores(item: Any) -> dict[str, Any]:
    scores = dict(item.answer_scores or {})
    return {
        "semantic_similarity": scores.get("semantic_similarity"),
        "rouge_l": scores.get("rouge_l"),
        "faithfulness": item.faithfulness,
        "declined": item.declined,
        "unsupported_claims": len(item.unsupported_claims),
    }


def _parting(a: str, b: str) -> int:
    """Index of the first character where ``a`` and ``b`` differ."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


VARIANTS: dict[str, dict[str, Any]] = {
    "generate": {"decode": "generate"},
    "no-prefix": {"prefix_cache": False},
}


def _parse_pass(spec: str) -> tuple[int, dict[str, Any]]:
    """``"8:no-prefix"`` -> (8, {"prefix_cache": False}): a batch size and generator options."""
    size, *names = spec.split(":")
    options: dict[str, Any] = {}
    for name in names:
        if name not in VARIANTS:
            raise ValueError(f"unknown pass option {name!r} in {spec!r}; known: {', '.join(VARIANTS)}")
        options.update(VARIANTS[name])
    return int(size), options


def _generator_for(parts: Any, scenario: Any, options: dict[str, Any], built: dict[str, Any]) -> Any:
    """The scenario's generator, or one built with ``options`` (once per option set)."""
    if not options:
        return built.setdefault("", parts.pipeline.generator)
    from harness.pipeline.generators import GENERATORS
    from harness.registry import BuildContext

    config = scenario.pipeline.generator
    if config.backend != "transformers":
        raise SystemExit(f"pass options {sorted(options)} need the transformers generator ({config.backend})")
    key = json.dumps(options, sort_keys=True)
    if key not in built:
        built[key] = GENERATORS.build(config.model_copy(update=options), ctx=BuildContext(log=print))
    return built[key]


def run(scenario_path: Path, passes_wanted: Sequence[str], limit: int | None) -> dict[str, Any]:
    from harness.compose import build_components
    from harness.config import load_scenario
    from harness.eval.retrieval import metric_ks
    from harness.golden import load_golden_set
    from harness.results import now_iso
    from harness.runner import score_answer
    from harness.summary import ScenarioMeta, summarize_scenario

    scenario = load_scenario(scenario_path)
    parts = build_components(scenario, log=print)
    examples = load_golden_set(scenario.golden_set)[:limit]
    questions = [e.user_input for e in examples]
    ks = metric_ks(scenario.pipeline.retriever.top_k)
    parts.pipeline.answer(questions[0])  # warm-up: lazy initialisation is in neither figure
    meta = ScenarioMeta(
        name=scenario.name,
        scenario_path=str(scenario_path),
        scenario_hash=scenario.fingerprint(),
        golden_set=str(scenario.golden_set),
        started_at=now_iso(),
        n_items=len(examples),
        items_file="",
    )
    passes: dict[str, dict[str, Any]] = {}
    generators: dict[str, Any] = {}
    pipeline: Any = parts.pipeline  # a RagPipeline: its generator is swapped per pass
    for b in passes_wanted:
        size, options = _parse_pass(b)
        fresh = len(generators)
        pipeline.generator = _generator_for(parts, scenario, options, generators)
        if len(generators) > fresh and options:
            pipeline.answer(questions[0])  # warm-up, as for the scenario's generator
        load = os.getloadavg()[0]
        answers, wall, cpu = _answer_all(parts.pipeline, questions, size)
        items = [score_answer(e, a, parts, ks) for e, a in zip(examples, answers, strict=True)]
        result = summarize_scenario(scenario, meta, items)
        passes[b] = {"answers": answers, "items": items, "result": result}
        print(
            f"pass {b}: answering {wall / len(examples):.2f} s wall, {cpu / len(examples):.2f} s CPU "
            f"per item ({len(examples)} items, load average {load:.2f} before the pass)"
        )
        passes[b]["figures"] = {
            "wall_s_per_item": wall / len(examples),
            "cpu_s_per_item": cpu / len(examples),
            "load_average_1m": load,
            "answer_sha256": [hashlib.sha256(a.answer.encode()).hexdigest()[:16] for a in answers],
        }
    return _compare(examples, passes, passes_wanted)


def _compare(
    examples: Sequence[Any], passes: dict[str, dict[str, Any]], sizes: Sequence[str]
) -> dict[str, Any]:
    base = sizes[0]
    out: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared: wall times inflated by the others)",
        "n_items": len(examples),
        "passes": {b: passes[b]["figures"] for b in sizes},
        "comparisons": {},
    }
    ref = passes[base]
    for b in sizes[1:]:
        other = passes[b]
        differing = [
            i
            for i, (x, y) in enumerate(zip(ref["answers"], other["answers"], strict=True))
            if x.answer != y.answer
        ]
        ids = [examples[i].id for i in differing]
        print(f"\npass {b} vs {base}: {len(differing)} of {len(examples)} answers differ: {ids}")
        per_item = {}
        for i in differing:
            a, c = ref["answers"][i].answer, other["answers"][i].answer
            s_ref, s_other = _item_scores(ref["items"][i]), _item_scores(other["items"][i])
            per_item[examples[i].id] = {"parts_at_char": _parting(a, c), str(base): s_ref, str(b): s_other}
            shown = ", ".join(f"{k} {_fmt(s_ref[k])} -> {_fmt(s_other[k])}" for k in s_ref)
            print(f"  {examples[i].id}: parts at char {_parting(a, c)} of {len(a)}/{len(c)}; {shown}")
        m_ref, m_other = ref["result"].metrics, other["result"].metrics
        print(f"\n  {'metric':<44} {'pass ' + base:>16} {'pass ' + b:>16} {'diff':>10}")
        metrics = {}
        for name in sorted(set(m_ref) | set(m_other)):
            x, y = m_ref.get(name), m_other.get(name)
            diff = y - x if isinstance(x, float) and isinstance(y, float) else None
            metrics[name] = {str(base): x, str(b): y, "diff": diff}
            print(f"  {name:<44} {_fmt(x):>16} {_fmt(y):>16} {_fmt(diff):>10}")
        verdicts = {a.metric: a.passed for a in ref["result"].asserts}
        changed = [a.metric for a in other["result"].asserts if verdicts.get(a.metric) != a.passed]
        print(f"  asserts whose verdict changed: {changed or 'none'}")
        passed = ref["result"].passed, other["result"].passed
        print(f"  scenario passed: {passed[0]} (batch {base}) vs {passed[1]} (batch {b})")
        out["comparisons"][f"{b}_vs_{base}"] = {
            "differing_ids": ids,
            "per_item": per_item,
            "metrics": metrics,
            "asserts_changed": changed,
            "passed": {str(base): ref["result"].passed, str(b): other["result"].passed},
        }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "default.yaml")
    parser.add_argument(
        "--batch-sizes",
        default="1,8",
        help="comma-separated passes (SIZE or SIZE:generate, SIZE:no-prefix); the first is the reference",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N golden items")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "batch-equality.json")
    args = parser.parse_args(argv)
    sizes = args.batch_sizes.split(",")
    try:
        if len(sizes) < 2 or min(_parse_pass(s)[0] for s in sizes) < 1:
            parser.error("--batch-sizes needs at least two passes of size >= 1")
    except ValueError as exc:
        parser.error(str(exc))
    figures = run(args.scenario, sizes, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
