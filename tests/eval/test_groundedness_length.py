"""The length-robustness check: claim counts and paraphrase strength are read from the claims, the shipped
model's specificity is computed per claim count, and claim-count-aware thresholds are fitted per count."""

from __future__ import annotations

import numpy as np

from harness.eval.groundedness_features import ContextIndex, claim_evidence
from harness.eval.groundedness_length import (
    _log_count,
    _per_count,
    claim_bin,
    paraphrase,
    shipped_by_length,
)
from harness.eval.groundedness_model import shipped_model
from harness.eval.train_groundedness import Answer

CONTEXT = [
    "The hotel cap in Berlin is 180 EUR per night. Paris has a cap of 150 EUR. Taxis are paid by the company. "
    "Trains are booked in second class. Breakfast is included in the cap."
]
SENTENCES = ["The hotel cap in Berlin is 180 EUR per night.", "Paris has a cap of 150 EUR.",
             "Taxis are paid by the company.", "Trains are booked in second class.",
             "Breakfast is included in the cap."]  # fmt: skip


def _answer(sentences: list[str], hallucinated: bool, group: str) -> Answer:
    ctx = ContextIndex.build(CONTEXT)
    claims = [claim_evidence(s, ctx) for s in sentences]
    for c in claims:
        c.features["semantic"] = 0.9
    return Answer("long_answers", group, CONTEXT, "", " ".join(sentences), hallucinated, claims=claims)


def test_claim_counts_and_paraphrase_strength_come_from_the_fact_claims() -> None:
    assert [claim_bin(_answer(SENTENCES[:k], False, "g")) for k in (1, 2, 3, 5)] == [1, 2, 3, 4]
    assert paraphrase(_answer(SENTENCES[:2], False, "g")) == 0.0  # verbatim
    reworded = _answer(["A night in a Berlin hotel may cost up to 180 EUR."], False, "g")
    assert 0.25 < paraphrase(reworded) < 1.0


def test_the_shipped_model_is_read_per_claim_count() -> None:
    answers = [_answer(SENTENCES[:k], False, f"g{k}") for k in (1, 2, 3, 4)]
    answers.append(_answer(["The hotel cap in Berlin is 900 EUR per night."], True, "g9"))
    rows = shipped_by_length(answers, shipped_model())["all/long_answers"]
    assert [rows[f"claims {k}"]["specificity"]["value"] for k in ("1", "2", "3")] == [1.0, 1.0, 1.0]
    assert rows["claims 4+"]["specificity"]["n"] == 1 and rows["claims 1"]["sensitivity"]["value"] == 1.0


def test_count_aware_thresholds_are_fitted_per_claim_count() -> None:
    # grounded answers score 0.6 with one claim and 0.4 with four; hallucinated ones 0.3 and 0.1: no single
    # threshold separates them, one per claim count does
    scores = np.array([0.6, 0.3, 0.4, 0.1] * 5)
    labels = np.array([False, True, False, True] * 5)
    bins = np.array([1, 1, 4, 4] * 5)
    datasets = np.array(["long_answers"] * 20)
    one, four = _per_count(scores, labels, datasets, bins)(np.array([1, 4]))
    assert 0.3 <= one < 0.6 and 0.1 <= four < 0.4 and one - four > 0.15
    by_log = _log_count(scores, labels, datasets, bins)(np.array([1, 2, 4]))
    assert by_log[0] > by_log[1] > by_log[2]  # the threshold falls with the claim count
