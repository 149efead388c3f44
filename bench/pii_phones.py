"""Phone-number recall in national and international formats, and false positives on number look-alikes, of
the PII guard's phone detection, on sentences built here (no data-set item is used).

Run: python -m bench.pii_phones [--source phonenumbers|faker] [--out runs/pii-phones.json]

Positives: for each region, phone numbers written in that region's national format and in international
format, inside sentences with a context word ("Call me on ...") and without ("It is ... , I think").
``--source phonenumbers`` takes the example fixed-line and mobile numbers that libphonenumber ships for every
region (about 240 regions); ``--source faker`` takes ``Faker(locale).phone_number()`` for 20 locales (needs
``pip install faker``; it is not a dependency of rag-harden). Negatives: dates, times, prices, years, order
and invoice numbers, ZIP codes, SSNs, IPs and version numbers in sentences, drawn with a fixed seed.
Both the guard's recognizer and presidio's stock ``PhoneRecognizer`` (default regions) are scored, with
bootstrap 95% intervals over sentences.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

WITH_CONTEXT = [
    "Call me on {}.",
    "My mobile is {}",
    "Phone: {}",
    "Fax {} (office hours only).",
    "You can reach the desk at {} after nine.",
    "Tel. {}",
]
WITHOUT_CONTEXT = ["It is {}, I think.", "{}", "Try {} tomorrow.", "Anna: {}\nBen: later.", "See you, {}!"]
FAKER_LOCALES = [
    "en_US",
    "en_GB",
    "en_CA",
    "en_AU",
    "en_IN",
    "en_NZ",
    "en_IE",
    "de_DE",
    "de_AT",
    "de_CH",
    "fr_FR",
    "fr_CH",
    "it_IT",
    "es_ES",
    "es_MX",
    "pt_PT",
    "pt_BR",
    "nl_NL",
    "nl_BE",
    "sv_SE",
    "da_DK",
    "no_NO",
    "fi_FI",
    "pl_PL",
    "cs_CZ",
    "ja_JP",
    "he_IL",
    "en_PH",
]


def look_alikes(rng: random.Random, n: int = 400) -> list[str]:
    """Sentences with numbers that are not phone numbers."""
    makers = [
        lambda: (
            f"The meeting is on {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}."
        ),
        lambda: f"Born {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2010)} in Lyon.",
        lambda: (
            f"Due {rng.randint(1, 28)}.{rng.randint(1, 12)}.{rng.randint(1990, 2030)}, "
            f"at {rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}."
        ),
        lambda: f"It costs ${rng.randint(1, 99)},{rng.randint(100, 999)}.{rng.randint(0, 99):02d} in total.",
        lambda: f"Revenue was {rng.randint(1, 999)}.{rng.randint(100, 999)}.{rng.randint(100, 999)} EUR.",
        lambda: f"Order number {rng.randint(10_000_000, 99_999_999)} has shipped.",
        lambda: f"Invoice #{rng.randint(100_000, 9_999_999)} is overdue.",
        lambda: (
            f"Order {rng.randint(100, 999)}-{rng.randint(1_000_000, 9_999_999)}-"
            f"{rng.randint(1_000_000, 9_999_999)}"
            " was refunded."
        ),
        lambda: (
            f"Ref {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} attached."
        ),
        lambda: f"Ship to ZIP {rng.randint(10_000, 99_999)}-{rng.randint(1000, 9999)}.",
        lambda: (
            f"Our office is at {rng.randint(1, 999)} Main Street, {rng.randint(10_000, 99_999)} Springfield."
        ),
        lambda: f"SSN {rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)} is on file.",
        lambda: (
            f"The host {rng.randint(1, 223)}.{rng.randint(0, 255)}."
            f"{rng.randint(0, 255)}.{rng.randint(1, 254)} "
            "is down."
        ),
        lambda: f"From {rng.randint(1950, 2000)}-{rng.randint(2001, 2024)} she lived abroad.",
        lambda: f"Population {rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)} in 2020.",
        lambda: f"Tracking ID {rng.randint(10**11, 10**12 - 1)} for the parcel.",
        lambda: f"Account {rng.randint(10**7, 10**8 - 1)} was closed.",
        lambda: (
            f"Version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}."
            f"{rng.randint(0, 999)} fixes it."
        ),
        lambda: (
            f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(100, 999)}-"
            f"{rng.randint(10000, 99999)}-{rng.randint(0, 9)}."
        ),
        lambda: (
            f"Room {rng.randint(100, 999)}, floor {rng.randint(1, 30)}, badge {rng.randint(100000, 999999)}."
        ),
    ]
    return [rng.choice(makers)() for _ in range(n)]


def positives(source: str, rng: random.Random) -> list[tuple[str, str, str]]:
    """(sentence, the number as written, region or locale)."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    numbers: list[tuple[str, str]] = []
    if source == "phonenumbers":
        for region in sorted(phonenumbers.SUPPORTED_REGIONS):
            for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                for fmt in (PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL):
                    numbers.append((phonenumbers.format_number(example, fmt), region))
    else:
        from faker import Faker

        for locale in FAKER_LOCALES:
            fake = Faker(locale)
            fake.seed_instance(7)
            if hasattr(fake, "phone_number"):
                numbers += [(fake.phone_number(), locale) for _ in range(10)]
    out = []
    for number, where in dict.fromkeys(numbers):
        template = rng.choice(WITH_CONTEXT if rng.random() < 0.5 else WITHOUT_CONTEXT)
        out.append((template.format(number), number, where))
    return out


