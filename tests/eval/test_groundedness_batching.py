"""The offline groundedness scorer's speed paths (batched scoring, the vector and context caches) give the
same decisions as scoring one answer at a time, with the real MiniLM embedder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from harness.eval.groundedness import GroundednessScorer
from harness.eval.groundedness_features import ContextIndex, claim_evidence
from harness.pipeline.protocols import EmbedKind
from harness.text import LIST_MARKER, prose_sentences
from tests.eval.test_groundedness import PASSAGE, QUESTION, TRAVEL

ITEMS = [
    ("The hotel cap in Berlin is 180 EUR per night [1].", TRAVEL, QUESTION),
    ("The hotel cap in Berlin is 250 EUR per night.", TRAVEL, QUESTION),
    ("Business travel is booked through Expedia. Trips must be approved by your manager.", TRAVEL, ""),
    ("Breakfast is included in the cap, and Paris costs 180 EUR [2].", [PASSAGE, "Taxis are paid."], "q?"),
    ("Here is what the documents say.", TRAVEL, QUESTION),  # no counted claim: nothing to embed
]


class RecordingEmbedder:
    """The real embedder, with the texts of each ``embed`` call recorded."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[list[str]] = []

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        self.calls.append(list(texts))
        return np.asarray(self.inner.embed(texts, kind=kind))

    def fingerprint(self) -> dict[str, Any]:
        return dict(self.inner.fingerprint())


def _decisions(results) -> list[tuple]:
    return [(r.faithfulness, [(c.claim, c.kind, c.support) for c in r.claims]) for r in results]


def _assert_same(results, expected) -> None:
    """Same claims and kinds; supports and faithfulness equal up to the embeddings' float noise (a text
    embedded in another batch may differ in its last bits)."""
    for got, want in zip(_decisions(results), _decisions(expected), strict=True):
        assert [c[:2] for c in got[1]] == [c[:2] for c in want[1]]
        assert [c[2] for c in got[1]] == pytest.approx([c[2] for c in want[1]], abs=2e-6)
        assert got[0] == pytest.approx(want[0], abs=2e-6)


class TokenisingEmbedder(RecordingEmbedder):
    """A recording embedder that shows the scorer MiniLM's tokenizer, as the real one does."""

    @property
    def sentence_transformer(self) -> Any:
        return self.inner.sentence_transformer


def test_a_batch_scores_as_one_answer_at_a_time_embedding_each_text_once_by_length(minilm) -> None:
    one_at_a_time = [GroundednessScorer(minilm).score(*item) for item in ITEMS]
    recording = TokenisingEmbedder(minilm)
    batched = GroundednessScorer(recording, embed_batch=4, embed_tokens=40).score_many(ITEMS)
    texts = [t for call in recording.calls for t in call]
    tokens = [len(ids) for ids in minilm.sentence_transformer.tokenizer(texts)["input_ids"]]
    assert len(recording.calls) > 1 and all(len(call) <= 4 for call in recording.calls)
    assert all(len(call) * tokens[texts.index(call[-1])] <= 40 for call in recording.calls if len(call) > 1)
    assert len(texts) == len(set(texts))  # each claim and candidate sentence embedded once
    assert tokens == sorted(tokens)  # like lengths in MiniLM tokens batched together
    assert "Here is what the documents say." not in texts
    _assert_same(batched, one_at_a_time)
    threshold = GroundednessScorer(minilm).model.faithfulness_threshold
    assert batched[0].faithfulness >= threshold > batched[1].faithfulness  # verbatim; a number changed
    assert batched[-1].faithfulness == 1.0 and not batched[-1].claims[0].counted


