"""The CI regression gate: compare a run with a baseline run, item by item, with a bootstrap interval.

A metric regresses only when its change is worse than ``tolerance`` **and** the 95% bootstrap interval of the
change lies entirely on the worse side of zero, so run-to-run noise does not fail builds. Items are paired by
id
where both runs scored them; the bootstrap resamples items with a fixed seed, so the verdict is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel

from harness.metrics import ItemContext, direction, item_value
from harness.results import ItemResult


class MetricComparison(BaseModel):
    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    n_paired: int
    higher_is_better: bool
    regressed: bool
    reason: str


def _bootstrap_mean(values: np.ndarray, rng: np.random.Generator, n: int) -> tuple[float, float]:
    idx = rng.integers(0, len(values), size=(n, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def compare(
    metric: str,
    baseline: Sequence[ItemResult],
    current: Sequence[ItemResult],
    *,
    tolerance: float,
    faithfulness_threshold: float,
    n_boot: int = 2000,
    seed: int = 0,
) -> MetricComparison:
    ctx = ItemContext(faithfulness_threshold=faithfulness_threshold)
    value: Callable[[ItemResult], float | None] = lambda it: item_value(it, metric, ctx)  # noqa: E731
    base = {it.id: v for it in baseline if (v := value(it)) is not None}
    cur = {it.id: v for it in current if (v := value(it)) is not None}
    higher = direction(metric) != "lower"
    if not base or not cur:
        return MetricComparison(
            metric=metric,
            baseline=np.mean(list(base.values())) if base else None,
            current=np.mean(list(cur.values())) if cur else None,
            delta=None,
            ci_low=None,
            ci_high=None,
            n_paired=0,
            higher_is_better=higher,
            regressed=False,
            reason="not measured in both runs",
        )
    rng = np.random.default_rng(seed)
    paired = sorted(set(base) & set(cur))
    b_mean, c_mean = float(np.mean(list(base.values()))), float(np.mean(list(cur.values())))
    if len(paired) >= 2:
        deltas = np.array([cur[i] - base[i] for i in paired])
        delta = float(deltas.mean())
        lo, hi = _bootstrap_mean(deltas, rng, n_boot)
    else:
        delta = c_mean - b_mean
        b_lo, b_hi = _bootstrap_mean(np.array(list(base.values())), rng, n_boot)
        c_lo, c_hi = _bootstrap_mean(np.array(list(cur.values())), rng, n_boot)
        lo, hi = c_lo - b_hi, c_hi - b_lo
    worse = -delta if higher else delta
    outside = hi < 0 if higher else lo > 0
    regressed = worse > tolerance and outside
    if regressed:
        reason = f"worse by {worse:.3f} (> tolerance {tolerance:g}) and the 95% interval excludes 0"
    elif worse > tolerance:
        reason = f"worse by {worse:.3f}, but within noise (95% interval [{lo:.3f}, {hi:.3f}] includes 0)"
    else:
        reason = "within tolerance"
    return MetricComparison(
        metric=metric,
        baseline=b_mean,
        current=c_mean,
        delta=delta,
        ci_low=lo,
        ci_high=hi,
        n_paired=len(paired),
        higher_is_better=higher,
        regressed=regressed,
        reason=reason,
    )


__all__ = ["MetricComparison", "compare"]
