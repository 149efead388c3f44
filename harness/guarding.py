"""The guard seam of the pipeline: what a guard returns, and the chain that runs guards at one stage.

Guards themselves live in the ``guards`` package (presidio PII, prompt injection); the pipeline only knows
this Protocol. A finding never carries the raw value it found: only its type, position, score, the
recognizer and a salted hash, so results can be logged and written to reports safely.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import time
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from harness.config import Stage
from harness.paths import cache_dir

Action = Literal["allow", "redact", "block"]
_SEVERITY: dict[str, int] = {"allow": 0, "redact": 1, "block": 2}


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    value_hash: str


class GuardResult(BaseModel):
    """One guard's verdict on one text. ``text`` is the text to use downstream (redacted when the action is
    ``redact``); it is excluded from serialization, so a result can be written anywhere."""

    model_config = ConfigDict(frozen=True)

    guard: str
    stage: Stage
    action: Action
    findings: list[Finding] = []
    latency_ms: float
    text: str = Field("", exclude=True)
    note: str = ""


@runtime_checkable
class Guard(Protocol):
    """What the pipeline needs of a guard. Subclass :class:`BaseGuard` to get the batch check and the
    system-prompt decoration with their defaults."""

    name: str
    stages: Sequence[Stage]

    def check(self, text: str, stage: Stage) -> GuardResult: ...

    def check_batch(self, texts: Sequence[str], stage: Stage) -> list[GuardResult]:
        """One verdict per text (the retrieved passages of one question)."""
        ...

    def decorate_system(self, system: str) -> str:
        """The system prompt, with whatever the guard plants there (the injection guard's canary)."""
        ...


class BaseGuard:
    """Defaults for the optional parts of :class:`Guard`: a batch check that checks each text, and a system
    prompt left as it is. Guards override ``check_batch`` when they can do better (presidio's
    ``nlp.pipe``)."""

    name: str = "guard"
    stages: Sequence[Stage] = ()

    def check(self, text: str, stage: Stage) -> GuardResult:
        raise NotImplementedError

    def check_batch(self, texts: Sequence[str], stage: Stage) -> list[GuardResult]:
        return [self.check(t, stage) for t in texts]

    def decorate_system(self, system: str) -> str:
        return system


def _salt() -> bytes:
    """``RAG_HARDEN_HASH_SALT``, else a random salt kept in the cache, so hashes are stable per installation
    (equal values can be correlated across runs) but cannot be reversed by hashing a dictionary of guesses
    without the salt."""
    explicit = os.environ.get("RAG_HARDEN_HASH_SALT")
    if explicit:
        return explicit.encode()
    env = os.environ.get
    return _stored_salt(env("RAG_HARDEN_CACHE"), env("XDG_CACHE_HOME"), env("HOME"))


@functools.lru_cache(maxsize=4)
def _stored_salt(*cache_env: str | None) -> bytes:
    """The salt file of the cache folder (created when missing), read once per process for each value of the
    variables that choose the folder (``cache_env``, the cache key): a finding's hash cost a file read."""
    path = cache_dir() / "hash-salt"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(16).encode()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(salt)
        tmp.replace(path)
        return path.read_bytes()


def salted_hash(value: str) -> str:
    return hashlib.sha256(_salt() + value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class StageOutcome(BaseModel):
    """The chain's verdict at one stage: the strongest action, the text to pass on, every guard's result."""

    action: Action
    text: str
    results: list[GuardResult]
    latency_ms: float


class GuardChain:
    """Runs the guards configured for a stage in order; each sees the text the previous one produced."""

    def __init__(self, guards: Sequence[Guard] = ()) -> None:
        self.guards = list(guards)

    def __bool__(self) -> bool:
        return bool(self.guards)

    def decorate_system(self, system: str) -> str:
        """Let guards that need it add to the system prompt (the injection guard plants its canary there)."""
        for guard in self.guards:
            system = guard.decorate_system(system)
        return system

    def run(self, text: str | bytes, stage: Stage) -> StageOutcome:
        started = time.perf_counter()
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        results: list[GuardResult] = []
        action: Action = "allow"
        for guard in self.guards:
            if stage not in guard.stages:
                continue
            result = guard.check(text, stage)
            results.append(result)
            if _SEVERITY[result.action] > _SEVERITY[action]:
                action = result.action
            if result.action == "redact":
                text = result.text
        return StageOutcome(
            action=action, text=text, results=results, latency_ms=(time.perf_counter() - started) * 1e3
        )

    def run_batch(self, texts: Sequence[str], stage: Stage) -> list[StageOutcome]:
        """:meth:`run` over several texts (the retrieved passages); guards with ``check_batch`` see them at
        once."""
        started = time.perf_counter()
        current = list(texts)
        per_text: list[list[GuardResult]] = [[] for _ in texts]
        for guard in self.guards:
            if stage not in guard.stages:
                continue
            verdicts = guard.check_batch(current, stage)
            for i, result in enumerate(verdicts):
                per_text[i].append(result)
                if result.action == "redact":
                    current[i] = result.text
        share = (time.perf_counter() - started) * 1e3 / max(len(texts), 1)
        outcomes = []
        for text, results in zip(current, per_text, strict=True):
            action: Action = max((r.action for r in results), key=_SEVERITY.__getitem__, default="allow")
            outcomes.append(StageOutcome(action=action, text=text, results=results, latency_ms=share))
        return outcomes


__all__ = [
    "Action",
    "BaseGuard",
    "Finding",
    "Guard",
    "GuardChain",
    "GuardResult",
    "StageOutcome",
    "salted_hash",
]
