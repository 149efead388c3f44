"""The guard proxy: ``rag-harden serve`` in front of someone else's RAG service or OpenAI-compatible endpoint.

The server (:mod:`harness.serving.app`) serves an answers pipeline; :class:`GuardProxy` is one made of an
external target (:mod:`harness.targets`: ``http`` or ``openai``) with the scenario's guards around it, so the
proxy has the reference server's admission control, deadlines, body limits, error shapes and ``/metrics``.
Per request:

1. the query guards (PII redaction or block, injection) run first; a blocked query never reaches the upstream;
2. the (redacted) question goes upstream;
3. returned contexts pass the context guards and the answer the answer guards (PII, the injection guard's
   canary), as for any target (:meth:`harness.targets.base.GuardedTarget.answer`);
4. with ``serve.groundedness`` ``flag`` or ``withhold`` and contexts returned, the upstream's answer is scored
   against them (the scenario's ``hallucination:`` scorer and threshold): below the threshold its unsupported
   claims are findings of the ``groundedness`` guard (``flag``), or the answer is replaced by the withheld
   notice (``withhold``).

The reply names the returned passages (number, document id) but never carries their texts: they are the
upstream's, unredacted (``include_text`` gives empty texts).

Streaming (``stream: true``): an upstream that streams (``openai`` targets, :meth:`OpenAITarget.ask_stream`)
is streamed through the answer guard's hold-back window (:func:`harness.pipeline.streaming.release_stream`),
so a planted value is never released half-seen; an upstream that does not (``http``) is answered in one chunk
after the guards. The proxy forwards the last user message only (the target's own system message, if any,
goes with it); the upstream's secrets (``headers_env``, ``api_key_env``) are read when the target is built
and appear in no reply or log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, Literal

import httpx

from harness.errors import BackendUnavailable, ConfigError
from harness.guarding import Finding, GuardChain, GuardResult, salted_hash
from harness.pipeline.protocols import AnswersPipeline, Passage
from harness.pipeline.streaming import STREAM_HOLDBACK_CHARS, WITHHELD_ANSWER, GuardedRelease, release_stream
from harness.targets.base import GuardedTarget, TargetAnswer, build_answer, public_url
from harness.targets.config import EXTERNAL_KINDS

GroundednessAction = Literal["off", "flag", "withhold"]


class GuardProxy(AnswersPipeline):
    """An external target as the server's answers pipeline, guarded as described in the module docstring.
    ``groundedness`` is a :class:`~harness.eval.groundedness.ScoresGroundedness` (needed unless ``action`` is
    ``off``)."""

    def __init__(
        self,
        target: GuardedTarget,
        *,
        groundedness: Any = None,
        action: GroundednessAction = "off",
        threshold: float = 0.5,
    ) -> None:
        if action != "off" and groundedness is None:
            raise ValueError(f"groundedness action {action!r} needs a groundedness scorer")
        self.target = target
        self.groundedness = groundedness
        self.action = action
        self.threshold = threshold

    @property
    def guards(self) -> GuardChain:
        return self.target.guards

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> TargetAnswer:
        got = self.target.answer(question, top_k, guarded=guarded)  # query guard, upstream, answer guard
        if got.blocked == "query":
            return got
        started = time.perf_counter()
        grounded = None if got.blocked else self._grounded(got.generation.text, got.passages, question)
        withheld = grounded is not None and grounded.action == "block"
        timings = got.timings.model_copy(
            update={
                "guard_answer_ms": got.timings.guard_answer_ms + (grounded.latency_ms if grounded else 0.0),
                "total_ms": got.timings.total_ms + (time.perf_counter() - started) * 1e3,
            }
        )
        return got.model_copy(
            update={
                "answer": WITHHELD_ANSWER if withheld else got.answer,
                "blocked": "answer" if withheld else got.blocked,
                "passages": [p.model_copy(update={"text": ""}) for p in got.passages],
                "citations": [] if withheld else got.citations,
                "guard_results": [*got.guard_results, *([grounded] if grounded else [])],
                "timings": timings,
            }
        )

    def answer_many(
        self, questions: Sequence[str], top_k: int | None = None, *, guarded: bool = True
    ) -> list[TargetAnswer]:
        return [self.answer(q, top_k, guarded=guarded) for q in questions]

    def answer_stream(
        self,
        question: str,
        top_k: int | None = None,
        *,
        guarded: bool = True,
        holdback_chars: int = STREAM_HOLDBACK_CHARS,
    ) -> Generator[str | TargetAnswer, None, None]:
        """Text deltas, then the final answer (the server's streaming contract, as
        :meth:`~harness.pipeline.rag.RagPipeline.answer_stream`). Closing it closes the upstream stream."""
        if not self.target.streams:  # the upstream does not stream: one chunk after every guard
            yield from super().answer_stream(question, top_k, guarded=guarded)
            return
        started = time.perf_counter()
        chain = self.guards if guarded else GuardChain()
        gq = chain.run(question, "query")
        if gq.action == "block":
            refused = self.target.refused(question, gq, started)
            yield refused.answer
            yield refused
            return
        release = GuardedRelease(chain, holdback_chars=holdback_chars)
        generation = yield from release_stream(release, self.target.ask_stream(gq.text))
        got = build_answer(
            question,
            WITHHELD_ANSWER if release.blocked else release.final_text,
            kind=self.target.kind,
            total_ms=(time.perf_counter() - started) * 1e3,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            blocked=release.blocked,
            finish_reason=generation.finish_reason,
            model=generation.model,
        )
        first = release.first_released_at
        timings = got.timings.model_copy(
            update={
                "guard_query_ms": gq.latency_ms,
                "guard_answer_ms": release.latency_ms,
                "first_token_ms": None if first is None else (first - started) * 1e3,
            }
        )
        yield got.model_copy(update={"guard_results": gq.results + release.results, "timings": timings})

    def _grounded(self, answer: str, passages: Sequence[Passage], question: str) -> GuardResult | None:
        """The groundedness verdict on the upstream's own answer against its own contexts, or None when off or
        nothing was returned to score against. Finding positions are in the upstream's answer."""
        contexts = [p.text for p in passages if p.text]
        if self.action == "off" or not contexts or not answer.strip():
            return None
        started = time.perf_counter()
        # Only the decision is needed here: decide_many embeds a claim only when its semantic feature can
        # change the verdict (the same verdicts as score; the faithfulness is then a range).
        scored = self.groundedness.decide_many([(answer, contexts, question)], self.threshold)[0]
        ms = (time.perf_counter() - started) * 1e3
        if scored.exact or scored.faithfulness_range is None:
            note = f"faithfulness {scored.faithfulness:.3f}, threshold {self.threshold:g}"
        else:
            low, high = scored.faithfulness_range
            note = f"faithfulness in [{low:.3f}, {high:.3f}], threshold {self.threshold:g}"
        if scored.faithfulness >= self.threshold:
            return GuardResult(guard="groundedness", stage="answer", action="allow", latency_ms=ms, note=note)
        claims = scored.unsupported or scored.claims
        findings = []
        for claim in claims:
            start = max(answer.find(claim.claim), 0)
            findings.append(
                Finding(
                    entity_type="UNSUPPORTED_CLAIM",
                    start=start,
                    end=start + len(claim.claim),
                    score=claim.support,
                    recognizer="groundedness",
                    value_hash=salted_hash(claim.claim),
                )
            )
        action: Literal["allow", "block"] = "block" if self.action == "withhold" else "allow"
        return GuardResult(
            guard="groundedness", stage="answer", action=action, findings=findings, latency_ms=ms, note=note
        )

    def describe(self) -> dict[str, Any]:
        return {**self.target.describe(), "proxy": True, "groundedness": self.action}

    def close(self) -> None:
        self.target.close()


