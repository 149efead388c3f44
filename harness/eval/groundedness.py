"""Groundedness: is each claim of an answer supported by the retrieved passages? Decided per claim, aggregated
without penalising length.

An answer is split into claims (:func:`harness.eval.groundedness_features.split_claims`). Each claim gets a
kind: ``fact`` claims are scored; generic discourse, content-free hedges and restatements of the question are
listed but do not count against the answer. Two backends, chosen by ``hallucination.backend`` through
:data:`GROUNDEDNESS`:

- ``offline`` (default, :class:`GroundednessScorer`): lexical features of each claim against the context
  (coverage, best-sentence overlap, ordered word pairs, numbers, dates and names absent from the context,
  negation and antonym mismatches, names that never occur together) plus the MiniLM cosine with its best
  candidate sentences, combined by a small logistic regression stored as JSON in the package
  (:mod:`harness.eval.groundedness_model`);
- ``nli`` (:mod:`harness.eval.groundedness_nli`): any Hugging Face sequence-classification checkpoint from a
  local path (HHEM, MiniCheck, a cross-encoder NLI model): a claim's support is its entailment probability.

The answer's ``faithfulness`` (0..1, higher = more grounded) is ``w * min + (1 - w) * mean`` of its counted
claims' supports (``w`` chosen on dev data): appending supported claims never lowers it much, one unsupported
claim does. Every step is deterministic: the same inputs give the same scores, bit for bit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field

from harness.eval.groundedness_features import (
    ClaimEvidence,
    ClaimKind,
    ContextIndex,
    claim_evidence,
    split_claims,
)
from harness.eval.groundedness_model import ClaimModel, load_model, shipped_model
from harness.pipeline.protocols import Embedder
from harness.pipeline.vector_cache import VectorCache
from harness.registry import BuildContext, Registry
from harness.text import content_words

_CONTEXTS_KEPT = 64  # prepared contexts kept for the next answers (HaluEval: two answers per context)
_SEMANTIC_RANGE = (0.0, 1.0)  # the semantic feature is a cosine clipped to [0, 1]
_Item = tuple[str, Sequence[str], str]
_Evidence = list[tuple[list[ClaimEvidence], ContextIndex]]


class ClaimSupport(BaseModel):
    claim: str
    kind: ClaimKind = "fact"
    counted: bool = True
    support: float
    support_range: tuple[float, float] | None = Field(
        None,
        description="Only when the semantic feature was not computed (GroundednessScorer.decide_many): the "
        "support for any value of it; ``support`` is then the low end.",
    )
    novel_terms: list[str] = []
    best_sentence: str = ""
    features: dict[str, float] = {}


class Groundedness(BaseModel):
    faithfulness: float
    claims: list[ClaimSupport]
    unsupported: list[ClaimSupport]
    exact: bool = Field(
        True,
        description="False when some claims' semantic feature was skipped because the decision could not "
        "depend on it (GroundednessScorer.decide_many): ``faithfulness`` is then the low end of "
        "``faithfulness_range``, and ``unsupported`` lists the claims unsupported for any skipped value.",
    )
    faithfulness_range: tuple[float, float] | None = None


class ScoresGroundedness(Protocol):
    def score(self, answer: str, passages: Sequence[str], question: str = "") -> Groundedness: ...

    def score_many(
        self, items: Sequence[tuple[str, Sequence[str], str]], batch_size: int = 64
    ) -> list[Groundedness]:
        """:meth:`score` of each ``(answer, passages, question)``, in order."""
        ...

    def decide_many(self, items: Sequence[_Item], threshold: float | None = None) -> list[Groundedness]:
        """The same decisions against ``threshold`` as :meth:`score_many`, computing only what they need
        (results with ``exact`` False carry ranges instead of exact scores)."""
        ...


class GroundednessScorer:
    """The offline backend. ``embedder`` is MiniLM (the pipeline's default embedder): the model was trained on
    its cosines. ``model`` defaults to the shipped JSON; ``claim_threshold`` to the model's.

    Speed (MiniLM's matrix products are nearly all of it; the lexical features cost about a millisecond an
    answer): every text is embedded once (claims and passage sentences, kept in an LRU cache of
    ``cache_size`` vectors, as passages recur across questions and claims), only each claim's
    ``n_candidates`` best sentences by lexical overlap are embedded, a claim that is one of its candidate
    sentences word for word is not embedded at all (its cosine is 1), and :meth:`score_many` embeds the
    claims and sentences of a whole batch of answers together, sorted by their length in MiniLM tokens, in
    calls of at most ``embed_batch`` texts and ``embed_tokens`` padded tokens (a call is padded to its
    longest text; sorted by characters in calls of 16, HaluEval's calls computed 43% more tokens than they
    held, sorted by tokens 4-8%; calls of about 512 tokens keep the model's activations in cache). A context
    (passages and question) is split and indexed once per batch and kept for the next answer over the same
    context."""

    def __init__(
        self,
        embedder: Embedder,
        claim_threshold: float | None = None,
        cache_size: int = 50_000,
        model: ClaimModel | None = None,
        n_candidates: int = 2,
        embed_batch: int = 64,
        embed_tokens: int = 512,
    ) -> None:
        self.embedder = embedder
        self.embed_batch = embed_batch
        self.embed_tokens = embed_tokens
        minilm = getattr(embedder, "sentence_transformer", None)  # its tokenizer, to sort by tokens
        self._tokenizer = getattr(minilm, "tokenizer", None)
        self._max_tokens = getattr(minilm, "max_seq_length", None)
        self.model = model or shipped_model()
        self.claim_threshold = self.model.claim_threshold if claim_threshold is None else claim_threshold
        self.cache_size = cache_size
        self.n_candidates = n_candidates
        self._cache = VectorCache(cache_size)
        self._contexts: OrderedDict[tuple[tuple[str, ...], str], ContextIndex] = OrderedDict()

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` (rows in order); the ones not cached are embedded, shortest first."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return self._cache.get_or_compute(texts, self._embed_sorted)

    def _embed_sorted(self, texts: list[str]) -> np.ndarray:
        if len(texts) <= self.embed_batch and len(texts) * (max(map(len, texts)) + 2) <= self.embed_tokens:
            # One call whatever their order: a token covers at least one character (plus 2 special tokens),
            # so tokenising to sort them (a guard's few texts per answer) would cost more than it saves.
            return np.asarray(self.embedder.embed(texts, kind="passage"))
        rows: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(texts)
        for chunk in _length_batches(self._lengths(texts), self.embed_batch, self.embed_tokens):
            for i, vector in zip(
                chunk, self.embedder.embed([texts[i] for i in chunk], kind="passage"), strict=True
            ):
                rows[i] = vector
        return np.stack(rows)

    def _lengths(self, texts: list[str]) -> list[int]:
        """Each text's length in the embedder's tokens as the model reads it (special tokens included,
        truncated at its maximum: what a call is padded to), or in words plus 2 without a tokenizer."""
        if self._tokenizer is None:
            return [len(t.split()) + 2 for t in texts]
        encoded = self._tokenizer(texts, truncation=True, max_length=self._max_tokens)
        return [len(ids) for ids in encoded["input_ids"]]

    def _context(self, passages: Sequence[str], question: str) -> ContextIndex:
        key = (tuple(passages), question)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = ContextIndex.build(list(passages), question)
            if len(self._contexts) > _CONTEXTS_KEPT:
                self._contexts.popitem(last=False)
        else:
            self._contexts.move_to_end(key)
        return ctx

    def evidence_many(
        self, items: Sequence[tuple[str, Sequence[str], str]]
    ) -> list[tuple[list[ClaimEvidence], ContextIndex]]:
        """Every claim's features, the semantic one included (what the model and its training read), for a
        batch of ``(answer, passages, question)``: the claims and candidate sentences the batch has not seen
        are embedded in one call."""
        batch = self._lexical(items)
        self._embed_semantic([(e, ctx) for found, ctx in batch for e in _embeddable(found, ctx)])
        return batch

    def _lexical(self, items: Sequence[_Item]) -> _Evidence:
        """Every claim's features but the semantic one (left at 0)."""
        batch = []
        for answer, passages, question in items:
            ctx = self._context(passages, question)
            batch.append(([claim_evidence(c, ctx, self.n_candidates) for c in split_claims(answer)], ctx))
        return batch

    def _embed_semantic(self, facts: Sequence[tuple[ClaimEvidence, ContextIndex]]) -> None:
        """Fill the semantic feature of ``facts``: their claims and candidate sentences not seen yet are
        embedded in one call."""
        facts = [(e, ctx) for e, ctx in facts if not _verbatim(e, ctx)]
        if facts:
            texts = [e.claim for e, _ in facts] + [ctx.sentences[i] for e, ctx in facts for i in e.candidates]
            vectors = self._vectors(texts)
            claims, sentences = vectors[: len(facts)], vectors[len(facts) :]
            offset = 0
            for i, (e, _) in enumerate(facts):
                k = len(e.candidates)
                cosines = sentences[offset : offset + k] @ claims[i]
                e.features["semantic"] = float(np.clip(cosines.max(), *_SEMANTIC_RANGE))
                offset += k

    def evidence(
        self, answer: str, passages: Sequence[str], question: str = ""
    ) -> tuple[list[ClaimEvidence], ContextIndex]:
        """:meth:`evidence_many` of one answer."""
        return self.evidence_many([(answer, passages, question)])[0]

    def score_many(
        self, items: Sequence[tuple[str, Sequence[str], str]], batch_size: int = 1024
    ) -> list[Groundedness]:
        """:meth:`score` of each ``(answer, passages, question)``, ``batch_size`` answers' texts sorted and
        embedded together: the same scores as one at a time, faster. The more texts sorted together, the less
        padding (HaluEval dev's 402 answers: 23% of the computed tokens were padding in pools of 64 answers,
        4% in one pool)."""
        out: list[Groundedness] = []
        for start in range(0, len(items), batch_size):
            out += [self._decide(*e) for e in self.evidence_many(items[start : start + batch_size])]
        return out

    def score(self, answer: str, passages: Sequence[str], question: str = "") -> Groundedness:
        return self._decide(*self.evidence(answer, passages, question))

    def decide_many(self, items: Sequence[_Item], threshold: float | None = None) -> list[Groundedness]:
        """Each answer's decision (``faithfulness < threshold``, default the model's), identical to
        :meth:`score_many`'s, with MiniLM called only where a claim's semantic feature can change it.

        The support of a claim is monotone in its semantic feature (a cosine clipped to [0, 1]), and the
        faithfulness is monotone in each support, so the lexical features alone bound each answer's
        faithfulness. While an answer's bounds straddle the threshold, the semantic feature of its claim with
        the widest support range is computed (one embedding call per round for all the answers still open).
        A result with a skipped claim has ``exact`` False: its ``faithfulness`` is the low end of
        ``faithfulness_range``, so it is not a score to average or rank by; use :meth:`score_many` for those
        (a run's reported faithfulness, calibration, AUROC)."""
        threshold = self.model.faithfulness_threshold if threshold is None else threshold
        batch = self._lexical(items)
        skipped = [{id(e): e for e in _embeddable(found, ctx)} for found, ctx in batch]
        while True:
            picks = []
            for (found, ctx), open_claims in zip(batch, skipped, strict=True):
                low, high = self._faithfulness_range(found, open_claims)
                if open_claims and (low < threshold) != (high < threshold):
                    widest = max(open_claims.values(), key=self._width)
                    picks.append((open_claims.pop(id(widest)), ctx))
            if not picks:
                break
            self._embed_semantic(picks)
        return [self._decide(*pair, open_claims) for pair, open_claims in zip(batch, skipped, strict=True)]

    def _range(self, e: ClaimEvidence, skipped: bool = True) -> tuple[float, float]:
        """A counted claim's support, rounded as reported: a range when its semantic feature is skipped."""
        if not skipped:
            support = round(self.model.support(e.features), 6)
            return support, support
        low, high = self.model.support_range(e.features, "semantic", *_SEMANTIC_RANGE)
        return round(low, 6), round(high, 6)

    def _width(self, e: ClaimEvidence) -> float:
        low, high = self._range(e)
        return high - low

    def _faithfulness_range(
        self, found: list[ClaimEvidence], skipped: dict[int, ClaimEvidence]
    ) -> tuple[float, float]:
        ranges = [self._range(e, id(e) in skipped) for e in found if e.kind == "fact"]
        low, high = (self.model.aggregate([r[end] for r in ranges]) for end in (0, 1))
        return round(low, 6), round(high, 6)

    def _decide(
        self,
        found: list[ClaimEvidence],
        ctx: ContextIndex,
        skipped: dict[int, ClaimEvidence] | None = None,
    ) -> Groundedness:
        skipped = skipped or {}
        claims = []
        for e in found:
            counted = e.kind == "fact"
            low, high = self._range(e, id(e) in skipped) if counted else (1.0, 1.0)
            features = {k: round(v, 6) for k, v in e.features.items()}
            if id(e) in skipped:
                del features["semantic"]  # not computed
            claims.append(
                ClaimSupport(
                    claim=e.claim,
                    kind=e.kind,
                    counted=counted,
                    support=low,
                    support_range=(low, high) if id(e) in skipped else None,
                    novel_terms=e.novel_terms,
                    best_sentence=ctx.sentences[e.candidates[0]],
                    features=features,
                )
            )
        facts = [c for c in claims if c.counted]
        low = self.model.aggregate([c.support for c in facts])
        high = self.model.aggregate([_high(c) for c in facts])
        spread = (round(low, 6), round(high, 6)) if skipped else None
        return _result(claims, low, self.claim_threshold, spread)


def _embeddable(found: list[ClaimEvidence], ctx: ContextIndex) -> list[ClaimEvidence]:
    """The claims whose semantic feature is computed: counted claims, against a context with sentences."""
    return [e for e in found if e.kind == "fact"] if any(ctx.sentences) else []


def _verbatim(e: ClaimEvidence, ctx: ContextIndex) -> bool:
    """Whether the claim is one of its candidate sentences word for word; if so its semantic feature is set to
    1.0 without embedding anything: the same text has the same vector, its cosine with itself is 1 up to float
    rounding (at most 1.2e-7 below) and the feature is clipped at 1, so no other candidate can exceed it."""
    if any(ctx.sentences[i] == e.claim for i in e.candidates):
        e.features["semantic"] = _SEMANTIC_RANGE[1]
        return True
    return False


def _length_batches(lengths: list[int], most: int, tokens: int) -> list[list[int]]:
    """Indices of ``lengths`` shortest first, in runs of at most ``most`` indices whose count times the
    longest length stays within ``tokens`` (one index alone may exceed it)."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: (lengths[i], i)):
        if batches and len(batches[-1]) < most and (len(batches[-1]) + 1) * lengths[i] <= tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _high(claim: ClaimSupport) -> float:
    return claim.support if claim.support_range is None else claim.support_range[1]


def _result(
    claims: list[ClaimSupport],
    faithfulness: float,
    claim_threshold: float,
    faithfulness_range: tuple[float, float] | None = None,
) -> Groundedness:
    """``faithfulness_range`` when some claims' semantic feature was skipped (``faithfulness`` is its low
    end); a claim is then unsupported only if it is whatever the skipped value is."""
    return Groundedness(
        faithfulness=round(faithfulness, 6),
        claims=claims,
        unsupported=[c for c in claims if c.counted and _high(c) < claim_threshold],
        exact=faithfulness_range is None,
        faithfulness_range=faithfulness_range,
    )


def answer_stats(answer: str) -> tuple[int, int]:
    """(content words, claims) of an answer: what the calibration domain is stated in."""
    return len(content_words(answer)), len(split_claims(answer))


# --- backends -----------------------------------------------------------------------------------------------

GROUNDEDNESS: Registry[Any, ScoresGroundedness] = Registry("groundedness")


def _minilm(embedder: Any, log: Any) -> Embedder:
    """The offline model's semantic feature was trained on MiniLM cosines: use the pipeline's embedder when
    it is the default MiniLM, else load MiniLM for the scorer."""
    config = getattr(embedder, "config", None)
    if embedder is not None and getattr(config, "model", None) == "default":
        return embedder  # type: ignore[no-any-return]
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.pipeline.embedders import EMBEDDERS

    log("groundedness: loading the default MiniLM embedder (the offline scorer is calibrated on it)")
    return EMBEDDERS.build(SentenceTransformersEmbedderConfig())  # type: ignore[no-any-return]


@GROUNDEDNESS.register("offline")
def _offline(config: Any, *, ctx: BuildContext) -> GroundednessScorer:
    model = load_model(config.model_path) if config.model_path is not None else shipped_model()
    return GroundednessScorer(
        _minilm(ctx.embedder, ctx.log), claim_threshold=config.claim_threshold, model=model
    )


@GROUNDEDNESS.register("nli")
def _nli(config: Any, *, ctx: BuildContext) -> ScoresGroundedness:
    from harness.eval.groundedness_nli import NliGroundednessScorer

    return NliGroundednessScorer.from_config(config)


def build_groundedness(config: Any, embedder: Any = None, log: Any = None) -> ScoresGroundedness:
    """The groundedness scorer a ``HallucinationConfig`` asks for."""
    return GROUNDEDNESS.build(config, BuildContext(embedder=embedder, **({"log": log} if log else {})))


__all__ = [
    "GROUNDEDNESS",
    "ClaimSupport",
    "Groundedness",
    "GroundednessScorer",
    "ScoresGroundedness",
    "answer_stats",
    "build_groundedness",
    "content_words",
    "split_claims",
]
