"""The grounded prompt (numbered passages, cite like [1], say you don't know) and citation parsing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from harness.config import PromptConfig
from harness.pipeline.protocols import Passage

_CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    doc_id: str
    chunk_id: str
    start: int
    end: int


def format_passages(passages: Sequence[Passage], max_chars: int) -> str:
    blocks = []
    for p in passages:
        text = p.text if len(p.text) <= max_chars else p.text[:max_chars].rstrip() + " …"
        blocks.append(f"[{p.number}] (source: {p.doc_id})\n{text}")
    return "\n\n".join(blocks)


def build_messages(question: str, passages: Sequence[Passage], config: PromptConfig) -> list[dict[str, str]]:
    context = format_passages(passages, config.max_passage_chars) if passages else "(no passages were retrieved)"
    user = (
        f"Passages:\n\n{context}\n\n"
        f"Question: {question}\n\n"
        "Answer in one to three sentences using only the passages above, and cite them like [1]."
    )
    return [{"role": "system", "content": config.system}, {"role": "user", "content": user}]


def parse_citations(answer: str, passages: Sequence[Passage]) -> list[Citation]:
    """Citations ``[n]`` or ``[n, m]`` in order of first appearance; numbers that match no passage are dropped."""
    by_number = {p.number: p for p in passages}
    seen: list[int] = []
    for match in _CITATION.finditer(answer):
        for part in match.group(1).split(","):
            n = int(part)
            if n in by_number and n not in seen:
                seen.append(n)
    return [
        Citation(number=n, doc_id=by_number[n].doc_id, chunk_id=by_number[n].chunk_id,
                 start=by_number[n].start, end=by_number[n].end)
        for n in seen
    ]


__all__ = ["Citation", "build_messages", "format_passages", "parse_citations"]
