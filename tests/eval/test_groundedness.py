"""The offline groundedness scorer with the real MiniLM embedder, abstention detection, calibration math."""

from __future__ import annotations

import numpy as np
import pytest

from harness.eval.abstention import is_declined, is_uncited
from harness.eval.calibration import Case, best_threshold, calibrate_detector
from harness.eval.groundedness import GroundednessScorer, split_claims

PASSAGE = ("Hotels: the nightly cap is 180 EUR in Berlin, London and Paris, and 150 EUR elsewhere in Europe. "
           "Breakfast is included in the cap when the hotel sells it as part of the room rate.")


@pytest.fixture(scope="module")
def scorer(minilm) -> GroundednessScorer:
    return GroundednessScorer(minilm)


def test_claims_split_on_sentences_and_clauses_and_drop_citations() -> None:
    claims = split_claims("The cap is 180 EUR [1]. Breakfast is included; taxis are extra, and rentals need approval.")
    assert claims == ["The cap is 180 EUR.", "Breakfast is included", "taxis are extra", "rentals need approval."]
    assert split_claims("[1]") == []


def test_supported_answer_scores_high_and_a_wrong_number_is_caught(scorer: GroundednessScorer) -> None:
    good = scorer.score("The hotel cap in Berlin is 180 EUR per night [1].", [PASSAGE], "What is the hotel cap in Berlin?")
    bad = scorer.score("The hotel cap in Berlin is 250 EUR per night.", [PASSAGE], "What is the hotel cap in Berlin?")
    assert good.faithfulness >= 0.85 and not good.unsupported
    assert bad.faithfulness < good.faithfulness - 0.3
    (claim,) = bad.unsupported
    assert claim.novel_terms == ["250"]
    assert claim.best_sentence.startswith("Hotels: the nightly cap")  # the reader sees what it was compared with


def test_an_invented_name_is_unsupported(scorer: GroundednessScorer) -> None:
    result = scorer.score("Hotels in Berlin are booked through Expedia Corporate.", [PASSAGE], "How are hotels booked?")
    assert "Expedia" in result.unsupported[0].novel_terms


def test_scores_are_deterministic_bit_for_bit(minilm) -> None:
    args = ("Breakfast is included in the cap, and Paris costs 180 EUR [2].", [PASSAGE, "Taxis are reimbursed."], "q?")
    first = GroundednessScorer(minilm).score(*args).model_dump_json()
    again = GroundednessScorer(minilm).score(*args).model_dump_json()
    cached = GroundednessScorer(minilm)
    cached.score(*args)
    assert first == again == cached.score(*args).model_dump_json()


def test_empty_answer_has_nothing_to_support(scorer: GroundednessScorer) -> None:
    assert scorer.score("", [PASSAGE]).faithfulness == 1.0
    assert scorer.score("The cap is 180 EUR.", []).faithfulness < 0.5


@pytest.mark.parametrize("answer", [
    "I don't know based on the provided documents.",
    "The documents do not mention the Wi-Fi password.",
    "Sorry, I cannot find that in the context.",
    "There is no information about dental insurance in the passages.",
    "That information is not provided in the documents.",
    "I'm not sure.",
    "",
])
def test_declines_are_detected(answer: str) -> None:
    assert is_declined(answer)


@pytest.mark.parametrize("answer", [
    "The cap is 180 EUR [1].",
    "Parking is not provided at the Toronto office [1].",
    "No, USB storage devices are blocked [2].",
    "I know that deploys happen Tuesday to Thursday.",
])
def test_answers_are_not_declines(answer: str) -> None:
    assert not is_declined(answer)


def test_uncited() -> None:
    assert is_uncited("The cap is 180 EUR.") and not is_uncited("The cap is 180 EUR [1].")


def test_best_threshold_maximises_balanced_accuracy() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.35])
    labels = np.array([False, False, False, True, True, True])
    threshold, accuracy = best_threshold(scores, labels)
    assert threshold == pytest.approx(0.35) and accuracy == pytest.approx(1.0)


def test_calibrate_detector_reports_auroc_confusion_and_heldout() -> None:
    cases = [Case(item=i // 2, context="c", question="q", answer="a", hallucinated=bool(i % 2)) for i in range(20)]
    scores = [0.9 if c.hallucinated else 0.1 for c in cases]
    scores[1] = 0.05  # one hallucination the detector misses
    result = calibrate_detector("toy", scores, cases)
    assert result.auroc == pytest.approx(0.9)
    assert result.confusion == {"tp": 9, "fp": 0, "tn": 10, "fn": 1}
    assert result.balanced_accuracy == pytest.approx(0.95)
    assert 0.8 <= result.heldout_balanced_accuracy <= 1.0
