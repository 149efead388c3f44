"""Recognizers rag-harden adds to presidio's predefined ones (``extended_recognizers: true``).

- :class:`LuhnCardRecognizer`: 12-19 digit card numbers of any issuer, in groups or not, validated by the
  Luhn checksum. presidio's own credit-card pattern only knows some issuer prefixes and lengths, and missed
  valid 12-digit Maestro, 15-digit JCB and 19-digit Visa numbers in the validation data.
"""

from __future__ import annotations

from typing import Any


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 12 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def build_extended_recognizers(wanted: set[str]) -> list[Any]:
    from presidio_analyzer import Pattern, PatternRecognizer

    class LuhnCardRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return luhn_valid(pattern_text)

    recognizers = []
    if "CREDIT_CARD" in wanted:
        recognizers.append(LuhnCardRecognizer(
            supported_entity="CREDIT_CARD", name="LuhnCardRecognizer",
            patterns=[Pattern("card-digits", r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])", 0.5)],
            context=["card", "credit", "debit", "visa", "mastercard", "amex", "maestro", "payment"],
        ))
    return recognizers


__all__ = ["build_extended_recognizers", "luhn_valid"]
