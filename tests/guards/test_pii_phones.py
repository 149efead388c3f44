"""Phone numbers in national and international formats, and number look-alikes that are not phone numbers.

The recognizer is rag-harden's NationalPhoneRecognizer (guards/recognizers.py) with the shipped regions and
threshold; no spaCy model is needed, so these run in well under a second after presidio's import."""

from __future__ import annotations

import pytest

from guards.recognizers import DEFAULT_PHONE_REGIONS, build_extended_recognizers, check_regions, phone_score
from harness.config import PiiGuardConfig
from harness.errors import ConfigError

THRESHOLD = PiiGuardConfig().thresholds["PHONE_NUMBER"]


@pytest.fixture(scope="module")
def phones():
    (recognizer,) = build_extended_recognizers({"PHONE_NUMBER"}, PiiGuardConfig().phone_regions)

    def found(text: str) -> list[str]:
        return [
            text[r.start : r.end] for r in recognizer.analyze(text, ["PHONE_NUMBER"]) if r.score >= THRESHOLD
        ]

    return found


@pytest.mark.parametrize(
    "text, number",
    [
        ("Her mobile is +351 912 345 678.", "+351 912 345 678"),  # PT, international
        ("Call me on 020 7946 0958 tomorrow.", "020 7946 0958"),  # GB London, national
        ("The office: 0161 496 0000", "0161 496 0000"),  # GB Manchester
        ("Telefon 030 1234567", "030 1234567"),  # DE Berlin
        ("Tel. 01 42 68 53 00", "01 42 68 53 00"),  # FR Paris, pairs
        ("Ring 06 12 34 56 78 after six.", "06 12 34 56 78"),  # FR mobile
        ("Mobile: 0612345678", "0612345678"),  # NL mobile, bare digits with a context word
        ("It is 0489 25 37 29, I think.", "0489 25 37 29"),  # BE mobile, no context word
        ("Contact: (71) 4233-6306", "(71) 4233-6306"),  # BR, bracketed area code
        ("Reach him at 98765 43210.", "98765 43210"),  # IN mobile
        ("Call 0412 345 678 anytime.", "0412 345 678"),  # AU mobile
        ("Phone (02) 9374 4000 for details", "(02) 9374 4000"),  # AU Sydney
        ("Call (415) 555-2671 ext 23.", "(415) 555-2671 ext 23"),  # US with extension
        ("Ping 415.555.2671 today", "415.555.2671"),  # US, dots
        ("Reception (898)666-3621x0135", "(898)666-3621x0135"),
        ("Dial 001-518-640-0854 from abroad.", "001-518-640-0854"),  # international prefix 001
        ("Fax: +46 (0)157 548 89", "+46 (0)157 548 89"),  # SE with (0)
        ("+49 30 1234567 is the switchboard.", "+49 30 1234567"),
        ("Sede: 06 6982 1234", "06 6982 1234"),  # IT Rome
        ("Llame al 912 34 56 78", "912 34 56 78"),  # ES Madrid
        ("Call 085 012 3456 please", "085 012 3456"),  # IE mobile
        ("Her cell is 781 1704.", "781 1704"),  # 7-digit local number with a context word
        ("numbers: 0688 843 79 56", "0688 843 79 56"),
    ],
)
def test_national_and_international_formats_are_found(phones, text: str, number: str) -> None:
    assert phones(text) == [number]


@pytest.mark.parametrize(
    "text",
    [
        "The meeting is on 2024-03-15 at 10:00.",
        "Born 12/05/1987 in Lyon.",
        "Due 15.03.2024, at 09:30.",
        "Invoice dated 03-15-24.",
        "It costs $1,299.00 in total.",
        "Revenue was 1.299.000 EUR.",
        "The fee is 1299.50 EUR.",
        "Price: € 49 900 for the lot.",
        "Order number 12345678 has shipped.",
        "Order #20230451 is on its way.",
        "Invoice 2023-04518 is overdue.",
        "Ref 0044 1234 5678 attached.",
        "Tracking ID 940011189922 for the parcel.",
        "Account 87654321 was closed.",
        "Ship to ZIP 94105-1234.",
        "Zip code 10001, New York.",
        "SSN 512-44-7321 is on file.",
        "The host 192.168.10.254 is down.",
        "Version 10.2.33.4 fixes it.",
        "From 1998-2004 she lived abroad.",
        "Population 12 524 614 in 2020.",
        "Card 4111 1111 1111 1111 was charged.",
        "ISBN 978-3-16-148410-0.",
        "Room 402, floor 12, badge 771204.",
        "We'll meet at 0896 69 Farnell Street.",
        "The address is 3838 243 Agnostou Square.",
        "Transfer it to GB82 WEST 1234 5698 7654 32 by Friday.",
        "Chapter 3, pages 120-145.",
    ],
)
def test_look_alikes_are_not_phone_numbers(phones, text: str) -> None:
    assert phones(text) == []


@pytest.mark.parametrize(
    "number, at_least, below",
    [
        ("+44 20 7946 0958", 0.6, 1.0),  # international, valid
        ("(415) 555-2671", 0.6, 1.0),  # North-American
        ("020 7946 0958", 0.45, 0.6),  # national with trunk prefix
        ("4155552671", 0.0, THRESHOLD),  # bare digits: only with a context word
        ("781 1704", 0.0, THRESHOLD),  # short local number: only with a context word
        ("2024-03-15", 0.0, 0.01),
    ],
)
def test_scores_follow_the_shape(number: str, at_least: float, below: float) -> None:
    assert at_least <= phone_score(number, DEFAULT_PHONE_REGIONS) < below


def test_context_words_lift_bare_numbers_and_identifier_words_stop_them(phones) -> None:
    assert phones("It is 4155552671, I think.") == []
    assert phones("Call me on 4155552671.") == ["4155552671"]
    assert phones("Order number 4155552671.") == []  # "number" is too weak against "order"
    assert phones("Order line phone: 4155552671.") == ["4155552671"]


def test_regions_are_checked_and_the_defaults_agree_with_the_config() -> None:
    assert tuple(PiiGuardConfig().phone_regions) == DEFAULT_PHONE_REGIONS
    assert check_regions(["us", "gb"]) == ("US", "GB")
    with pytest.raises(ConfigError, match="XX"):
        check_regions(["US", "XX"])
