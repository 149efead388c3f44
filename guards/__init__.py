"""Guards that run at the query, the retrieved context and the answer: PII (presidio) and prompt injection.

``build_guards(configs)`` turns a scenario's ``guards:`` list into the :class:`harness.guarding.GuardChain`
that the pipeline runs. Backends import presidio and spaCy when they are built, not at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.config import GuardConfig
from harness.guarding import Guard, GuardChain
from harness.registry import BuildContext, Registry

GUARDS: Registry[Any, Guard] = Registry("guard", key="kind")


@GUARDS.register("pii")
def _pii(config: Any, *, ctx: BuildContext) -> Guard:
    from guards.pii import PresidioPiiGuard

    return PresidioPiiGuard(config)


@GUARDS.register("injection")
def _injection(config: Any, *, ctx: BuildContext) -> Guard:
    from guards.injection import InjectionGuard

    return InjectionGuard(config)


def build_guards(configs: Sequence[GuardConfig]) -> GuardChain:
    return GuardChain([GUARDS.build(c) for c in configs])


__all__ = ["GUARDS", "build_guards"]
