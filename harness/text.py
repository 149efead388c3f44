"""Text utilities shared by the prompt, the generators, abstention and groundedness, so they agree on what a
citation marker is and where it ends, where a sentence ends, and which words carry content.

Citation markers are ``[n]`` or ``[n, m]`` with 1-3 digit passage numbers (the prompt asks for them, the
extractive generator writes them, abstention counts them, answer metrics strip them).
"""

from __future__ import annotations

import re
from functools import lru_cache

CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_CITATION_WITH_SPACE = re.compile(r"\s*" + CITATION.pattern)


def cited_numbers(text: str) -> list[int]:
    """Passage numbers cited in ``text``, in order of first appearance, without repeats."""
    seen: list[int] = []
    for match in CITATION.finditer(text):
        for part in match.group(1).split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def has_citation(text: str | None) -> bool:
    return bool(text) and CITATION.search(text or "") is not None


def strip_citations(text: str) -> str:
    """Remove ``[n]`` markers (and the space before them), so metrics compare the prose, not the citations."""
    return _CITATION_WITH_SPACE.sub("", text).strip()


# --- sentences and content words ----------------------------------------------------------------------------

STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have he her hers him his "
    "how i if in into is it its itself me my no nor not of on or our ours she so than that the their them "
    "then there these they this those to too was we were what when where which while who whom whose why will "
    "with would you your also about after before over under up down out very just only any all some such "
    "each other more most "
    "own same both few between through during above below again further once here s t yes per via".split()
)
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
# A sentence ends at . ! ? followed by space and an upper-case letter, digit, quote or bracket, or at a
# newline.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
# Markdown that opens a line: a heading marker, and a list or quote marker (bullet, "1." or "2)", ">").
HEADING = re.compile(r"^\s*#{1,6}\s")
LIST_MARKER = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+|>\s*)")


@lru_cache(maxsize=1 << 16)  # a pure function of one word, called for every word of every sentence
def stem(word: str) -> str:
    """A light, deterministic stemmer: possessive, plural, -ly/-ing/-ed (hotels/hotel, booked/book)."""
    w = word.lower().strip("'’-")
    for suffix in ("'s", "’s"):
        if w.endswith(suffix):
            w = w[: -len(suffix)]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    for suffix, keep in (("ly", 4), ("ing", 4), ("ed", 4)):  # nightly/night, booking/book, booked/book
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            return w[: -len(suffix)]
    return w


def content_words(text: str) -> list[str]:
    """The stemmed words of ``text`` that are not stopwords (one-letter words dropped), in order."""
    return [stem(w) for w in WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (see :data:`SENTENCE_END`), stripped, empty ones dropped."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def prose_sentences(text: str, min_words: int = 3) -> list[str]:
    """The sentences of ``text`` that say something: Markdown headings dropped, list and quote markers
    removed, at least ``min_words`` words (:data:`WORD`). What the extractive generator may quote."""
    out = []
    for sentence in split_sentences(text):
        if HEADING.match(sentence):
            continue
        sentence = LIST_MARKER.sub("", sentence).strip()
        if len(WORD.findall(sentence)) >= min_words:
            out.append(sentence)
    return out


__all__ = [
    "CITATION",
    "HEADING",
    "LIST_MARKER",
    "SENTENCE_END",
    "STOPWORDS",
    "WORD",
    "cited_numbers",
    "content_words",
    "has_citation",
    "prose_sentences",
    "split_sentences",
    "stem",
    "strip_citations",
]
