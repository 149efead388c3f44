"""What every external target shares: the :class:`TargetAnswer` it returns, error types, redaction of response
snippets, ``Server-Timing`` parsing, client-side guards and bounded concurrency for ``answer_many``.

A target answers like the reference pipeline (:class:`~harness.pipeline.rag.Answer`), plus what it could not
measure: ``doc_ids_returned`` (retrieval metrics need ids) and ``unmeasured`` (latency stages it does not
report).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from urllib.parse import urlsplit

from harness.errors import HardenError
from harness.guarding import GuardChain, GuardResult, StageOutcome
from harness.pipeline.prompt import Citation
from harness.pipeline.protocols import AnswersPipeline, Generation, Passage, TokenStream
from harness.pipeline.rag import BLOCKED_QUERY, WITHHELD_ANSWER, Answer, StageTimings
from harness.targets.contexts import check_contexts

SNIPPET_CHARS = 200
TIMED_STAGES = ("embed", "search", "generate")
_SERVER_TIMING_NAMES = {
    "embed": "embed",
    "embedding": "embed",
    "search": "search",
    "retrieve": "search",
    "retrieval": "search",
    "generate": "generate",
    "generation": "generate",
    "llm": "generate",
}


class TargetError(HardenError):
    """One request to a target failed (HTTP error, timeout, malformed response): an item error; the run goes
    on."""


class TargetAnswer(Answer):
    """An :class:`Answer` from an external target."""

    target_kind: str
    doc_ids_returned: bool = False
    contexts_returned: bool = False
    unmeasured: list[str] = []


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d ().-]{6,}\d(?!\w)")


def regex_redact(text: str) -> str:
    """Emails, card-like digit runs, IBANs and phone-like numbers replaced by their type: a floor that holds
    even when the scenario's presidio redactor is off."""
    text = _EMAIL.sub("<EMAIL_ADDRESS>", text)
    text = _IBAN.sub("<IBAN_CODE>", text)
    text = _CARD.sub("<CREDIT_CARD>", text)
    return _PHONE.sub("<PHONE_NUMBER>", text)


def snippet(body: str, redact: Callable[[str], str]) -> str:
    """At most :data:`SNIPPET_CHARS` characters of a response body, personal data redacted, for an error."""
    short = body[: SNIPPET_CHARS * 2]  # redaction may shorten; cut again after it
    cleaned = regex_redact(redact(short))
    return repr(
        cleaned[:SNIPPET_CHARS] + ("..." if len(cleaned) > SNIPPET_CHARS or len(body) > len(short) else "")
    )


def public_url(url: str) -> str:
    """``url`` without user info, query string or fragment (they may hold credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def parse_server_timing(header: str | None) -> dict[str, float]:
    """Stage durations in ms from a ``Server-Timing`` header (``embed;dur=3.1, search;dur=1.2``), under
    rag-harden's stage names; entries without ``dur`` or with unknown names are ignored."""
    out: dict[str, float] = {}
    for entry in (header or "").split(","):
        name, *params = [p.strip() for p in entry.split(";")]
        stage = _SERVER_TIMING_NAMES.get(name.lower())
        for param in params:
            key, _, value = param.partition("=")
            if stage and key.strip().lower() == "dur":
                try:
                    out[stage] = out.get(stage, 0.0) + float(value.strip().strip('"'))
                except ValueError:
                    continue
    return out


