"""The presidio PII guard with the real spaCy pipeline that `auto` picks (en_core_web_md when the pii-md extra
is installed, else en_core_web_sm): detection, operators, configuration, bad input."""

from __future__ import annotations

import re

import pytest

from guards.pii import PresidioPiiGuard
from harness.config import CustomRecognizerConfig, PatternConfig, PiiGuardConfig


@pytest.fixture(scope="module")
def guard() -> PresidioPiiGuard:
    return PresidioPiiGuard(PiiGuardConfig())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Write to joana.sousa@quillmarklabs.com today.", {"EMAIL_ADDRESS"}),
        ("Her mobile is +351 912 345 678.", {"PHONE_NUMBER"}),
        ("Paid with 4111 1111 1111 1111 yesterday.", {"CREDIT_CARD"}),
        ("Card 501864667909 was declined.", {"CREDIT_CARD"}),  # 12-digit Maestro: the Luhn recognizer
        ("Transfer it to GB82 WEST 1234 5698 7654 32 by Friday.", {"IBAN_CODE"}),
        ("SSN on file: 512-44-7321.", {"US_SSN"}),
        ("The gateway at 10.20.30.40 failed.", {"IP_ADDRESS"}),
        ("Michael Brennan relocates next year.", {"PERSON"}),
        ("Please ask Dr. Okonkwo about it.", {"PERSON"}),  # a title before a name
        ("Hi, my name is zoltan varga", {"PERSON"}),  # an introduction, lower case
        ("Ring me: 0489 25 37 29", {"PHONE_NUMBER"}),  # national format, no country code
        ("He lives on Rua Diadema 1903.", set()),  # a street, not a person
        ("Invoice 2023-04518 is due on 2024-03-15.", set()),
        ("The hotel cap in Berlin is 180 EUR per night.", set()),
        ("Order 4111 1111 1111 1112 is not a card (Luhn fails).", set()),
    ],
)
def test_detects_configured_entities(guard: PresidioPiiGuard, text: str, expected: set[str]) -> None:
    result = guard.check(text, "answer")
    assert {f.entity_type for f in result.findings} == expected
    assert result.action == ("redact" if expected else "allow")


def test_findings_carry_position_and_salted_hash_never_the_value(guard: PresidioPiiGuard) -> None:
    text = "Call Daniel at +1 416-555-0143 please."
    result = guard.check(text, "context")
    phone = next(f for f in result.findings if f.entity_type == "PHONE_NUMBER")
    assert text[phone.start : phone.end] == "+1 416-555-0143"
    serialized = result.model_dump_json()
    assert "555-0143" not in serialized and "4165550143" not in serialized
    assert re.fullmatch(r"[0-9a-f]{16}", phone.value_hash)
    assert guard.check(text, "context").findings[-1].value_hash == phone.value_hash  # stable


@pytest.mark.parametrize(
    "operator, check",
    [
        ("replace", lambda out: out == "Mail <EMAIL_ADDRESS> now."),
        ("redact", lambda out: out == "Mail  now."),
        ("mask", lambda out: "*" * 10 in out and "@" not in out),
        ("hash", lambda out: re.fullmatch(r"Mail <EMAIL_ADDRESS:[0-9a-f]{16}> now\.", out) is not None),
    ],
)
def test_operators(operator: str, check) -> None:
    guard = PresidioPiiGuard(PiiGuardConfig(entities=["EMAIL_ADDRESS"], operator=operator))
    out = guard.check("Mail a.b@example.com now.", "answer").text
    assert check(out), out


def test_block_action_keeps_text_and_blocks() -> None:
    guard = PresidioPiiGuard(PiiGuardConfig(entities=["US_SSN"], action="block"))
    result = guard.check("SSN 512-44-7321", "answer")
    assert result.action == "block" and result.text == "SSN 512-44-7321"


def test_thresholds_allow_deny_context_and_custom_recognizers() -> None:
    config = PiiGuardConfig(
        entities=["PHONE_NUMBER", "EMAIL_ADDRESS", "PERSON"],
        thresholds={"PHONE_NUMBER": 0.95},
        allow_list=["support@quillmarklabs.com"],
        deny_list={"PERSON": ["Priya Raghunathan"]},
        custom_recognizers=[
            CustomRecognizerConfig(
                entity="EMPLOYEE_ID",
                patterns=[PatternConfig(name="qm", regex=r"\bQM-\d{6}\b", score=0.4)],
                context=["employee"],
            )
        ],
    )
    guard = PresidioPiiGuard(config)
    text = (
        "Priya Raghunathan (employee QM-006233) answers on +1 512-555-0187; "
        "write to support@quillmarklabs.com."
    )
    types = {f.entity_type for f in guard.check(text, "context").findings}
    assert "PERSON" in types  # deny list catches a name the small model misses
    assert "EMPLOYEE_ID" in types  # 0.4 + context word "employee" clears the 0.5 threshold
    assert "PHONE_NUMBER" not in types  # per-entity threshold 0.95
    assert "EMAIL_ADDRESS" not in types  # allow list
    without_context = guard.check("Reference QM-006233 only.", "context")
    assert "EMPLOYEE_ID" not in {f.entity_type for f in without_context.findings}


