"""Recognizers rag-harden adds to presidio's predefined ones (``extended_recognizers: true``).

- :class:`LuhnCardRecognizer`: 12-19 digit card numbers of any issuer, in groups or not, validated by the
  Luhn checksum. presidio's own credit-card pattern only knows some issuer prefixes and lengths, and missed
  valid 12-digit Maestro, 15-digit JCB and 19-digit Visa numbers in the validation data.
- :class:`NationalPhoneRecognizer` (replaces presidio's ``PhoneRecognizer``): phone numbers in international
  *and national* formats (``0489 25 37 29``, ``(71) 4233-6306``, ``030 1234567``), checked with the
  ``phonenumbers`` library against several regions. How sure it is depends on the shape (see
  :func:`phone_score`): international and North-American formats score above the guard's phone threshold,
  national formats with a trunk prefix or an area code in brackets just at it, and bare or short digit runs
  only with a context word near (``phone``, ``mobile``, ``fax``, ...). Dates, times, prices, thousands
  groupings, ZIP+4 codes, SSNs, IPs, Luhn-valid card numbers and numbers after words such as ``order``,
  ``invoice`` or ``ref`` are never phone numbers.
- :class:`IntroducedNameRecognizer`: a name after a title (``Dr.``, ``Mrs``, ``Prof.``) or an introduction
  (``my name is``, ``Name:``, ``call me``, ``signed,``), which a statistical NER often misses in short,
  lower-cased or non-English names.

:func:`looks_like_address` filters spaCy PERSON spans that are street names or contain digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from harness.config import DEFAULT_PHONE_REGIONS as CONFIG_PHONE_REGIONS
from harness.errors import ConfigError

# Regions the phone recognizer validates national numbers against. Open numbering plans (DE, AT, LU) accept
# almost any digit run as "valid", which is why a national number's score also depends on its shape.
DEFAULT_PHONE_REGIONS = CONFIG_PHONE_REGIONS  # one list, declared with the config
PHONE_CONTEXT = (
    "phone",
    "telephone",
    "tel",
    "mobile",
    "mob",
    "cell",
    "cellphone",
    "call",
    "calls",
    "fax",
    "contact",
    "reach",
    "dial",
    "landline",
    "desk",
    "office",
    "home",
    "work",
    "whatsapp",
    "sms",
    "text",
    "ring",
    "hotline",
    "helpline",
    "ph",
    "tlf",
    "telefon",
    "number",
    "numbers",
    "line",
)
# Context words too generic to outweigh an identifier word next to them ("order number 12345678").
WEAK_PHONE_CONTEXT = frozenset({"number", "numbers", "line", "home", "work", "text", "office", "contact"})
# Words right before a digit run that make it an identifier, not a phone number (unless a phone word is
# nearer).
NOT_PHONE_CONTEXT = (
    "order",
    "invoice",
    "ref",
    "reference",
    "account",
    "acct",
    "id",
    "ticket",
    "tracking",
    "case",
    "serial",
    "sku",
    "zip",
    "postal",
    "postcode",
    "policy",
    "claim",
    "iban",
    "ssn",
    "card",
    "isbn",
    "version",
    "lot",
    "batch",
    "flight",
    "booking",
    "confirmation",
    "transaction",
    "txn",
    "box",
    "apt",
    "suite",
    "unit",
    "room",
    "no",
    "nr",
    "item",
    "part",
    "model",
    "code",
    "pin",
    "receipt",
    "voucher",
    "shipment",
    "parcel",
    "route",
    "bus",
    "license",
    "licence",
    "passport",
    "customer",
    "member",
    "employee",
    "patient",
)

_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+.\-/])"
    r"(?:\+\s?|\(\+?\d{1,5}\)[ .\-]?)?"
    r"\d(?:[ .\-/]?(?:\(\d{1,5}\)|\d)|\s?\(\d{1,5}\)\s?){5,18}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
    r"(?![\w\-/]|[.,]\d)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$", re.IGNORECASE)
_NANP = re.compile(r"^(?:\+?1[ .\-]?)?(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4}$")
_DATE = re.compile(r"^(\d{1,4})[ ./\-](\d{1,2})[ ./\-](\d{1,4})$")
_CURRENCY = re.compile(
    r"[$€£¥₹]\s?$|\b(?:usd|eur|gbp|chf|inr|jpy|aud|cad|dollars?|euros?|pounds?)\s?$", re.IGNORECASE
)
_CURRENCY_AFTER = re.compile(
    r"^\s?(?:[$€£¥₹]|(?:usd|eur|gbp|chf|inr|jpy|aud|cad|dollars?|euros?|pounds?)\b)", re.IGNORECASE
)
_IBAN_PREFIX = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4})*\s?$")
_WORD = re.compile(r"[a-zà-ÿ#]+", re.IGNORECASE)


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


def check_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """The regions, upper-cased; a ConfigError naming any that ``phonenumbers`` does not know."""
    import phonenumbers

    out = tuple(r.upper() for r in regions)
    unknown = [r for r in out if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ConfigError(
            f"phone_regions: unknown region code(s) {unknown} (ISO 3166-1 alpha-2, e.g. US, GB, DE)"
        )
    return out


def _is_date(candidate: str) -> bool:
    m = _DATE.match(candidate)
    if not m:
        return False
    parts = [int(p) for p in m.groups()]
    widths = [len(p) for p in m.groups()]
    if widths[0] == 4:  # 2024-03-15
        return 1900 <= parts[0] <= 2099 and 1 <= parts[1] <= 12 and 1 <= parts[2] <= 31 and widths[2] <= 2
    if widths[2] in (2, 4) and widths[0] <= 2:  # 15/03/2024, 03-15-24
        year_ok = widths[2] == 2 or 1900 <= parts[2] <= 2099
        return year_ok and 1 <= parts[0] <= 31 and 1 <= parts[1] <= 31 and min(parts[0], parts[1]) <= 12
    return False


def _not_a_phone_shape(candidate: str, digits: str) -> bool:
    """Shapes that are other things: dates, year ranges, thousands groupings, ZIP+4, SSN, IP, cards."""
    if _is_date(candidate):
        return True
    if re.match(r"(19|20)\d\d\s?[-/]", candidate):  # 2019-2023, 2023-04518: years and year-prefixed ids
        return True
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+|\d{1,2}(?: \d{3}){2,}", candidate):  # 1.299.000, 12 524 614
        return True
    if re.fullmatch(r"\d{5}-\d{4}", candidate) or re.fullmatch(r"\d{3}-\d{2}-\d{4}", candidate):  # ZIP+4, SSN
        return True
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", candidate):  # IPv4 / version numbers
        return True
    if len(set(digits)) == 1:  # 0000000
        return True
    return len(digits) >= 13 and not candidate.startswith("+") and luhn_valid(digits)


def _context_words(text: str, start: int, end: int) -> tuple[list[str], list[str]]:
    """Lower-cased words before the number (back to the start of the previous line, at most 40 chars) and
    after it (same line, at most 16 chars)."""
    line_start = text.rfind("\n", 0, max(start - 1, 0))
    line_start = (
        text.rfind("\n", 0, line_start)
        if line_start > 0 and text[line_start + 1 : start].strip() == ""
        else line_start
    )
    before = text[max(start - 40, line_start + 1, 0) : start]
    after = text[end : end + 16].split("\n", 1)[0]
    return [w.lower() for w in _WORD.findall(before)], [w.lower() for w in _WORD.findall(after)]


def phone_score(candidate: str, regions: Sequence[str], digits: str | None = None) -> float:
    """How phone-like a digit run is, before context: 0 means never a phone number.

    0.6 valid international (``+`` or ``00``) or North-American (``(415) 555-2671``) format; 0.45 a possible
    but unassigned number after ``+``;
    0.45 valid for some region with a national trunk prefix (``0...``) or a bracketed area code, in groups;
    0.4 valid for some region, in groups, 8 digits or more; 0.25 possible for some region, in groups;
    0.2 bare digits valid for some region; 0.1 bare digits only possible.
    """
    import phonenumbers

    core = _EXTENSION.sub("", candidate).strip()
    digits = digits if digits is not None else re.sub(r"\D", "", core)
    if not 7 <= len(digits) <= 15 or _not_a_phone_shape(core, digits):
        return 0.0
    plus = core.startswith(("+", "(+"))
    if plus or re.match(r"^(?:00|011)[1-9]", digits):
        # A "+" is definitive; 00 / 011 (international call prefixes) may also start a national number.
        e164 = "+" + (digits if plus else digits[3:] if digits.startswith("011") else digits[2:])
        try:
            number = phonenumbers.parse(e164, None)
            if phonenumbers.is_valid_number(number):
                return 0.6
            if plus:  # "+", a country code and a plausible length: a phone number, if not one in service
                return 0.45 if phonenumbers.is_possible_number(number) else 0.0
        except phonenumbers.NumberParseException:
            if plus:
                return 0.0
    valid = possible = False
    for region in regions:
        try:
            number = phonenumbers.parse(core, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            valid = True
            break
        possible = possible or phonenumbers.is_possible_number(number)
    grouped = re.search(r"[ .\-/()]", core) is not None
    if not grouped:
        return 0.2 if valid else 0.1 if possible else 0.0
    if valid and _NANP.match(core) and digits[-10] in "23456789":
        return 0.6
    if valid and (digits.startswith("0") or core.startswith("(")):
        return 0.45
    if valid and len(digits) >= 8:
        return 0.4
    return 0.25 if valid or possible else 0.0


def build_extended_recognizers(
    wanted: set[str], phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> list[Any]:
    from presidio_analyzer import (
        AnalysisExplanation,
        EntityRecognizer,
        Pattern,
        PatternRecognizer,
        RecognizerResult,
    )

    class LuhnCardRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return luhn_valid(pattern_text)

    class NationalPhoneRecognizer(EntityRecognizer):
        """Phone numbers in international and national formats, validated by ``phonenumbers``."""

        CONTEXT_BOOST = 0.35

        def __init__(self, regions: Sequence[str]) -> None:
            self.regions = check_regions(regions)
            super().__init__(
                supported_entities=["PHONE_NUMBER"],
                name="NationalPhoneRecognizer",
                context=list(PHONE_CONTEXT),
            )

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            results = []
            context = {w.lower() for w in (self.context or [])}
            for m in _PHONE_CANDIDATE.finditer(text):
                start, end = m.span()
                candidate = m.group()
                if _CURRENCY.search(text[max(0, start - 6) : start]) or _CURRENCY_AFTER.match(
                    text[end : end + 8]
                ):
                    continue
                if _IBAN_PREFIX.search(text[max(0, start - 40) : start]):
                    continue
                score = base = phone_score(candidate, self.regions)
                if score <= 0:
                    continue
                before, after = _context_words(text, start, end)
                near_before = before[-3:]
                positive = bool(context & set(before)) or bool(context & set(after[:2]))
                if not (context - WEAK_PHONE_CONTEXT) & set(near_before) and set(near_before) & set(
                    NOT_PHONE_CONTEXT
                ):
                    continue
                if positive:
                    score = min(1.0, score + self.CONTEXT_BOOST)
                results.append(
                    RecognizerResult(
                        entity_type="PHONE_NUMBER",
                        start=start,
                        end=end,
                        score=score,
                        analysis_explanation=AnalysisExplanation(
                            recognizer="NationalPhoneRecognizer",
                            original_score=base,
                            pattern_name="phone-shape",
                            textual_explanation="phone-number shape validated by phonenumbers"
                            + (", context word near" if positive else ""),
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: "NationalPhoneRecognizer",
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
                        },
                    )
                )
            return results

    recognizers: list[Any] = []
    if "CREDIT_CARD" in wanted:
        recognizers.append(
            LuhnCardRecognizer(
                supported_entity="CREDIT_CARD",
                name="LuhnCardRecognizer",
                patterns=[Pattern("card-digits", r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])", 0.5)],
                context=["card", "credit", "debit", "visa", "mastercard", "amex", "maestro", "payment"],
            )
        )
    if "PHONE_NUMBER" in wanted:
        recognizers.append(NationalPhoneRecognizer(phone_regions))
    if "PERSON" in wanted:
        recognizers.append(_introduced_name_recognizer())
    return recognizers


# A name: 1-3 words, each capitalised (or, after an explicit introduction, any letters); initials allowed.
_NAME_WORD = r"[A-ZÀ-Þ][\w'’\-]+|[A-ZÀ-Þ]\."
_ANY_WORD = r"[A-Za-zÀ-ÿ][\w'’\-]+|[A-Za-zÀ-ÿ]\."
_TITLE = r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|Sir|Dame|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)\.?[ \t]+"
_INTRO = (
    r"(?:\b[Mm]y name is|\b[Nn]ame\s*:|\b[Cc]all me|\b[Ss]igned,?|\b[Rr]egards,|\b[Ss]incerely,)"
    r"[ \t]*\n?[ \t]*"
)
_NAME_END = r"(?=[ \t]*(?:$|[\n,.;:!?)]))"


def _introduced_name_recognizer() -> Any:
    import regex
    from presidio_analyzer import Pattern, PatternRecognizer

    titled = rf"(?<={_TITLE})(?:{_NAME_WORD})(?:[ \t]+(?:{_NAME_WORD})){{0,2}}"
    introduced = rf"(?<={_INTRO})(?:{_ANY_WORD})(?:[ \t]+(?:{_ANY_WORD})){{0,2}}{_NAME_END}"
    return PatternRecognizer(
        supported_entity="PERSON",
        name="IntroducedNameRecognizer",
        patterns=[Pattern("title-name", titled, 0.6), Pattern("introduced-name", introduced, 0.6)],
        global_regex_flags=regex.MULTILINE,
    )


_STREET_WORDS = {
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "court",
    "ct",
    "square",
    "sq",
    "apt",
    "suite",
    "boulevard",
    "blvd",
    "drive",
    "turnpike",
    "way",
    "place",
    "pl",
    "terrace",
    "highway",
    "hwy",
    "rua",
    "rue",
    "via",
    "calle",
    "avenida",
    "strasse",
    "straße",
    "str",
    "vej",
    "gade",
    "gasse",
    "weg",
    "plaza",
    "parkway",
    "pkwy",
    "alley",
    "crescent",
    "close",
}


def looks_like_address(span: str) -> bool:
    """A PERSON span from NER that is an address: it holds digits, or starts or ends with a street word."""
    if any(ch.isdigit() for ch in span):
        return True
    words = [w.strip(".,").lower() for w in span.split()]
    return len(words) > 1 and (words[0] in _STREET_WORDS or words[-1] in _STREET_WORDS)


_LETTERS = re.compile(r"[^\W\d_]+")
_ADDRESS_LOOKBACK = 45  # characters of the same line before a name


def follows_street_line(text: str, start: int) -> bool:
    """A PERSON span from NER that sits after a street line: the same line's last 45 characters before it hold
    a number and a street or unit word ("228 Ringvej 144 >Apt. 902 >Qaqortoq", "63 Rue de Kairouan, Cite El
    Farik"): a town or district of the address, not a person. A name before its address ("Jo Lee, 12 Main St")
    is kept. On the presidio-research dev data the rule drops 2 false PERSON hits in each half of the
    templates and no true one."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - _ADDRESS_LOOKBACK) : start]
    return any(ch.isdigit() for ch in before) and any(
        w.lower() in _STREET_WORDS for w in _LETTERS.findall(before)
    )


__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "NOT_PHONE_CONTEXT",
    "PHONE_CONTEXT",
    "build_extended_recognizers",
    "check_regions",
    "follows_street_line",
    "looks_like_address",
    "luhn_valid",
    "phone_score",
]
