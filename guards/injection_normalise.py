"""Normalisation before injection detection: what an attacker does to hide an instruction from a filter.

:func:`normalise` folds the text a detector sees: Unicode NFKC (full-width letters, ligatures), zero-width and
bidirectional control characters removed, common Cyrillic/Greek look-alike letters folded to Latin, leetspeak
digits inside words (``1gn0re``) and spacing (``i g n o r e``) undone, runs of spaces and tabs
collapsed. Newlines are kept, since segmentation needs them.

:func:`decoded_payloads` finds encoded text (base64, hex, percent-encoding, rot13) and returns what it decodes
to, so the detector can score the payload as one more segment.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
import urllib.parse

# Zero-width characters, soft hyphen, word joiners, BOM, and the bidi embedding/override/isolate controls.
_INVISIBLE = re.compile(
    r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "У": "Y",
        "Х": "X",
        "Ѕ": "S",
        "І": "I",
        "Ј": "J",
        "α": "a",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
        "ı": "i",
        "ɡ": "g",
        "ⅼ": "l",
    }
)
# str.translate looks every character up in the table: a C-speed search first, so that text whose only
# non-ASCII characters are accents or dashes is not translated character by character.
_HOMOGLYPH_CHARS = re.compile("[" + "".join(chr(c) for c in _HOMOGLYPHS) + "]")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
# A word of letters with leet digits inside it (not a number, not part of an e-mail address or identifier).
_LEET_WORD = re.compile(r"(?<![\w@.\-])(?=\w*[A-Za-z])(?=\w*[013457])[A-Za-z013457]{4,}(?![\w@.\-])")
# Five or more single letters separated by one space, dot or hyphen: "i g n o r e".
_SPACED = re.compile(r"(?<!\w)(?:[A-Za-z][ .\-_]){4,}[A-Za-z](?!\w)")
_LEET_HINT = re.compile(r"[A-Za-z][013457]|[013457][A-Za-z]")
_SPACED_HINT = re.compile(r"\b[A-Za-z][ .\-_][A-Za-z][ .\-_][A-Za-z][ .\-_][A-Za-z]\b")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")


def _unleet(match: re.Match[str]) -> str:
    word = match.group(0)
    letters = sum(ch.isalpha() for ch in word)
    return word.translate(_LEET) if letters >= 2 and letters < len(word) else word


def normalise(text: str) -> str:
    """The text as a detector should see it (see the module docstring). Idempotent."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    if not text.isascii() and _HOMOGLYPH_CHARS.search(text):
        text = text.translate(_HOMOGLYPHS)
    if _LEET_HINT.search(text):
        text = _LEET_WORD.sub(_unleet, text)
    if _SPACED_HINT.search(text):
        text = _SPACED.sub(lambda m: re.sub(r"[ .\-_]", "", m.group(0)), text)
    if "  " in text or "\t" in text or "\u00a0" in text or "\f" in text or "\v" in text:
        text = _SPACES.sub(" ", text)
    return text


_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"[0-9a-fA-F]{20,}|(?:[0-9a-fA-F]{2}[ :,]){9,}[0-9a-fA-F]{2}|(?:\\x[0-9a-fA-F]{2}){8,}")
# What every match of _HEX but the backslash-x form contains, found about 5x faster on prose (where a-f and
# digits start a try at most positions): without it (and without a backslash-x), _HEX cannot match.
_HEX_HINT = re.compile(r"[0-9a-fA-F]{2}(?:[0-9a-fA-F]{18}|(?:[ :,][0-9a-fA-F]{2}){3})")
_PCT = re.compile(r"(?:%[0-9a-fA-F]{2}){5,}")
_PCT_ONE = re.compile(r"%[0-9a-fA-F]{2}")
_ROT13_CUE = re.compile(r"\b(?:rot-?13|caesar|rotate\w*\s+by\s+13)\b", re.IGNORECASE)
# Words that rot13 turns common English into; seeing two of them means the text is likely rot13 English.
_ROT13_SET = frozenset("gur lbh lbhe vtaber vafgehpgvbaf cerivbhf nyy naq sbe guvf jvgu vf".split())


def _readable(decoded: str) -> bool:
    if len(decoded) < 8 or " " not in decoded.strip():
        return False
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in decoded)
    letters = sum(ch.isalpha() for ch in decoded)
    return printable >= 0.95 * len(decoded) and letters >= 0.5 * len(decoded)


def decoded_payloads(text: str, limit: int = 8) -> list[str]:
    """Readable text hidden in base64, hex, percent-encoding or rot13 inside ``text`` (at most ``limit``)."""
    out: list[str] = []
    for m in _B64.finditer(text):
        token = m.group(0)
        if token.isalpha() and (token.islower() or token.isupper()):
            continue  # a long word or identifier, not base64
        try:
            raw = base64.b64decode(
                token + "=" * (-len(token) % 4),
                altchars=b"-_" if "-" in token or "_" in token else None,
                validate=False,
            )
        except (binascii.Error, ValueError):
            continue
        decoded = raw.decode("utf-8", errors="replace")
        if _readable(decoded):
            out.append(decoded)
    for m in _HEX.finditer(text) if "\\x" in text or _HEX_HINT.search(text) else ():
        digits = re.sub(r"[\s:,]|\\x", "", m.group(0))
        try:
            decoded = bytes.fromhex(digits[: len(digits) // 2 * 2]).decode("utf-8", errors="replace")
        except ValueError:
            continue
        if _readable(decoded):
            out.append(decoded)
    if "%" in text:
        for m in _PCT.finditer(text):
            decoded = urllib.parse.unquote(m.group(0))
            if _readable(decoded):
                out.append(decoded)
        if len(_PCT_ONE.findall(text)) >= 3:  # words joined by %20 and the like: decode the whole text
            out.append(urllib.parse.unquote(text))
    lower = text.lower()
    if _ROT13_CUE.search(lower) or len(_ROT13_SET.intersection(lower.split())) >= 2:
        out.append(codecs.encode(text, "rot13"))
    return out[:limit]


__all__ = ["decoded_payloads", "normalise"]
