"""The load phase's timeline, as the report reads it from a run folder: per second of the load run, the
requests offered and achieved and their latency, with the SLO bounds.

A bench run's load phase writes its full result to ``<scenario>/load-<timestamp>/load.json`` (see
``bench/load/report.py``); the report reads only the fields below from the newest one (a resumed run may hold
several), so ``rag-harden report`` draws the plot for any run folder that has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

LOAD_GLOB = "load-*/load.json"


class LoadWindow(BaseModel):
    """One second of a load run: requests scheduled in it (``sent``), requests that succeeded in it
    (``ok``; None in runs that predate it) and the latency of those scheduled in it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    t_s: int
    sent: int
    ok: int | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None


class LoadTimeline(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str
    offered_rps: float
    achieved_rps: float
    over_time: list[LoadWindow]
    slo_ms: dict[str, float] = {}


def read_timeline(folder: Path) -> LoadTimeline | None:
    """The newest load timeline under a scenario's folder; None when it has none or it is unreadable (the
    report then draws the load summary only)."""
    for path in sorted(folder.glob(LOAD_GLOB), reverse=True):
        try:
            return LoadTimeline.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            continue
    return None


def read_timelines(names: list[str], run_dir: Path | None) -> Mapping[str, LoadTimeline]:
    """The timeline of each named scenario of a run folder that has one."""
    if run_dir is None:
        return {}
    found = {name: read_timeline(run_dir / name) for name in names}
    return {name: t for name, t in found.items() if t is not None}


__all__ = ["LoadTimeline", "LoadWindow", "read_timeline", "read_timelines"]
