"""Does the offline groundedness scorer penalise length? Specificity by number of fact claims and by
paraphrase strength, and a cross-validated comparison of aggregations that might not.

    python -m harness.eval.groundedness_length [--cache PATH] [--out runs/groundedness-length.json]

1. **The shipped model** on the two training files (all answers, then the 25% test split alone; most of the
   rest was fitted on): specificity (grounded answers not flagged at the shipped threshold) and sensitivity by
   number of fact claims (1, 2, 3, 4+) and, for grounded answers, by paraphrase strength (the mean over an
   answer's fact claims of the share of its content words absent from its best context sentence,
   ``1 - best_lexical``), with 95% bootstrap intervals over groups.
2. **Aggregations under the grouped 5-fold cross-validation of** :mod:`harness.eval.train_groundedness` (the
   non-test groups only; the test split is not read): per-fold models at each C of the training grid, then
   for each aggregation of the claims' supports the out-of-fold mean balanced accuracy (the training
   criterion) with its threshold chosen on the same scores, and the out-of-fold specificity on the long
   answers by claim count. Aggregations: ``w * min + (1 - w) * mean`` (the shipped family), ``mean``, the mean
   of the two lowest, and the product (noisy-OR of the claims' unsupported probabilities). For the shipped
   aggregation also claim-count-aware thresholds (one per claim count; ``t + b * log(k)``), **nested**:
   thresholds chosen on four folds' out-of-fold scores and applied to the fifth, beside a global threshold
   chosen the same way.

An aggregation is worth adopting only if it is at least as good under cross-validation and removes the trend.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.eval.calibration import bootstrap, rates
from harness.eval.groundedness_model import ClaimModel, shipped_model
from harness.eval.train_groundedness import (
    C_GRID,
    Answer,
    choose_threshold,
    featurised,
    fit,
    fold,
    is_test,
)

CLAIM_BINS = (1, 2, 3, 4)  # 4 = four or more
PARAPHRASE_BINS = ((0.0, 0.05), (0.05, 0.15), (0.15, 1.01))
Aggregate = Callable[[Sequence[float]], float]
AGGREGATIONS: dict[str, Aggregate] = {
    "min": min,
    "0.75 min + 0.25 mean": lambda s: 0.75 * min(s) + 0.25 * float(np.mean(s)),
    "0.5 min + 0.5 mean (shipped)": lambda s: 0.5 * min(s) + 0.5 * float(np.mean(s)),
    "mean": lambda s: float(np.mean(s)),
    "mean of the two lowest": lambda s: float(np.mean(sorted(s)[:2])),
    "product (noisy-OR)": lambda s: float(np.prod(s)),
}


def _facts(a: Answer) -> list[Any]:
    return [c for c in a.claims or [] if c.kind == "fact"]


def claim_bin(a: Answer) -> int:
    """1, 2, 3 or 4 (four or more); an answer without a fact claim counts as 1 (it scores 1.0)."""
    return min(max(len(_facts(a)), 1), CLAIM_BINS[-1])


def paraphrase(a: Answer) -> float:
    facts = _facts(a)
    return float(np.mean([1.0 - c.features["best_lexical"] for c in facts])) if facts else 0.0


def _aggregate(model: ClaimModel, a: Answer, how: Aggregate) -> float:
    supports = [model.support(c.features) for c in _facts(a)]
    return how(supports) if supports else 1.0


def _interval(values: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Share of ``values`` (booleans), with a 95% interval over groups; NaN for an empty bin."""
    if not len(values):
        return {"value": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    stat = bootstrap(lambda ix: float(values[ix].mean()), groups, 1000)
    return {**stat.model_dump(), "n": len(values)}


def shipped_by_length(answers: list[Answer], model: ClaimModel) -> dict[str, Any]:
    """Part 1: the shipped model's specificity and sensitivity per claim count and paraphrase strength."""
    out: dict[str, Any] = {}
    for split, chosen in (("all", answers), ("test split", [a for a in answers if is_test(a.group)])):
        for dataset in sorted({a.dataset for a in chosen}):
            sub = [a for a in chosen if a.dataset == dataset]
            scores = np.array([model.aggregate([model.support(c.features) for c in _facts(a)]) for a in sub])
            flagged = scores < model.faithfulness_threshold
            y = np.array([a.hallucinated for a in sub])
            groups = np.array([a.group for a in sub])
            bins = np.array([claim_bin(a) for a in sub])
            strength = np.array([paraphrase(a) for a in sub])
            rows: dict[str, Any] = {}
            for k in CLAIM_BINS:
                grounded, wrong = (bins == k) & ~y, (bins == k) & y
                rows[f"claims {k}{'+' if k == CLAIM_BINS[-1] else ''}"] = {
                    "specificity": _interval(~flagged[grounded], groups[grounded]),
                    "sensitivity": _interval(flagged[wrong], groups[wrong]),
                }
            for low, high in PARAPHRASE_BINS:
                grounded = (strength >= low) & (strength < high) & ~y
                rows[f"paraphrase [{low}, {min(high, 1.0)})"] = {
                    "specificity": _interval(~flagged[grounded], groups[grounded])
                }
            out[f"{split}/{dataset}"] = rows
    return out


def _mean_balanced(flagged: np.ndarray, labels: np.ndarray, datasets: np.ndarray) -> float:
    return float(
        np.mean([np.mean(rates(flagged[datasets == d], labels[datasets == d])) for d in np.unique(datasets)])
    )


def _long_specificity(
    flagged: np.ndarray, labels: np.ndarray, datasets: np.ndarray, bins: np.ndarray
) -> list[float]:
    out = []
    for k in CLAIM_BINS:
        grounded = (datasets == "long_answers") & (bins == k) & ~labels
        out.append(round(float(1.0 - flagged[grounded].mean()), 4) if grounded.any() else float("nan"))
    return out


Thresholds = Callable[[np.ndarray], np.ndarray]  # claim counts -> thresholds
ThresholdRule = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Thresholds]


