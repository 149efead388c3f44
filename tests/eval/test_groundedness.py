"""The offline groundedness scorer with the real MiniLM embedder and the shipped model; abstention."""

from __future__ import annotations

import json

import pytest

from harness.config import HallucinationConfig
from harness.eval.abstention import is_declined, is_uncited
from harness.eval.groundedness import GroundednessScorer, build_groundedness, split_claims
from harness.eval.groundedness_domain import domain_warnings, groundedness_domain_check
from harness.eval.groundedness_features import FEATURES, ContextIndex, claim_evidence
from harness.eval.groundedness_model import SHIPPED_MODEL, CalibrationDomain, load_model, shipped_model

PASSAGE = (
    "Hotels: the nightly cap is 180 EUR in Berlin, London and Paris, and 150 EUR elsewhere in Europe. "
    "Breakfast is included in the cap when the hotel sells it as part of the room rate."
)
TRAVEL = [
    PASSAGE,
    "All business travel is booked through TravelDesk, our travel agency, at least 14 days before "
    "departure whenever possible. Trips must be approved by your manager before booking. "
    "Business class is not reimbursed unless the chief financial officer approves it in writing.",
]
QUESTION = "What is the hotel cap in Berlin?"
# Known weak spots of the shipped model (docs/detectors_groundedness.md): kept as tests that report them.
WEAK_NEGATION = pytest.mark.xfail(reason="weak spot: a negation added to a short claim", strict=False)


@pytest.fixture(scope="module")
def scorer(minilm) -> GroundednessScorer:
    return GroundednessScorer(minilm)


def test_claims_split_on_sentences_and_clauses_and_drop_citations_and_bullets() -> None:
    claims = split_claims(
        "The cap is 180 EUR [1]. Breakfast is included; taxis are extra, and rentals need approval."
    )
    assert claims == [
        "The cap is 180 EUR.",
        "Breakfast is included",
        "taxis are extra",
        "rentals need approval.",
    ]
    assert split_claims("[1]") == []
    assert split_claims("- **Hotels** are capped [2].\n- Taxis are paid.") == [
        "Hotels are capped.",
        "Taxis are paid.",
    ]


@pytest.mark.parametrize(
    ("answer", "supported"),
    [
        ("The hotel cap in Berlin is 180 EUR per night [1].", True),  # verbatim fact
        ("In Berlin, a hotel night may cost up to 180 EUR.", True),  # rewording (a weak spot before 1.1.0)
        ("Trips must be approved by your manager before they are booked.", True),  # light paraphrase
        ("Trips need your manager's approval before they are booked.", True),  # heavy rewording
        ("The hotel cap in Berlin is 250 EUR per night.", False),  # number change
        ("Business travel is booked through Expedia, our travel agency.", False),  # entity swap
        pytest.param(
            "Business class is reimbursed unless the chief financial officer approves it in writing.",
            False,
            marks=pytest.mark.xfail(
                reason="weak spot since model 1.1.0: a negation removed from an otherwise verbatim claim "
                "(in paraphrased LLM answers a negation mismatch is as often a rewording, so it weighs less)",
                strict=True,
            ),
        ),
        pytest.param("Breakfast is not included in the cap.", False, marks=WEAK_NEGATION),
    ],
)
def test_each_claim_is_decided_on_its_own(scorer: GroundednessScorer, answer: str, supported: bool) -> None:
    result = scorer.score(answer, TRAVEL, QUESTION)
    (claim,) = [c for c in result.claims if c.counted]
    threshold = scorer.model.faithfulness_threshold
    assert (result.faithfulness >= threshold) is supported, claim
    assert (claim in result.unsupported) is (not supported)


@pytest.mark.parametrize(
    "generic",
    ["Here is what the documents say.", "Details may vary.", "Let me know if you need more details."],
)
def test_generic_sentences_and_hedges_do_not_count(scorer: GroundednessScorer, generic: str) -> None:
    base = scorer.score("The hotel cap in Berlin is 180 EUR per night.", TRAVEL, QUESTION)
    with_generic = scorer.score(f"{generic} The hotel cap in Berlin is 180 EUR per night.", TRAVEL, QUESTION)
    assert with_generic.claims[0].kind in ("generic", "hedge") and not with_generic.claims[0].counted
    assert with_generic.faithfulness == base.faithfulness


def test_an_unsupported_claim_names_what_it_was_compared_with(scorer: GroundednessScorer) -> None:
    bad = scorer.score("The hotel cap in Berlin is 250 EUR per night.", [PASSAGE], QUESTION)
    (claim,) = bad.unsupported
    assert claim.novel_terms == ["250"]
    assert claim.best_sentence.startswith("Hotels: the nightly cap")
    assert set(claim.features) == set(FEATURES)


