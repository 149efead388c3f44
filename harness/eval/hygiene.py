"""Golden-set hygiene: duplicate and near-duplicate questions (a leak between what is tuned on and what is
tested), references that no corpus document supports, and items whose reference document does not exist."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from harness.golden import GoldenExample
from harness.pipeline.documents import Document
from harness.pipeline.protocols import Embedder

NEAR_DUPLICATE_COSINE = 0.92
UNSUPPORTED_REFERENCE = 0.5


class HygieneWarning(BaseModel):
    kind: str  # duplicate | near_duplicate | missing_document | unsupported_reference
    item_id: str
    detail: str


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def check_golden_set(
    examples: Sequence[GoldenExample], documents: Sequence[Document], embedder: Embedder, groundedness: object
) -> list[HygieneWarning]:
    warnings: list[HygieneWarning] = []
    seen: dict[str, str] = {}
    for ex in examples:
        key = _norm(ex.user_input)
        if key in seen:
            warnings.append(
                HygieneWarning(kind="duplicate", item_id=ex.id, detail=f"same question as {seen[key]}")
            )
        seen.setdefault(key, ex.id)
    vectors = embedder.embed([ex.user_input for ex in examples], kind="query")
    sims = vectors @ vectors.T
    for i, j in zip(*(idx.tolist() for idx in np.triu_indices(len(examples), k=1)), strict=True):
        if sims[i, j] >= NEAR_DUPLICATE_COSINE and _norm(examples[i].user_input) != _norm(
            examples[j].user_input
        ):
            warnings.append(
                HygieneWarning(
                    kind="near_duplicate",
                    item_id=examples[j].id,
                    detail=f"cosine {sims[i, j]:.3f} with {examples[i].id}",
                )
            )
    docs = {d.doc_id: d for d in documents}
    for ex in examples:
        missing = [d for d in ex.reference_doc_ids if d not in docs]
        if missing:
            warnings.append(
                HygieneWarning(
                    kind="missing_document",
                    item_id=ex.id,
                    detail=f"reference documents not in the corpus: {missing}",
                )
            )
        if ex.answerable and ex.reference:
            sources = [docs[d].text for d in ex.reference_doc_ids if d in docs] or list(ex.reference_contexts)
            if sources:
                score = groundedness.score(ex.reference, sources, ex.user_input).faithfulness  # type: ignore[attr-defined]
                if score < UNSUPPORTED_REFERENCE:
                    warnings.append(
                        HygieneWarning(
                            kind="unsupported_reference",
                            item_id=ex.id,
                            detail=f"reference faithfulness {score:.2f} against its documents",
                        )
                    )
    return warnings


__all__ = ["HygieneWarning", "check_golden_set"]
