"""The pattern signal of the injection guard: deterministic regex families scored by weight.

A text scores the highest weight among the families it matches. Patterns run on the normalised text
(:func:`guards.injection_normalise.normalise`), and encoded payloads (base64, hex, percent, rot13) are
decoded and checked with the same patterns. This is the ``patterns`` backend, and one signal (``p:<family>``
features) of the learned classifier.
"""

from __future__ import annotations

import re

from guards.injection_normalise import decoded_payloads, normalise

_I = re.IGNORECASE
_PREV = r"(?:previous|prior|above|earlier|preceding|original|initial|system|all|any|the|your|these|those)"
_RULES = (
    r"(?:instructions?|rules|prompts?|directions|guidelines|directives|constraints|polic(?:y|ies)|context)"
)

FAMILIES: dict[str, tuple[float, list[re.Pattern[str]]]] = {
    "instruction_override": (
        0.9,
        [
            re.compile(
                rf"\b(?:ignore|disregard|forget|skip|bypass)\b(?:\s+\w+){{0,3}}?\s+{_PREV}\s+(?:\w+\s+){{0,2}}{_RULES}",
                _I,
            ),
            re.compile(
                rf"\b(?:override|overwrite)\s+(?:your|all|any|previous|prior|the\s+system)\s+(?:\w+\s+)?{_RULES}",
                _I,
            ),
            re.compile(
                r"\b(?:ignore|disregard|forget)\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)",
                _I,
            ),
            re.compile(r"\b(?:new|updated|real|actual)\s+(?:system\s+)?instructions?\s*[:\-]", _I),
            re.compile(r"\bfrom\s+now\s+on,?\s+(?:you\s+(?:will|must|are)|ignore|always|never)", _I),
            re.compile(r"\bdo\s+not\s+follow\s+(?:the|your|any)\s+(?:previous|system|original)\b", _I),
        ],
    ),
    "prompt_exfiltration": (
        0.8,
        [
            re.compile(
                r"\b(?:reveal|show|print|repeat|output|display|leak|dump|tell\s+me|give\s+me|what\s+(?:is|are|was|were))\s+(?:me\s+)?(?:your|the)\s+(?:full\s+|exact\s+|hidden\s+|secret\s+|initial\s+|original\s+)*(?:system\s+(?:prompt|message|instructions?)|(?:hidden|secret|initial)\s+(?:prompt|instructions?)|instructions\s+(?:you\s+were\s+given|above))",
                _I,
            ),
            re.compile(r"\brepeat\s+(?:everything|all(?:\s+the)?\s+text)\s+(?:above|before)\b", _I),
            re.compile(r"\b(?:canary|secret\s+token|hidden\s+token)\b.*\b(?:reveal|print|say|output)\b", _I),
        ],
    ),
    "role_play": (
        0.75,
        [
            re.compile(
                r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+)?(?:\w+\s+){0,3}?(?:ai|assistant|model|bot|dan|jailbroken|unrestricted|unfiltered|evil|different)\b",
                _I,
            ),
            re.compile(
                r"\b(?:pretend|imagine)\s+(?:that\s+)?(?:you\s+are|you're|to\s+be)\s+(?:an?\s+)?(?:\w+\s+){0,3}?(?:without|with\s+no|free\s+of|unrestricted|unfiltered|jailbroken|evil|dan)\b",
                _I,
            ),
            re.compile(
                r"\b(?:act|behave|respond)\s+as\s+(?:if\s+you\s+(?:are|were)\s+)?(?:an?\s+)?(?:\w+\s+){0,2}?(?:unrestricted|unfiltered|jailbroken|uncensored|evil|dan)\b",
                _I,
            ),
            re.compile(r"\b(?:developer|god|admin|sudo|jailbreak|unrestricted)\s+mode\b", _I),
            re.compile(
                r"\byou\s+are\s+(?:an?\s+)?(?:jailbroken|unrestricted|unfiltered|uncensored|evil)\s+(?:ai|assistant|model|bot)\b",
                _I,
            ),
            re.compile(r"\bdo\s+anything\s+now\b|\bDAN\b", 0),
            re.compile(
                r"\bno\s+(?:longer\s+)?(?:bound|restricted|limited)\s+by\s+(?:any\s+)?(?:rules|guidelines|policies|restrictions)",
                _I,
            ),
        ],
    ),
    "delimiter": (
        0.85,
        [
            re.compile(r"<\|?(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|?>", _I),
            re.compile(r"\[/?(?:INST|SYS)\]|<</?SYS>>", 0),
            re.compile(r"</?(?:system|assistant|instructions?)>", _I),
            re.compile(r"(?:^|\n)\s*(?:#{2,}|={3,}|-{3,})\s*(?:system|new\s+instructions?|admin)\b", _I),
            re.compile(r"(?:^|\n)\s*(?:system|assistant)\s*:\s*(?:you|ignore|new|from\s+now)", _I),
            re.compile(
                r"\bend\s+of\s+(?:context|document|passages?|user\s+input)\b.{0,40}\b(?:instructions?|now|system)\b",
                _I | re.S,
            ),
        ],
    ),
}

_DECODE_ASK = re.compile(
    r"\b(?:decode|base64|rot13|hex)\b.{0,60}\b(?:follow|execute|run|obey|do\s+what)\b", _I | re.S
)


def score_text(text: str, _depth: int = 0) -> tuple[float, list[tuple[str, int, int]]]:
    """The pattern score of ``text`` and the (family, start, end) of every match in the normalised text."""
    norm = normalise(text)
    hits: list[tuple[str, int, int]] = []
    score = 0.0
    for family, (weight, patterns) in FAMILIES.items():
        for pattern in patterns:
            for m in pattern.finditer(norm):
                hits.append((family, m.start(), m.end()))
                score = max(score, weight)
    if _depth == 0:
        for payload in decoded_payloads(norm):
            inner, _ = score_text(payload, _depth=1)
            if inner > 0:
                hits.append(("encoded_payload", 0, len(norm)))
                score = max(score, 0.95)
    if _DECODE_ASK.search(norm):
        hits.append(("encoded_payload", 0, len(norm)))
        score = max(score, 0.7)
    return score, hits


__all__ = ["FAMILIES", "score_text"]