def test_length_is_not_penalised(scorer: GroundednessScorer) -> None:
    short = "The hotel cap in Berlin is 180 EUR per night."
    grounded = [
        " Breakfast is included in the cap when the hotel sells it with the room.",
        " Trips must be approved by your manager before booking.",
        " Business class is not reimbursed unless the chief financial officer approves it.",
    ]
    scores = [scorer.score(short + "".join(grounded[:k]), TRAVEL, QUESTION).faithfulness for k in range(4)]
    threshold = scorer.model.faithfulness_threshold
    assert all(s >= threshold for s in scores), scores
    assert min(scores[1:]) >= scores[0] - 0.05  # more supported sentences do not add risk
    longer = short + "".join(grounded) + " Hotels in Berlin are booked through Expedia Corporate."
    worse = scorer.score(longer, TRAVEL, QUESTION)
    assert worse.faithfulness < threshold <= scores[-1]
    assert [c.claim for c in worse.unsupported] == ["Hotels in Berlin are booked through Expedia Corporate."]


def test_scores_are_deterministic_bit_for_bit(minilm) -> None:
    args = (
        "Breakfast is included in the cap, and Paris costs 180 EUR [2].",
        [PASSAGE, "Taxis are reimbursed."],
        "q?",
    )
    first = GroundednessScorer(minilm).score(*args).model_dump_json()
    again = GroundednessScorer(minilm).score(*args).model_dump_json()
    cached = GroundednessScorer(minilm)
    cached.score(*args)
    assert first == again == cached.score(*args).model_dump_json()


def test_empty_answer_has_nothing_to_support(scorer: GroundednessScorer) -> None:
    assert scorer.score("", [PASSAGE]).faithfulness == 1.0
    assert (
        scorer.score("The cap is 180 EUR in Madrid.", []).faithfulness < scorer.model.faithfulness_threshold
    )


def test_the_shipped_model_is_consistent_with_the_config_default() -> None:
    model = load_model(SHIPPED_MODEL)
    assert model.features == list(FEATURES)
    assert HallucinationConfig().faithfulness_threshold == model.faithfulness_threshold
    assert {t.path for t in model.training} == {
        "golden_sets/halueval_qa.jsonl",
        "golden_sets/long_answers.jsonl",
        "golden_sets/llm_answers.jsonl",
    }
    assert all(len(t.sha256) == 64 and t.answers > 0 for t in model.training)
    lo, hi = model.domain.answer_words
    assert 0 <= lo < hi
    raw = json.loads(SHIPPED_MODEL.read_text())
    assert raw["version"] == model.version and raw["kind"] == "logistic_regression"


def test_the_model_scores_features_deterministically_and_monotonically() -> None:
    model = shipped_model()
    ctx = ContextIndex.build([PASSAGE], QUESTION)
    good = claim_evidence("The nightly hotel cap in Berlin is 180 EUR.", ctx).features
    bad = dict(good, novel_numbers=1.0)
    assert model.support(good) == model.support(dict(good))
    assert model.support(bad) < model.support(good)  # a number the context lacks lowers support
    assert model.aggregate([]) == 1.0
    assert model.aggregate([0.9, 0.9, 0.9]) == pytest.approx(0.9)


def test_a_wrong_model_file_fails_loudly(tmp_path) -> None:
    from harness.errors import ConfigError

    bad = tmp_path / "m.json"
    bad.write_text('{"version": "x"}')
    with pytest.raises(ConfigError, match="not a valid groundedness model"):
        load_model(bad)
    with pytest.raises(ValueError, match="no such model JSON"):
        HallucinationConfig(model_path=tmp_path / "missing.json")


def test_the_registry_builds_the_offline_backend_from_config(minilm) -> None:
    scorer = build_groundedness(HallucinationConfig(), minilm)
    assert isinstance(scorer, GroundednessScorer) and scorer.embedder is minilm
    assert scorer.claim_threshold == scorer.model.claim_threshold


def test_domain_warnings_name_answers_outside_the_calibration_domain() -> None:
    domain = CalibrationDomain(answer_words=(1, 40), answer_claims=(1, 5), context_words=(10, 300))
    assert domain_warnings(domain, [5, 20, 40], [1, 2, 5]) == []
    (warning,) = domain_warnings(domain, [5, 80, 20], [1, 4, 2])
    assert "1 of 3 answers" in warning and "more than 40 words" in warning
    state, warnings = groundedness_domain_check(HallucinationConfig(), ["The cap is 180 EUR. " * 60])
    assert warnings and "claims" in " ".join(warnings)
    (name,) = state
    assert "calibration" not in name and "content words" in state[name]["summary"]


@pytest.mark.parametrize(
    "answer",
    [
        "I don't know based on the provided documents.",
        "The documents do not mention the Wi-Fi password.",
        "Sorry, I cannot find that in the context.",
        "There is no information about dental insurance in the passages.",
        "That information is not provided in the documents.",
        "I'm not sure.",
        "",
    ],
)
def test_declines_are_detected(answer: str) -> None:
    assert is_declined(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "The cap is 180 EUR [1].",
        "Parking is not provided at the Toronto office [1].",
        "No, USB storage devices are blocked [2].",
        "I know that deploys happen Tuesday to Thursday.",
    ],
)
def test_answers_are_not_declines(answer: str) -> None:
    assert not is_declined(answer)


def test_uncited() -> None:
    assert is_uncited("The cap is 180 EUR.") and not is_uncited("The cap is 180 EUR [1].")
