"""Open-loop arrival schedules: when each request must be sent, whatever the earlier ones are doing."""

from __future__ import annotations

import numpy as np

from harness.config import LoadStage


def arrival_times(stages: list[LoadStage], arrival: str, seed: int, max_requests: int) -> list[float]:
    """Send times in seconds from the start. Within a stage the rate ramps linearly from ``ramp_from`` (or the
    stage's own rate) to ``rate``. Constant arrivals follow the expected count exactly; Poisson arrivals are
    drawn
    by thinning at the stage's peak rate."""
    rng = np.random.default_rng(seed)
    times: list[float] = []
    start = 0.0
    for stage in stages:
        if stage.rate is None:
            raise ValueError("an open-loop stage needs a rate")  # LoadConfig validates this for scenarios
        r1: float = stage.rate
        r0: float = stage.ramp_from if stage.ramp_from is not None else r1

        def rate(t: float, r0: float = r0, r1: float = r1, duration: float = stage.duration_s) -> float:
            return r0 + (r1 - r0) * (t / duration)

        t, n = 0.0, 0
        peak = max(r0, r1)
        while len(times) < max_requests:
            if arrival == "poisson":
                t += rng.exponential(1.0 / peak)
                if t >= stage.duration_s:
                    break
                if rng.random() <= rate(t) / peak:
                    times.append(start + t)
            else:
                # The n-th arrival of a linear ramp falls where the expected count r0*t + (r1-r0)*t^2/(2D) is
                # n.
                a, b = (r1 - r0) / (2 * stage.duration_s), r0
                t = n / b if a == 0 else (-b + (b * b + 4 * a * n) ** 0.5) / (2 * a)
                if t >= stage.duration_s:
                    break
                times.append(start + t)
                n += 1
        start += stage.duration_s
    return times


__all__ = ["arrival_times"]
