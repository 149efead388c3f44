"""Golden sets: one JSON object per line, with ragas field names where ragas has them.

Each line is a :class:`GoldenExample`::

    {"id": "travel-03", "user_input": "What is the hotel cap in Berlin?", "reference": "180 EUR per night.",
     "reference_doc_ids": ["policies/travel"], "tags": ["policy"]}

``answerable: false`` marks a question the corpus cannot answer; the right behaviour is to decline.
Errors name the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import ConfigError
from harness.jsonl import iter_jsonl


class GoldenExample(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    user_input: str = Field(min_length=1)
    reference: str | None = None
    reference_contexts: list[str] = []
    reference_doc_ids: list[str] = []
    answerable: bool = True
    tags: list[str] = []
    metadata: dict[str, Any] = {}

    @model_validator(mode="after")
    def _answerable_needs_a_reference(self) -> GoldenExample:
        if self.answerable and not (self.reference or self.reference_contexts or self.reference_doc_ids):
            raise ValueError(
                "an answerable item needs at least one of reference, reference_contexts, reference_doc_ids"
            )
        return self


def load_golden_set(path: str | Path) -> list[GoldenExample]:
    """Read a golden-set JSONL file. Blank lines are skipped; ids default to ``line-N`` and must be unique."""
    path = Path(path)
    examples: list[GoldenExample] = []
    seen: dict[str, int] = {}
    for lineno, data in iter_jsonl(path, "golden set"):
        data.setdefault("id", f"line-{lineno}")
        try:
            example = GoldenExample.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"field '{'.'.join(str(p) for p in err['loc']) or '<item>'}': {err['msg']}"
                for err in exc.errors(include_url=False)
            )
            raise ConfigError(f"{path}:{lineno}: {problems}") from exc
        if example.id in seen:
            raise ConfigError(
                f"{path}:{lineno}: field 'id': duplicate id {example.id!r} (first on line {seen[example.id]})"
            )
        seen[example.id] = lineno
        examples.append(example)
    if not examples:
        raise ConfigError(f"{path}: golden set has no items")
    return examples


__all__ = ["GoldenExample", "load_golden_set"]
