"""Did the system decline to answer? Several phrasings, matched on a normalised answer.

An answer declines when it is empty, when it was blocked or withheld by a guard, or when its first sentence
says
that the information is not available ("I don't know", "the documents do not mention", "I cannot find", "there
is
no information about", "unable to answer", ...). Answers that cite nothing are counted separately
(``uncited``): with a model that cites, an uncited answer is a sign of an answer from memory.
"""

from __future__ import annotations

import re

from harness.text import has_citation

_PATTERNS = [
    r"\bi (?:do not|don'?t|cannot|can'?t|could not|couldn'?t) "
    r"(?:know|find|tell|say|answer|determine|see|locate)\b",
    r"\b(?:i am|i'm) (?:not (?:sure|able|certain)|unable)\b",
    r"\bunable to (?:answer|find|determine|locate|provide)\b",
    r"\b(?:no|not enough|insufficient) (?:information|details|data|mention|context)\b",
    r"\b(?:the )?(?:provided |given |retrieved )?(?:documents?|passages?|context|sources?|texts?) "
    r"(?:do(?:es)? not|don'?t|doesn'?t|did not|never) "
    r"(?:contain|mention|say|state|include|provide|specify|cover|address|answer)\b",
    r"\b(?:this|that|it|the answer|the information|such information|such details) (?:is|are) not "
    r"(?:mentioned|stated|specified|provided|covered|included|available)\b",
    r"\bnot (?:mentioned|specified|stated|provided) in the (?:documents?|passages?|context)\b",
    r"\bthere is no (?:mention|information|record|reference)\b",
    r"\bwithheld by a guard\b|\bblocked by a guard\b",
]
_DECLINE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def _lead(answer: str) -> str:
    text = answer.strip().replace("’", "'")
    first = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0]
    return first[:300]


def is_declined(answer: str | None) -> bool:
    if answer is None or not answer.strip():
        return True
    return bool(_DECLINE.search(_lead(answer)))


def is_uncited(answer: str | None) -> bool:
    return not has_citation(answer)


__all__ = ["is_declined", "is_uncited"]
