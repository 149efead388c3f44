"""What one load request produced, and latency statistics that merge across locust workers.

The load generator (``bench/load/worker.py``, one process per locust worker) writes one JSON line per request;
:meth:`RequestRecord.from_sample` types it. A failed request is recorded, never raised. :class:`LatencyDigest`
keeps the raw samples of one worker, merges with another worker's, and summarises to
:class:`~harness.eval.latency.LatencyStats` (exact percentiles, no buckets).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.eval.latency import LatencyStats, summarize


class RequestRecord(BaseModel):
    """One request of a load run. Times are seconds since the run's shared start."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position in the schedule (open loop) or send order (closed loop).")
    scheduled_s: float = Field(
        description="When the schedule said to send it (the send time in a closed loop)."
    )
    start_s: float = Field(description="When it was actually sent.")
    end_s: float
    status: int = Field(0, description="HTTP status; 0 when no response arrived.")
    success: bool
    error: str | None = None
    ttft_s: float | None = Field(None, description="First content token (streamed chat only).")
    itl_s: list[float] = Field([], description="Gaps between content chunks (streamed chat only).")
    answer: str | None = Field(
        None, exclude=True, description="Kept in memory for quality scoring, never written."
    )

    @classmethod
    def from_sample(cls, sample: Mapping[str, Any]) -> RequestRecord:
        return cls(
            index=sample["index"],
            scheduled_s=sample["scheduled_s"],
            start_s=sample["start_s"],
            end_s=sample["end_s"],
            status=sample.get("status", 0),
            success=bool(sample["ok"]),
            error=sample.get("error"),
            ttft_s=sample.get("ttft_s"),
            itl_s=sample.get("itl_s") or [],
            answer=sample.get("answer"),
        )

    @property
    def latency_ms(self) -> float:
        """What a user waits: from the scheduled send time (no coordinated omission)."""
        return (self.end_s - self.scheduled_s) * 1e3

    @property
    def service_ms(self) -> float:
        """From the actual send time: the server's share."""
        return (self.end_s - self.start_s) * 1e3

    @property
    def pacing_error_ms(self) -> float:
        """How late the load generator sent it (actual minus scheduled send time): the generator's own lag."""
        return (self.start_s - self.scheduled_s) * 1e3

    @property
    def ttft_ms(self) -> float | None:
        return None if self.ttft_s is None else (self.ttft_s - self.scheduled_s) * 1e3


@dataclass
class LatencyDigest:
    """Raw latency samples (ms) of one worker or one stage; ``merge`` combines workers exactly."""

    samples_ms: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, values: Iterable[float | None]) -> LatencyDigest:
        return cls([float(v) for v in values if v is not None])

    def merge(self, other: LatencyDigest) -> LatencyDigest:
        return LatencyDigest(self.samples_ms + other.samples_ms)

    def stats(self) -> LatencyStats:
        return summarize(self.samples_ms)


__all__ = ["LatencyDigest", "RequestRecord"]