def test_a_claim_that_is_a_context_sentence_word_for_word_is_not_embedded(minilm) -> None:
    recording = TokenisingEmbedder(minilm)
    scorer = GroundednessScorer(recording)
    claim = "Trips must be approved by your manager before booking."
    result = scorer.score_many([(claim, TRAVEL, "")])[0]
    assert recording.calls == [] and result.claims[0].features["semantic"] == 1.0
    features = claim_evidence(claim, ContextIndex.build(TRAVEL)).features
    vector = minilm.embed([claim], kind="passage")[0]  # what embedding it would have given: cosine 1
    features["semantic"] = min(float(vector @ vector), 1.0)
    assert result.faithfulness == pytest.approx(scorer.model.support(features), abs=1e-6)


def test_seen_texts_are_not_embedded_again_and_the_cache_stays_bounded(minilm) -> None:
    recording = RecordingEmbedder(minilm)
    scorer = GroundednessScorer(recording, cache_size=3)
    first = scorer.score_many(ITEMS, batch_size=2)  # batches need more texts than the cache holds
    assert len(recording.calls) == 2 and len(scorer._cache) == 3  # the last batch has nothing to embed
    kept = list(scorer._cache)
    again = scorer.score_many(ITEMS[3:4])
    assert len(recording.calls) == 3 and not set(kept) & set(recording.calls[-1])  # only the evicted ones
    _assert_same(again, first[3:4])
    unbounded = GroundednessScorer(recording)
    once = unbounded.score_many(ITEMS)
    calls = len(recording.calls)
    assert _decisions(unbounded.score_many(ITEMS)) == _decisions(once)  # the same vectors, bit for bit
    assert len(recording.calls) == calls  # everything was cached


def test_a_context_is_prepared_once_for_the_answers_over_it(minilm) -> None:
    scorer = GroundednessScorer(minilm)
    scorer.score_many(ITEMS[:3])
    assert len(scorer._contexts) == 2  # (TRAVEL, QUESTION) and (TRAVEL, "")


def test_prose_sentences_drop_headings_and_markers_and_short_fragments() -> None:
    text = "# Travel\n\n- Hotels are capped at 180 EUR.\n2) Taxis are paid. Ok then.\n> Quoted rules apply."
    assert prose_sentences(text) == [
        "Hotels are capped at 180 EUR.",
        "Taxis are paid.",
        "Quoted rules apply.",
    ]
    assert LIST_MARKER.sub("", "• Breakfast included") == "Breakfast included"


def test_decisions_call_minilm_only_where_it_can_change_them(minilm) -> None:
    exact = GroundednessScorer(minilm).score_many(ITEMS)
    recording = RecordingEmbedder(minilm)
    scorer = GroundednessScorer(recording)
    decided = scorer.decide_many(ITEMS)
    threshold = scorer.model.faithfulness_threshold
    assert [g.faithfulness < threshold for g in decided] == [g.faithfulness < threshold for g in exact]
    skipped = [i for i, g in enumerate(decided) if not g.exact]
    assert 0 < len(skipped) < len(ITEMS)  # some answers need MiniLM, some do not
    embedded = {t for call in recording.calls for t in call}
    for g, want in zip(decided, exact, strict=True):
        if g.exact:
            assert g.faithfulness == pytest.approx(want.faithfulness, abs=2e-6)
            continue
        low, high = g.faithfulness_range or (2.0, -1.0)
        assert low == g.faithfulness <= want.faithfulness <= high
        assert {c.claim for c in g.unsupported} <= {c.claim for c in want.unsupported}
        for claim, full in zip(g.claims, want.claims, strict=True):
            if claim.support_range is not None:  # not embedded; its range holds the exact support
                assert claim.support_range[0] <= full.support <= claim.support_range[1]
                assert "semantic" not in claim.features and claim.claim not in embedded
    # A threshold inside an open answer's range: its claims are embedded until the decision is known.
    first = skipped[0]
    low, high = decided[first].faithfulness_range or (0.0, 0.0)
    for threshold in (low + (high - low) / 3, high - (high - low) / 3):
        again = GroundednessScorer(minilm).decide_many(ITEMS[first : first + 1], threshold)[0]
        assert (again.faithfulness < threshold) == (exact[first].faithfulness < threshold)
