"""Latency statistics from raw samples (no bucketing): pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel


class LatencyStats(BaseModel):
    n: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def summarize(samples_ms: Sequence[float]) -> LatencyStats:
    """Percentiles by linear interpolation between closest ranks (numpy's default)."""
    if not samples_ms:
        return LatencyStats(n=0, mean_ms=None, p50_ms=None, p95_ms=None, p99_ms=None, max_ms=None)
    arr = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return LatencyStats(
        n=int(arr.size),
        mean_ms=float(arr.mean()),
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        max_ms=float(arr.max()),
    )


__all__ = ["LatencyStats", "summarize"]
