"""The grounded prompt (numbered passages, cite like [1], say you don't know) and citation parsing."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from harness.config import PromptConfig
from harness.pipeline.protocols import Passage
from harness.text import cited_numbers

_HEADING_MARK = re.compile(r"(?m)^#{1,6}\s*")


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    doc_id: str
    chunk_id: str
    start: int
    end: int


def format_passages(passages: Sequence[Passage], max_chars: int) -> str:
    """``[n] text`` blocks. Markdown heading marks are dropped and document ids are not shown: small models
    tend to copy such scaffolding instead of answering (measured with SmolLM2-135M on the demo set)."""
    blocks = []
    for p in passages:
        text = _HEADING_MARK.sub("", p.text)
        text = text if len(text) <= max_chars else text[:max_chars].rstrip() + " …"
        blocks.append(f"[{p.number}] {text}")
    return "\n".join(blocks)


def build_messages(question: str, passages: Sequence[Passage], config: PromptConfig) -> list[dict[str, str]]:
    """The system instructions, then the numbered context and the question. Only the first
    ``config.max_passages`` passages are shown when it is set; numbering matches :class:`Passage.number`."""
    shown = (
        [] if config.closed_book else (passages[: config.max_passages] if config.max_passages else passages)
    )
    context = format_passages(shown, config.max_passage_chars) if shown else "(no passages were retrieved)"
    return [
        {"role": "system", "content": config.system},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


def parse_citations(answer: str, passages: Sequence[Passage]) -> list[Citation]:
    """Citations ``[n]`` or ``[n, m]`` in order of first appearance; numbers that match no passage are
    dropped."""
    by_number = {p.number: p for p in passages}
    seen = [n for n in cited_numbers(answer) if n in by_number]
    return [
        Citation(
            number=n,
            doc_id=by_number[n].doc_id,
            chunk_id=by_number[n].chunk_id,
            start=by_number[n].start,
            end=by_number[n].end,
        )
        for n in seen
    ]


__all__ = ["Citation", "build_messages", "format_passages", "parse_citations"]
