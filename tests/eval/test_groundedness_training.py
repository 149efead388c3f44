"""Training the offline groundedness model: claim labels, group splits, the built data, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.eval import train_groundedness as tg
from harness.eval.groundedness_features import FEATURES, ContextIndex, claim_evidence, split_claims
from harness.eval.groundedness_model import SHIPPED_MODEL, load_model

REPO = Path(__file__).resolve().parents[2]


def _answer(sentences: list[dict], hallucinated: bool) -> tg.Answer:
    text = " ".join(s["text"] for s in sentences)
    a = tg.Answer(
        "long_answers",
        "g",
        ["The cap is 180 EUR in Berlin. Taxis are paid after 22:00."],
        "",
        text,
        hallucinated,
        sentences=sentences,
    )
    ctx = ContextIndex.build(a.context)
    a.claims = [claim_evidence(c, ctx) for c in split_claims(text)]
    return a


def test_claim_labels_follow_the_perturbed_sentence_and_its_marker() -> None:
    a = _answer(
        [
            {"text": "The cap is 180 EUR in Berlin.", "hallucinated": False},
            {
                "text": "Taxis are paid after 23:00, and the cap is 180 EUR.",
                "hallucinated": True,
                "marker": ["23:00"],
            },
        ],
        True,
    )
    assert tg.claim_labels(a) == [0, 1, 0]
    grounded = _answer([{"text": "The cap is 180 EUR in Berlin.", "hallucinated": False}], False)
    assert tg.claim_labels(grounded) == [0]
    single = _answer([{"text": "Taxis are never paid.", "hallucinated": True, "marker": []}], True)
    assert tg.claim_labels(single) == [1]


def test_splits_keep_each_source_passage_on_one_side() -> None:
    groups = [f"halueval-{i:04d}" for i in range(400)]
    share = np.mean([tg.is_test(g) for g in groups])
    assert 0.18 < share < 0.32
    assert {tg.fold(g) for g in groups} == set(range(5))
    assert tg.is_test("halueval-0007") == tg.is_test("halueval-0007")  # a function of the group alone


def test_the_built_long_answers_are_reproducible_and_balanced() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_long_answers", REPO / "golden_sets" / "build_long_answers.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.build()
    stored = [
        json.loads(line) for line in (REPO / "golden_sets" / "long_answers.jsonl").read_text().splitlines()
    ]
    assert rows == stored
    labels = [r["hallucinated"] for r in rows]
    assert 0.4 < np.mean(labels) < 0.6
    kinds = {r["perturbation"] for r in rows if r["hallucinated"]}
    assert {"number", "entity", "entity_internal", "swap", "negation", "addition", "invented"} <= kinds
    assert all(split_claims(r["answer"]) for r in rows)
    assert not any("@" in r["answer"] for r in rows)  # no personal data copied from the corpus


def test_fitting_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    answers = []
    for i in range(60):
        sentences = [{"text": "The cap is 180 EUR in Berlin.", "hallucinated": False}]
        if i % 2:
            sentences.append(
                {"text": f"Taxis cost {100 + i} EUR in Madrid.", "hallucinated": True, "marker": []}
            )
        a = _answer(sentences, bool(i % 2))
        for c in a.claims or []:
            c.features["semantic"] = float(rng.random())
        a.labels = tg.claim_labels(a)
        answers.append(a)
    first, second = tg.fit(answers, 1.0), tg.fit(answers, 1.0)
    assert first == second and first.features == list(FEATURES)
    assert first.coef[FEATURES.index("novel_numbers")] > 0  # numbers the context lacks mean unsupported


@pytest.mark.slow
def test_training_reproduces_the_shipped_model(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    tg.train(out, log=lambda _m: None)
    shipped, again = load_model(SHIPPED_MODEL), load_model(out)
    assert again.features == shipped.features and again.training == shipped.training
    assert again.faithfulness_threshold == shipped.faithfulness_threshold
    assert again.min_weight == shipped.min_weight
    assert (
        np.allclose(again.coef, shipped.coef, atol=1e-6) and abs(again.intercept - shipped.intercept) < 1e-6
    )


def test_annotated_spans_label_the_claims_that_hold_them() -> None:
    context = ["The council approved the budget on Monday. It raises the tax rate by 3.5 percent."]
    answer = (
        "The council approved the budget on Monday. It raises the tax rate by 5 percent, "
        "and the mayor called it painful."
    )
    a = tg.Answer("llm_answers", "g", context, "", answer, True, spans=["5 percent", "the mayor called it"])
    ctx = ContextIndex.build(context, "")
    a.claims = [claim_evidence(c, ctx) for c in split_claims(answer)]
    assert [c.claim for c in a.claims][0] == "The council approved the budget on Monday."
    labels = tg.claim_labels(a)
    assert labels[0] == 0 and 1 in labels[1:] and len(labels) == len(a.claims)
    assert tg.overlaps("It raises the tax rate by 5 percent", "5 percent")
    assert tg.overlaps("the mayor called it painful", "and the mayor called it painful today")
    assert not tg.overlaps("The council approved the budget on Monday.", "the mayor called it")
    consistent = tg.Answer("llm_answers", "g", context, "", answer, False, spans=[])
    consistent.claims = a.claims
    assert tg.claim_labels(consistent) == [0] * len(a.claims)