def test_batch_matches_single_calls(guard: PresidioPiiGuard) -> None:
    texts = [
        "Email joana.sousa@quillmarklabs.com",
        "",
        "No personal data here.",
        "IBAN PT50 0002 0123 1234 5678 9015 4",
    ]
    batch = guard.check_batch(texts, "context")
    single = [guard.check(t, "context") for t in texts]
    assert [b.text for b in batch] == [s.text for s in single]
    assert [b.findings for b in batch] == [s.findings for s in single]


@pytest.mark.parametrize(
    "text, expected_action",
    [
        ("", "allow"),
        ("   \n\t", "allow"),
        (b"\xff\xfe\x00\x01 binary junk \x80\x81", "allow"),
        (b"caf\xe9 joana.sousa@quillmarklabs.com", "redact"),  # latin-1 byte: invalid UTF-8
        ("\ud800 lone surrogate, write to a.b@example.com", "redact"),
        ("Bitte rufen Sie Frau Müller unter +49 30 1234567 an.", "redact"),
        ("これは日本語の文章です。個人情報はありません。", "allow"),
    ],
)
def test_bad_input_has_a_defined_result(guard: PresidioPiiGuard, text, expected_action: str) -> None:
    result = guard.check(text, "query")
    assert result.action == expected_action
    assert "a.b@example.com" not in result.text and "joana.sousa@quillmarklabs.com" not in result.text
    if expected_action == "allow":  # nothing found: the text goes on whole (invalid bytes replaced)
        decoded = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
        assert len(result.text) == len(decoded)


def test_a_text_longer_than_a_window_is_analysed_in_overlapping_windows(
    guard: PresidioPiiGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The windowing itself, with 2,000-character windows: a value straddling a window boundary is found once,
    at its true offsets, and so is one in the last window (the 1 MB case below is the same code at full size)."""
    import guards.pii as pii

    monkeypatch.setattr(pii, "SEGMENT_CHARS", 2_000)
    filler = "All quiet on the invoice front. "  # 32 characters
    head = filler * 62  # 1,984 characters: the e-mail below crosses the first window's end
    text = head + "Write to first.last@example.org today. " + filler * 150 + "Contact a.b@example.com."
    assert len(pii._segments(text)) > 3
    result = guard.check(text, "context")
    emails = sorted(text[f.start : f.end] for f in result.findings if f.entity_type == "EMAIL_ADDRESS")
    assert emails == ["a.b@example.com", "first.last@example.org"]
    assert result.text.startswith(head + "Write to <EMAIL_ADDRESS> today.")
    assert result.text.endswith("Contact <EMAIL_ADDRESS>.") and "@" not in result.text


@pytest.mark.slow  # presidio over 1 MB: minutes on 2 busy cores; the windowing is tested above at a small size
def test_one_megabyte_text_is_analysed_in_windows(guard: PresidioPiiGuard) -> None:
    filler = "All quiet on the invoice front. " * 33_000  # ~1.05 MB, more than spaCy's max_length
    text = filler + "Contact a.b@example.com."
    result = guard.check(text, "context")
    (email,) = [f for f in result.findings if f.entity_type == "EMAIL_ADDRESS"]
    assert text[email.start : email.end] == "a.b@example.com"
    assert result.text.endswith("Contact <EMAIL_ADDRESS>.")


def test_a_missing_spacy_model_is_named() -> None:
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="no_such_spacy_model"):
        PresidioPiiGuard(PiiGuardConfig(spacy_model="no_such_spacy_model"))


def test_context_words_raise_a_low_base_score_over_the_threshold() -> None:
    text = "Rota contact: 7781 1704 22."
    local = CustomRecognizerConfig(
        entity="PHONE_NUMBER",
        patterns=[PatternConfig(name="local", regex=r"\b\d{4} \d{4} \d{2}\b", score=0.3)],
    )
    plain = PresidioPiiGuard(
        PiiGuardConfig(
            entities=["PHONE_NUMBER"],
            thresholds={},
            score_threshold=0.5,
            extended_recognizers=False,
            custom_recognizers=[local],
        )
    )
    assert not plain.check(text, "context").findings
    boosted = PresidioPiiGuard(plain.config.model_copy(update={"context_words": {"PHONE_NUMBER": ["rota"]}}))
    assert [f.entity_type for f in boosted.check(text, "context").findings] == ["PHONE_NUMBER"]


@pytest.mark.parametrize(
    "text, name, is_place",
    [
        ("Ship to 228 Ringvej 144 >Apt. 902 >Qaqortoq >Greenland", "Qaqortoq", True),
        ("9063 63 Rue de Kairouan, Cite El Farik", "El Farik", True),
        ("Martim Pereira, 17693 Main Street, Springfield", "Martim Pereira", False),  # the name comes first
        ("Flat 4, 12 Baker Street\nJo Lee will sign for it", "Jo Lee", False),  # another line
        ("Meet me on Baker Street with Anna", "Anna", False),  # no number: not an address line
    ],
)
def test_a_name_after_a_street_line_is_a_place(text: str, name: str, is_place: bool) -> None:
    from guards.recognizers import follows_street_line

    assert follows_street_line(text, text.index(name)) is is_place


def test_a_person_before_an_address_is_still_found(guard: PresidioPiiGuard) -> None:
    text = "Please send the contract to Martim Pereira, 17693 Main Street, Springfield."
    found = {text[r.start : r.end] for r in guard.analyze(text) if r.entity_type == "PERSON"}
    assert any("Martim" in f for f in found), found
