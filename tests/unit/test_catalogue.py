"""The metric catalogue: one declaration per metric, from which names, directions and aggregation derive."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_scenario
from harness.metrics import (
    CATALOGUE,
    LOAD_METRICS,
    LOWER_IS_BETTER,
    ItemContext,
    aggregate_items,
    available_metrics,
    direction,
    gated_metrics,
    group_of,
    item_value,
    spec_for,
)
from harness.pipeline.rag import StageTimings
from harness.results import ItemResult


@pytest.fixture()
def scenario(tmp_path: Path, repo: Path):
    path = tmp_path / "s.yaml"
    path.write_text(f"corpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"
                    f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
                    "hallucination: {faithfulness_threshold: 0.8}\n")
    return load_scenario(path)


def item(i: int, **kw) -> ItemResult:
    base = dict(id=f"q{i}", user_input="q", answerable=True, answer="a [1]", declined=False, uncited=False,
                timings=StageTimings(embed_ms=1, search_ms=1, generate_ms=10.0 * i, total_ms=12.0 * i))
    return ItemResult(**{**base, **kw})


def test_every_name_a_scenario_reports_maps_back_to_exactly_one_spec(scenario) -> None:
    names = available_metrics(scenario)
    assert len(names) == len(set(names))
    for name in names:
        spec = spec_for(name)
        assert spec is not None and spec.group == group_of(name), name
    assert "retrieval.recall@5" in names and "latency.guard_context.p99_ms" in names
    assert not any(n.startswith(("leak.", "load.", "judge.", "injection.")) for n in names)


def test_directions_and_derived_sets_come_from_the_catalogue() -> None:
    assert direction("hallucination.unsupported_rate") == "lower"
    assert direction("retrieval.hit@3") == "higher"
    assert direction("latency.total.p95_ms") == "lower"
    assert "abstention.answerable_declined_rate" in LOWER_IS_BETTER
    assert "abstention.unanswerable_declined_rate" not in LOWER_IS_BETTER
    assert LOAD_METRICS[:3] == ("p50_ms", "p95_ms", "p99_ms")
    assert gated_metrics(["retrieval.mrr", "latency.total.p50_ms", "abstention.uncited_rate", "answer.rouge_l"]) == [
        "retrieval.mrr", "answer.rouge_l"]
    assert all(s.group in {g for g, _ in __import__("harness.metrics").metrics.GROUPS} for s in CATALOGUE)


def test_aggregation_matches_a_hand_count(scenario) -> None:
    items = [
        item(1, faithfulness=0.9, retrieval={"hit@5": 1.0, "recall@5": 1.0, "mrr": 1.0}),
        item(2, faithfulness=0.5, retrieval={"hit@5": 0.0, "recall@5": 0.0, "mrr": 0.0}),
        item(3, answerable=False, declined=True),
        item(4, answerable=False, declined=False, faithfulness=0.95),
        item(5, error="RuntimeError: boom", timings=None),
    ]
    metrics, latency = aggregate_items(items, scenario)
    assert metrics["retrieval.hit@5"] == 0.5
    assert metrics["groundedness.faithfulness_mean"] == pytest.approx(0.7)
    assert metrics["hallucination.unsupported_rate"] == 0.5  # 0.5 < 0.8 is unsupported, 0.9 is not
    assert metrics["hallucination.answered_unanswerable_rate"] == 0.5
    assert metrics["abstention.unanswerable_declined_rate"] == 0.5
    assert metrics["run.error_rate"] == 0.2 and metrics["run.items_scored"] == 4.0
    assert latency["generate"].n == 4 and metrics["latency.generate.p50_ms"] == 25.0
    assert metrics["answer.rouge_l"] is None  # nothing scored it


def test_item_values_are_what_the_regression_gate_pairs(scenario) -> None:
    ctx = ItemContext(faithfulness_threshold=0.8)
    assert item_value(item(1, faithfulness=0.7), "hallucination.unsupported_rate", ctx) == 1.0
    assert item_value(item(1, faithfulness=0.7, declined=True), "hallucination.unsupported_rate", ctx) is None
    assert item_value(item(1, error="x"), "retrieval.mrr", ctx) is None
    assert item_value(item(1, error="x"), "run.error_rate", ctx) == 1.0
    assert item_value(item(1), "no.such.metric", ctx) is None


def test_a_toy_metric_is_one_catalogue_entry(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a newcomer adds for a new metric: one MetricSpec. Names, assert validation, group, direction,
    aggregation, the regression gate and the assert verdict all follow from it."""
    import harness.metrics
    from harness.errors import ConfigError
    from harness.eval.regression import compare
    from harness.metrics import MetricSpec
    from harness.summary import evaluate_asserts

    toy = MetricSpec("answer.length_chars", "answer", "lower", "chars", "Characters in an answered item's answer.",
                     item_value=lambda it, ctx: None if it.declined else float(len(it.answer)), paired=True)
    monkeypatch.setattr(harness.metrics, "CATALOGUE", (*CATALOGUE, toy))
    path = tmp_path / "s.yaml"

    def scenario_asserting(metric: str):
        path.write_text(f"corpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"
                        f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
                        f"asserts: [{{metric: {metric}, max: 10}}]\n")
        return load_scenario(path)

    scenario = scenario_asserting("answer.length_chars")
    assert "answer.length_chars" in available_metrics(scenario)
    assert (group_of("answer.length_chars"), direction("answer.length_chars")) == ("answer", "lower")
    assert gated_metrics(["answer.length_chars", "latency.total.p50_ms"]) == ["answer.length_chars"]

    short = [item(1, answer="abcd"), item(2, answer="abcdefgh"), item(3, declined=True, answer="no")]
    metrics, _ = aggregate_items(short, scenario)
    assert metrics["answer.length_chars"] == 6.0  # the declined item does not count
    assert [r.passed for r in evaluate_asserts(scenario, metrics)] == [True]
    longer = [item(i, answer="x" * (40 + i)) for i in range(1, 9)]
    base = [item(i, answer="x" * (4 + i % 3)) for i in range(1, 9)]
    assert [r.passed for r in evaluate_asserts(scenario, aggregate_items(longer, scenario)[0])] == [False]
    gate = compare("answer.length_chars", base, longer, tolerance=1.0, faithfulness_threshold=0.5)
    assert gate.regressed and not gate.higher_is_better  # longer is worse for a lower-is-better metric
    assert not compare("answer.length_chars", longer, base, tolerance=1.0, faithfulness_threshold=0.5).regressed

    with pytest.raises(ConfigError, match=r"unknown metric 'answer\.lenght_chars'.*did you mean answer\.length_chars"):
        scenario_asserting("answer.lenght_chars")