def retry_wait(retry_after: str | None, attempt: int, backoff_s: float, max_wait_s: float) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): ``Retry-After`` (seconds or an HTTP date)
    when given, else ``backoff_s * 2**attempt``; never more than ``max_wait_s``."""
    wait: float | None = None
    if retry_after:
        try:
            wait = float(retry_after)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                wait = parsedate_to_datetime(retry_after).timestamp() - time.time()
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        wait = backoff_s * 2**attempt
    return max(0.0, min(wait, max_wait_s))


def build_answer(
    question: str,
    text: str,
    *,
    kind: str,
    contexts: Sequence[str] = (),
    doc_ids: Sequence[str] | None = None,
    cited: Sequence[str] = (),
    total_ms: float,
    server_ms: dict[str, float] | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    blocked: bool = False,
    finish_reason: str | None = None,
    model: str | None = None,
    messages: list[dict[str, str]] | None = None,
    contexts_returned: bool = False,
) -> TargetAnswer:
    """A :class:`TargetAnswer` from what a target returned. Passages pair contexts with ids by position (a
    target that returns ids without texts gets passages with empty text)."""
    ids = list(doc_ids or [])
    n = max(len(contexts), len(ids))
    passages = [
        Passage(
            number=i + 1,
            doc_id=ids[i] if i < len(ids) else "",
            chunk_id=ids[i] if i < len(ids) else "",
            start=0,
            end=len(contexts[i]) if i < len(contexts) else 0,
            score=0.0,
            text=contexts[i] if i < len(contexts) else "",
        )
        for i in range(n)
    ]
    citations = [Citation(number=i + 1, doc_id=d, chunk_id=d, start=0, end=0) for i, d in enumerate(cited)]
    server_ms = server_ms or {}
    timings = StageTimings(
        embed_ms=server_ms.get("embed", 0.0),
        search_ms=server_ms.get("search", 0.0),
        generate_ms=server_ms.get("generate", 0.0),
        total_ms=total_ms,
    )
    return TargetAnswer(
        question=question,
        answer=text,
        passages=passages,
        citations=citations,
        timings=timings,
        generation=Generation(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason="blocked" if blocked else finish_reason,
            model=model or kind,
        ),
        blocked="answer" if blocked else None,
        messages=messages or [],
        target_kind=kind,
        doc_ids_returned=doc_ids is not None,
        contexts_returned=contexts_returned,
        # "prompt": what the target sent its LLM is not visible (prompt leaks cannot be measured)
        unmeasured=[s for s in TIMED_STAGES if s not in server_ms] + ([] if messages else ["prompt"]),
    )


Ask = Callable[[str, "int | None"], TargetAnswer]


class GuardedTarget(AnswersPipeline):
    """Base of external targets: the scenario's guards run client-side around the request (query before it is
    sent; contexts, when the target returns them, and answer after it comes back; a block ends there), and
    ``answer_many`` keeps ``max_concurrency`` requests in flight. Subclasses implement :meth:`ask`."""

    kind = "target"
    streams: ClassVar[bool] = False  # True where :meth:`ask_stream` streams from the endpoint

    def __init__(self, *, guards: GuardChain | None, max_concurrency: int) -> None:
        self.guards = guards or GuardChain()
        self.max_concurrency = max_concurrency

    def ask(self, question: str, top_k: int | None) -> TargetAnswer:
        raise NotImplementedError

    def ask_stream(self, question: str) -> TokenStream:
        """The endpoint's own token stream (targets with ``streams`` set); returns the :class:`Generation`."""
        raise NotImplementedError(f"{self.kind} targets do not stream")

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> TargetAnswer:
        chain = self.guards if guarded else GuardChain()
        if not chain:
            return self.ask(question, top_k)
        started = time.perf_counter()
        results: list[GuardResult] = []
        gq = chain.run(question, "query")
        results += gq.results
        if gq.action == "block":
            return self.refused(question, gq, started)
        got = self.ask(gq.text, top_k)
        # returned contexts: a blocked passage the answer draws on withholds it (harness/targets/contexts.py)
        gc = check_contexts(chain, [p.text for p in got.passages if p.text], got.answer, gq.text)
        ga = chain.run(got.answer, "answer")
        results += gc.results + ga.results
        blocked = "context" if gc.withhold else "answer" if ga.action == "block" else got.blocked
        text = WITHHELD_ANSWER if gc.withhold or ga.action == "block" else ga.text
        timings = got.timings.model_copy(
            update={
                "total_ms": (time.perf_counter() - started) * 1e3,
                "guard_query_ms": gq.latency_ms,
                "guard_context_ms": gc.latency_ms,
                "guard_answer_ms": ga.latency_ms,
            }
        )
        return got.model_copy(
            update={
                "question": question,
                "answer": text,
                "blocked": blocked,
                "guard_results": results,
                "timings": timings,
            }
        )

    def refused(self, question: str, gq: StageOutcome, started: float) -> TargetAnswer:
        """The answer to a query the query guard blocked (``started``: ``perf_counter()`` at the request):
        never sent, so no stage ran and nothing is marked unmeasured."""
        timings = StageTimings(
            embed_ms=0.0,
            search_ms=0.0,
            generate_ms=0.0,
            guard_query_ms=gq.latency_ms,
            total_ms=(time.perf_counter() - started) * 1e3,
        )
        refused = build_answer(question, BLOCKED_QUERY, kind=self.kind, blocked=True, total_ms=0.0)
        return refused.model_copy(
            update={"blocked": "query", "guard_results": gq.results, "timings": timings, "unmeasured": []}
        )

    def answer_many(
        self, questions: Sequence[str], top_k: int | None = None, *, guarded: bool = True
    ) -> list[TargetAnswer]:
        """:meth:`answer` for each question, ``max_concurrency`` at a time, in order. The first failure raises
        (the runner then answers the batch one by one, so each failure is its own item's error)."""
        if len(questions) <= 1 or self.max_concurrency == 1:
            return [self.answer(q, top_k, guarded=guarded) for q in questions]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(questions))) as pool:
            return list(pool.map(lambda q: self.answer(q, top_k, guarded=guarded), questions))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def close(self) -> None:
        return None


__all__ = [
    "GuardedTarget",
    "SNIPPET_CHARS",
    "TargetAnswer",
    "TargetError",
    "build_answer",
    "parse_server_timing",
    "public_url",
    "regex_redact",
    "retry_wait",
    "snippet",
]
