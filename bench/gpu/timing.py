"""Wall-clock timing of one callable, synchronised with the device, as raw per-call samples."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    fn: Callable[[], Any], device: torch.device, *, warmup: int = 2, reps: int = 10, budget_s: float = 10.0
) -> list[float]:
    """Milliseconds per call for up to ``reps`` calls after ``warmup`` (fewer when ``budget_s`` runs out; at
    least
    one). Each call is synchronised, so a sample is the call's latency, not its launch time."""
    for _ in range(warmup):
        fn()
    sync(device)
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append((time.perf_counter() - t0) * 1e3)
        if time.perf_counter() > deadline:
            break
    return samples


def stats(samples_ms: list[float]) -> dict[str, float]:
    arr = np.asarray(samples_ms, dtype=np.float64)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "min_ms": float(arr.min()),
        "n": float(arr.size),
    }


__all__ = ["stats", "sync", "time_calls"]
