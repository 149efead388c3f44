"""The context stage of client-side guards around a target that returns its contexts.

The reference pipeline drops a passage its context guard blocks before the generator sees it. A target has
already answered from its passages when they come back, so the client can only judge the answer: when a
context guard blocks a returned passage (the injection guard finds a planted instruction in it) and the answer
carries something only that passage supplies, the answer is withheld, as if the passage had been dropped.

"Carries" means the answer holds a run of :data:`SHINGLE_WORDS` words, or a code-like token (letters and
digits, such as a canary token or an account number), that occurs in the blocked passage but not in the
question or in any passage the guards allowed. An answer drawn from the allowed passages alone is released.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness.guarding import GuardChain, GuardResult

SHINGLE_WORDS = 4
_WORD = re.compile(r"[a-z0-9]+")
_CODE = re.compile(r"(?=[\w.-]*\d)(?=[\w.-]*[a-z])[\w.-]{6,}")


def _features(text: str) -> set[str]:
    """Word shingles and code-like tokens of ``text``, lower-cased."""
    lower = text.lower()
    words = _WORD.findall(lower)
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    return shingles | {"code:" + m.strip(".-") for m in _CODE.findall(lower)}


def carried(answer: str, blocked: Sequence[str], allowed: Sequence[str], question: str) -> bool:
    """Whether ``answer`` holds a shingle or code of a ``blocked`` passage that neither ``question`` nor an
    ``allowed`` passage explains."""
    only_blocked = set().union(*(_features(t) for t in blocked)) - _features(question)
    only_blocked -= set().union(*(_features(t) for t in allowed))
    return bool(only_blocked & _features(answer))


@dataclass(frozen=True)
class ContextVerdict:
    results: list[GuardResult]
    latency_ms: float
    withhold: bool  # the answer carries a passage the context guards blocked


def check_contexts(chain: GuardChain, contexts: Sequence[str], answer: str, question: str) -> ContextVerdict:
    """Run the chain's context-stage guards over the returned ``contexts`` and judge ``answer`` by them."""
    if not contexts or not any("context" in g.stages for g in chain.guards):
        return ContextVerdict([], 0.0, False)
    started = time.perf_counter()
    outcomes = chain.run_batch(list(contexts), "context")
    blocked = [t for t, o in zip(contexts, outcomes, strict=True) if o.action == "block"]
    allowed = [t for t, o in zip(contexts, outcomes, strict=True) if o.action != "block"]
    withhold = bool(blocked) and carried(answer, blocked, allowed, question)
    results = [r for o in outcomes for r in o.results]
    return ContextVerdict(results, (time.perf_counter() - started) * 1e3, withhold)


__all__ = ["SHINGLE_WORDS", "ContextVerdict", "carried", "check_contexts"]
