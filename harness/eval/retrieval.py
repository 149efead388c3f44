"""Retrieval metrics against reference documents: hit@k, recall@k and reciprocal rank.

Ranks are chunk ranks (several chunks of one document may be retrieved); a document counts as found at
the rank of its first chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def metric_ks(top_k: int) -> list[int]:
    """The cut-offs reported: 1, 3, 5, 10 and ``top_k``. Cut-offs above ``top_k`` are reported too (a
    retriever
    that returns 1 passage has recall@5 = recall@1), so asserts and baselines stay comparable when top_k
    changes."""
    return sorted({1, 3, 5, 10, top_k})


def retrieval_scores(
    retrieved_doc_ids: Sequence[str], relevant: Iterable[str], ks: Sequence[int]
) -> dict[str, float]:
    relevant = set(relevant)
    if not relevant:
        raise ValueError("retrieval metrics need at least one relevant document id")
    first_rank: dict[str, int] = {}
    for rank, doc_id in enumerate(retrieved_doc_ids, start=1):
        first_rank.setdefault(doc_id, rank)
    found_ranks = sorted(r for d, r in first_rank.items() if d in relevant)
    scores: dict[str, float] = {}
    for k in ks:
        found = sum(1 for r in found_ranks if r <= k)
        scores[f"hit@{k}"] = 1.0 if found else 0.0
        scores[f"recall@{k}"] = found / len(relevant)
    scores["mrr"] = 1.0 / found_ranks[0] if found_ranks else 0.0
    return scores


__all__ = ["metric_ks", "retrieval_scores"]
