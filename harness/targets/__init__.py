"""The system under test when it is not the reference pipeline: a scenario's ``target:`` block.

Kinds (one module each, registered in :data:`TARGETS`): ``http`` (:mod:`harness.targets.http`, any
JSON-over-HTTP RAG service), ``openai`` (:mod:`harness.targets.openai_chat`, an OpenAI-compatible chat
endpoint used closed-book) and ``pipeline`` (the reference pipeline, built by :mod:`harness.compose`). Every
target satisfies :class:`harness.runner.AnswersPipeline` and returns
:class:`~harness.targets.base.TargetAnswer` objects.

This package's ``__init__`` imports nothing heavy, so :mod:`harness.config` can import
:mod:`harness.targets.config`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.registry import BuildContext, Registry

TARGETS: Registry[Any, Any] = Registry("target", key="kind")


@TARGETS.register("http")
def _http(config: Any, *, ctx: BuildContext) -> Any:
    from harness.targets.http import HttpTarget

    return HttpTarget(config, transport=ctx.transport)


@TARGETS.register("openai")
def _openai(config: Any, *, ctx: BuildContext) -> Any:
    from harness.targets.openai_chat import OpenAITarget

    return OpenAITarget(config)


def build_target(
    config: Any, *, redact: Callable[[str], str] = lambda t: t, guards: Any = None, transport: Any = None
) -> Any:
    """The target ``config`` describes (``kind: pipeline`` is not built here: see harness.compose)."""
    factory = TARGETS.factory(config.kind)
    target = factory(config, ctx=BuildContext(transport=transport))
    target.redact = redact
    target.guards = guards if guards is not None else target.guards
    return target


__all__ = ["TARGETS", "build_target"]