def _rate(hits: np.ndarray, rng: np.random.Generator, n_boot: int = 2000) -> dict[str, float]:
    idx = rng.integers(0, hits.size, size=(n_boot, hits.size))
    lo, hi = np.percentile(hits[idx].mean(axis=1), [2.5, 97.5])
    return {
        "value": round(float(hits.mean()), 4),
        "low": round(float(lo), 4),
        "high": round(float(hi), 4),
        "n": int(hits.size),
    }


def score(analyze: Any, pos: list[tuple[str, str, str]], neg: list[str], seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    found = []
    for sentence, number, _ in pos:
        start = sentence.index(number)
        found.append(
            any(
                r.entity_type == "PHONE_NUMBER" and r.start < start + len(number) and start < r.end
                for r in analyze(sentence)
            )
        )
    flagged = [any(r.entity_type == "PHONE_NUMBER" for r in analyze(s)) for s in neg]
    missed = sorted({where for (_, _, where), ok in zip(pos, found, strict=True) if not ok})
    return {
        "recall": _rate(np.asarray(found, dtype=float), rng),
        "false_positive_rate": _rate(np.asarray(flagged, dtype=float), rng),
        "missed_regions": missed,
        "false_positive_examples": [s for s, f in zip(neg, flagged, strict=True) if f][:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=["phonenumbers", "faker"], default="phonenumbers")
    parser.add_argument("--spacy-model", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/pii-phones.json"))
    args = parser.parse_args()

    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    import harness  # noqa: F401  (offline environment)
    from guards.pii import PresidioPiiGuard
    from harness.config import PiiGuardConfig

    rng = random.Random(args.seed)
    pos, neg = positives(args.source, rng), look_alikes(rng)
    guard = PresidioPiiGuard(PiiGuardConfig(entities=["PHONE_NUMBER"], spacy_model=args.spacy_model))
    stock = PhoneRecognizer()
    results = {
        "rag-harden guard": score(guard.analyze, pos, neg, args.seed),
        "presidio PhoneRecognizer (stock, score >= 0.4)": score(
            lambda t: [r for r in stock.analyze(t, ["PHONE_NUMBER"]) if r.score >= 0.4], pos, neg, args.seed
        ),
    }
    for name, r in results.items():
        rec, fp = r["recall"], r["false_positive_rate"]
        print(
            f"{name:48s} recall {rec['value']:.3f} [{rec['low']:.3f}, {rec['high']:.3f}] (n={rec['n']})   "
            f"false positives {fp['value']:.3f} [{fp['low']:.3f}, {fp['high']:.3f}] (n={fp['n']})"
        )
    print("missed (guard):", ", ".join(results["rag-harden guard"]["missed_regions"]) or "none")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"benchmark": "pii_phones", "source": args.source, "seed": args.seed, "results": results},
            indent=2,
        )
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