def build_proxy(scenario: Any, log: Callable[[str], None] = lambda _m: None) -> GuardProxy:
    """The guard proxy a scenario with an external ``target:`` describes: the target with the scenario's
    guards, and the groundedness scorer when ``serve.groundedness`` asks for it. No report redactor: the
    proxy's replies never carry an upstream body (error snippets keep the regex floor of
    :func:`harness.targets.base.snippet`)."""
    from harness.compose import build_guard_chain
    from harness.targets import build_target

    target = build_target(scenario.target, guards=build_guard_chain(scenario))
    scorer = None
    if scenario.serve.groundedness != "off":
        from harness.eval.groundedness import build_groundedness
        from harness.pipeline.embedders import EMBEDDERS

        scorer = build_groundedness(scenario.hallucination, EMBEDDERS.build(scenario.pipeline.embedder), log)
    log(f"guard proxy in front of {scenario.target.kind} target {target.url}")
    return GuardProxy(
        target,
        groundedness=scorer,
        action=scenario.serve.groundedness,
        threshold=scenario.hallucination.faithfulness_threshold,
    )


def serve_loader(scenario: Any, log: Callable[[str], None] = lambda _m: None) -> Callable[[], Any]:
    """What ``rag-harden serve`` loads: the guard proxy when the scenario's ``target:`` is external, else the
    reference pipeline with its guards."""
    if scenario.target is not None and scenario.target.kind in EXTERNAL_KINDS:
        return lambda: build_proxy(scenario, log)
    if scenario.serve.groundedness != "off":
        raise ConfigError(
            f"scenario {scenario.name}: serve.groundedness applies to the guard proxy only (a target: of "
            "kind http or openai, or serve --upstream)"
        )
    from harness.compose import build_guard_chain
    from harness.pipeline.rag import build_pipeline

    return lambda: build_pipeline(scenario, log=log, guards=build_guard_chain(scenario))


def upstream_model(base_url: str, timeout_s: float = 10.0) -> str:
    """The first model an OpenAI-compatible endpoint lists at ``GET {base_url}/models``."""
    url = public_url(base_url)
    try:
        response = httpx.get(f"{base_url}/models", timeout=timeout_s)
    except httpx.TransportError as exc:
        raise BackendUnavailable(f"cannot reach upstream {url}: {type(exc).__name__}") from None
    try:
        models = [m["id"] for m in response.json()["data"]] if response.status_code == 200 else []
    except (ValueError, KeyError, TypeError):
        models = []
    if not models or not isinstance(models[0], str):
        raise ConfigError(
            f"upstream {url}/models (HTTP {response.status_code}) lists no model: "
            "name one with --upstream-model"
        )
    return models[0]


def with_upstream(scenario: Any, base_url: str, model: str | None = None) -> Any:
    """``scenario`` with an ``openai`` target at ``base_url`` (``rag-harden serve --upstream``): no system
    message of the proxy's own (the user's question goes as it came, after the guards); the model is
    ``model``, else the first one the upstream lists."""
    from pydantic import ValidationError

    from harness.targets.config import OpenAITargetConfig

    try:
        target = OpenAITargetConfig(base_url=base_url, model=model or "unset", system=None)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"--upstream {public_url(base_url)}: {problems}") from None
    if model is None:
        target = target.model_copy(update={"model": upstream_model(target.base_url)})
    return scenario.model_copy(update={"target": target})


__all__ = [
    "GroundednessAction",
    "GuardProxy",
    "build_proxy",
    "serve_loader",
    "upstream_model",
    "with_upstream",
]