def _global(s: np.ndarray, y: np.ndarray, d: np.ndarray, b: np.ndarray) -> Thresholds:
    t, _ = choose_threshold(s, y, d)
    return lambda bins: np.full(len(bins), t)


def _per_count(s: np.ndarray, y: np.ndarray, d: np.ndarray, b: np.ndarray) -> Thresholds:
    ts = {k: choose_threshold(s[b == k], y[b == k], d[b == k])[0] for k in CLAIM_BINS}
    return lambda bins: np.array([ts[int(k)] for k in bins])


def _log_count(s: np.ndarray, y: np.ndarray, d: np.ndarray, b: np.ndarray) -> Thresholds:
    best = (-1.0, 0.0, 0.0)
    for slope in np.round(np.arange(-0.3, 0.301, 0.025), 3):
        t, acc = choose_threshold(s - slope * np.log(b), y, d)
        if acc > best[0] + 1e-9:
            best = (acc, t, float(slope))
    _, t, slope = best
    return lambda bins: t + slope * np.log(bins)


THRESHOLD_RULES: dict[str, ThresholdRule] = {
    "global threshold": _global,
    "one threshold per claim count": _per_count,
    "t + b * log(claims)": _log_count,
}


def aggregations_cv(answers: list[Answer], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Part 2, on the non-test groups only."""
    pool = [a for a in answers if not is_test(a.group)]
    folds = np.array([fold(a.group) for a in pool])
    labels = np.array([a.hallucinated for a in pool])
    datasets = np.array([a.dataset for a in pool])
    bins = np.array([claim_bin(a) for a in pool])
    out: dict[str, Any] = {"answers": len(pool), "aggregations": [], "nested_thresholds": []}
    for c_value in C_GRID:
        models = {k: fit([a for a, f in zip(pool, folds, strict=True) if f != k], c_value) for k in range(5)}
        for name, how in AGGREGATIONS.items():
            oof = np.array([_aggregate(models[f], a, how) for a, f in zip(pool, folds, strict=True)])
            threshold, acc = choose_threshold(oof, labels, datasets)
            spec = _long_specificity(oof < threshold, labels, datasets, bins)
            out["aggregations"].append(
                {
                    "C": c_value,
                    "aggregation": name,
                    "oof_mean_balanced_accuracy": round(acc, 4),
                    "threshold": threshold,
                    "long_specificity_by_claims": spec,
                }
            )
            log(
                f"C={c_value:<5} {name:30s} OOF mean bal. acc. {acc:.4f} at {threshold:.4f}; long answers'"
                f" specificity by claims 1/2/3/4+ {spec}"
            )
            if name.endswith("(shipped)"):
                for rule_name, rule in THRESHOLD_RULES.items():
                    flagged = np.zeros(len(pool), dtype=bool)
                    for k in range(5):
                        chosen = rule(
                            oof[folds != k], labels[folds != k], datasets[folds != k], bins[folds != k]
                        )
                        flagged[folds == k] = oof[folds == k] < chosen(bins[folds == k])
                    nested = _mean_balanced(flagged, labels, datasets)
                    spec = _long_specificity(flagged, labels, datasets, bins)
                    out["nested_thresholds"].append(
                        {
                            "C": c_value,
                            "rule": rule_name,
                            "nested_mean_balanced_accuracy": round(nested, 4),
                            "long_specificity_by_claims": spec,
                        }
                    )
                    log(
                        f"C={c_value:<5}   nested, {rule_name:28s} mean bal. acc. {nested:.4f}; long answers'"
                        f" specificity by claims 1/2/3/4+ {spec}"
                    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cache", type=Path, default=None, help="features kept between runs (train's --cache)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/groundedness-length.json"))
    args = parser.parse_args()
    import harness  # noqa: F401  (offline environment before imports)

    answers = featurised(args.cache)
    shipped = shipped_by_length(answers, shipped_model())
    for where, rows in shipped.items():
        for name, figures in rows.items():
            text = "  ".join(
                f"{k} {v['value']:.3f} [{v['low']:.3f}, {v['high']:.3f}] (n={v['n']})"
                for k, v in figures.items()
            )
            print(f"shipped model, {where:26s} {name:22s} {text}", flush=True)
    report = {"shipped_model": shipped, "cross_validation": aggregations_cv(answers)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
