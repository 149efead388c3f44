"""The runner scores the groundedness of answered items in batches (one embedding call for several answers):
the same items as one at a time, in order, and one unscorable answer fails only its own item."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.golden import load_golden_set
from harness.runner import iter_scored
from tests.fakes import CitingGenerator, FailingGenerator, OverlapGroundedness
from tests.integration.test_runner import builder, read_items, run_scenario, scenario  # noqa: F401

KS = (1, 3)


def _scored(sc, groundedness, generator=None, **kwargs):
    parts = replace(builder(generator or CitingGenerator())(sc), groundedness=groundedness)
    examples = load_golden_set(sc.golden_set)[:11]
    return list(iter_scored(examples, parts, KS, **kwargs))


def _comparable(items) -> list[dict]:
    return [it.model_dump(exclude={"timings"}) for it in items]


def test_groundedness_is_scored_in_batches_like_one_at_a_time(scenario) -> None:  # noqa: F811
    _, sc = scenario
    single, batched = OverlapGroundedness(), OverlapGroundedness()
    one = _scored(sc, single, score_batch=1)
    many = _scored(sc, batched, score_batch=4)
    assert _comparable(many) == _comparable(one)
    scored = sum(it.faithfulness is not None for it in one)
    assert scored >= 8 and sum(single.calls) == sum(batched.calls) == scored
    assert max(batched.calls) == 4 and len(batched.calls) < len(single.calls)


def test_an_unscorable_answer_fails_only_its_own_item(scenario) -> None:  # noqa: F811
    _, sc = scenario
    good = _scored(sc, OverlapGroundedness(), score_batch=4)
    bad_text = good[1].answer.split(" [")[0]
    got = _scored(sc, OverlapGroundedness(bad=bad_text), score_batch=4)
    assert [it.id for it in got] == [it.id for it in good]
    failed = [it for it in got if it.error]
    assert [it.id for it in failed] == [good[1].id] and failed[0].error == "ValueError: unscorable answer"
    assert _comparable(got[2:]) == _comparable(good[2:])


def test_an_item_that_cannot_be_answered_comes_after_the_batch_before_it(scenario) -> None:  # noqa: F811
    _, sc = scenario
    got = _scored(sc, OverlapGroundedness(), FailingGenerator(ok=3, exc=RuntimeError("CUDA OOM")), score_batch=8)
    assert [it.error is None for it in got[:4]] == [True, True, True, False]
    assert [it.id for it in got] == [e.id for e in load_golden_set(sc.golden_set)[:11]]


def test_a_run_with_groundedness_writes_every_item(tmp_path: Path, scenario) -> None:  # noqa: F811
    path, sc = scenario

    def build(s):
        return replace(builder(CitingGenerator())(s), groundedness=OverlapGroundedness())

    result = run_scenario(sc, path, tmp_path / "out", build=build, limit=10)
    assert result.complete and result.n_scored == 10
    assert sum(it.faithfulness is not None for it in read_items(tmp_path / "out")) >= 8
