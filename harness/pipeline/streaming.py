"""Releasing a streamed answer through the answer guard without releasing a personal value.

A guard can only judge text it has seen, and a personal value arrives a few tokens at a time: ``jane.doe@`` is
not yet an email address. :class:`GuardedRelease` therefore holds back a sliding window: every
``check_every_chars`` new characters it runs the answer-stage guards on *the whole answer so far* and releases
the guarded text only up to ``holdback_chars`` characters before its end (cut back to a whitespace), so every
released character has been checked with at least that much text after it as lookahead. When generation ends,
the whole answer is checked once more (the same check a non-streamed answer gets) and the rest is released.

No check runs before the answer is longer than the window (nothing could be released yet), so the first check
comes as soon as it could release text. The trade-off: ``holdback_chars`` must be at least the longest value
the guards look for (IBANs with spaces are up to 42 characters, e-mail addresses are rarely longer than 64),
and time to first token grows by the time the model takes to produce that many characters plus one guard call;
a longer window is safer, a shorter one streams sooner. With no answer-stage guard nothing is held back (only
trailing whitespace). A block stops the release at once (text already released was cleared with its
lookahead). If a later check redacts text that was already released (a value longer than the window), nothing
more is released and :attr:`retracted` is set, so the failure is counted, never hidden.
"""

from __future__ import annotations

import time
from collections.abc import Generator

from harness.guarding import GuardChain, GuardResult
from harness.pipeline.protocols import Generation, TokenStream

STREAM_HOLDBACK_CHARS = 64
CHECK_EVERY_CHARS = 24
WITHHELD_ANSWER = "The answer was withheld by a guard."


def _last_space(text: str, end: int) -> int:
    """Index of the last whitespace in ``text[:end]``, or -1."""
    return max(text.rfind(c, 0, end) for c in (" ", "\n", "\t"))


class GuardedRelease:
    """Feed it the raw deltas of one answer; it returns the guarded text that may be released now."""

    def __init__(
        self,
        chain: GuardChain,
        *,
        holdback_chars: int = STREAM_HOLDBACK_CHARS,
        check_every_chars: int = CHECK_EVERY_CHARS,
    ) -> None:
        if holdback_chars < 0 or check_every_chars < 1:
            raise ValueError("holdback_chars must be >= 0 and check_every_chars >= 1")
        self.chain = chain
        self.guarded = any("answer" in g.stages for g in chain.guards)
        self.holdback_chars = holdback_chars if self.guarded else 0
        self.check_every_chars = check_every_chars
        self.raw = ""
        self.released = ""
        self.blocked = False
        self.retracted = False
        self.checks = 0
        self.latency_ms = 0.0
        self.results: list[GuardResult] = []
        self.final_text = ""
        self.first_released_at: float | None = None  # perf_counter() when the first text was released
        self._checked_at = 0

    @property
    def stopped(self) -> bool:
        """True once nothing more will be released (a block, or a redaction of released text)."""
        return self.blocked or self.retracted

    def feed(self, delta: str) -> str:
        self.raw += delta
        if self.stopped:
            return ""
        if not self.guarded:
            return self._advance(self.raw.lstrip().rstrip())
        if len(self.raw) - self._checked_at < self.check_every_chars:
            return ""
        if len(self.raw.strip()) <= self.holdback_chars:
            return ""  # nothing could be released yet: no guard call (it would only compete with generation)
        guarded = self._check(self.raw.lstrip(), final=False)
        if guarded is None:
            return ""
        cut = len(guarded) - self.holdback_chars
        if cut <= len(self.released):
            return ""
        cut = _last_space(guarded, cut + 1)
        return self._advance(guarded[:cut].rstrip()) if cut > len(self.released) else ""

    def finish(self, full_text: str | None = None) -> str:
        """Check the whole answer (``full_text``, else the deltas joined, stripped) and release the rest."""
        text = full_text if full_text is not None else self.raw.strip()
        if self.blocked:
            return ""
        guarded = self._check(text, final=True) if self.guarded else text
        if guarded is None:
            return ""
        self.final_text = guarded
        return "" if self.retracted else self._advance(guarded)

    def _check(self, text: str, *, final: bool) -> str | None:
        started = time.perf_counter()
        outcome = self.chain.run(text, "answer")
        self.latency_ms += (time.perf_counter() - started) * 1e3
        self.checks += 1
        self._checked_at = len(self.raw)
        if final:
            self.results = outcome.results
        if outcome.action == "block":
            self.blocked = True
            self.results = outcome.results
            return None
        return outcome.text

    def _advance(self, target: str) -> str:
        if not target.startswith(self.released):
            self.retracted = True
            return ""
        delta = target[len(self.released) :]
        if delta and self.first_released_at is None:
            self.first_released_at = time.perf_counter()
        self.released = target
        return delta


def release_stream(release: GuardedRelease, tokens: TokenStream) -> Generator[str, None, Generation]:
    """The deltas of ``tokens`` (a generator's or an upstream's stream) as ``release`` lets them out, then the
    rest once the whole answer is checked, then :data:`WITHHELD_ANSWER` when the guard blocked; returns the
    stream's :class:`Generation` (one made of the raw text when it had none or was stopped early). ``tokens``
    is closed when the guard stops the release or the caller closes this stream (generation stops)."""
    generation: Generation | None = None
    try:
        while True:
            try:
                delta = release.feed(next(tokens))
            except StopIteration as stop:
                generation = stop.value
                break
            if delta:
                yield delta
            if release.stopped:
                break
    finally:
        tokens.close()
    if generation is None:
        generation = Generation(
            text=release.raw.strip(), finish_reason="blocked" if release.blocked else None
        )
    rest = release.finish(None if release.stopped else generation.text)
    if rest:
        yield rest
    if release.blocked:
        yield ("\n" if release.released else "") + WITHHELD_ANSWER
    return generation


__all__ = [
    "CHECK_EVERY_CHARS",
    "STREAM_HOLDBACK_CHARS",
    "WITHHELD_ANSWER",
    "GuardedRelease",
    "release_stream",
]
