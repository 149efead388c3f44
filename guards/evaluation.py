"""Detector quality of the PII guard on labelled data (presidio-research's synthetic set format).

Each line has ``full_text`` and ``spans`` of ``{entity_type, start_position, end_position}``. Data-set entity
names are mapped to presidio's explicitly (:data:`DATASET_TO_PRESIDIO`); entities mapped to ``None`` are not
scored (presidio has no recognizer for them). Scoring is span-level: a predicted span is a true positive when
it overlaps a gold span of the same (mapped) type; a gold span is recalled when some prediction of its type
overlaps it. F2 weights recall twice as much as precision, as presidio's docs recommend for PII.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.jsonl import iter_jsonl

DATASET_TO_PRESIDIO: dict[str, str | None] = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "LOCATION",
    "GPE": "LOCATION",
    "ORGANIZATION": "ORGANIZATION",
    "DATE_TIME": "DATE_TIME",
    "NRP": "NRP",
    "CREDIT_CARD": "CREDIT_CARD",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "DOMAIN_NAME": "URL",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "AGE": None,
    "TITLE": None,
    "ZIP_CODE": None,
}
STRUCTURED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")


class EntityScore(BaseModel):
    entity: str
    support: int
    predicted: int
    tp_predicted: int
    recalled: int
    precision: float | None
    recall: float | None
    f2: float | None


class DetectorReport(BaseModel):
    dataset: str
    n_texts: int
    entities: list[str]
    mapping: dict[str, str | None]
    per_entity: list[EntityScore]
    overall: EntityScore
    structured: EntityScore
    ms_per_text: float
    config: dict[str, Any]


def _score(entity: str, support: int, predicted: int, tp_predicted: int, recalled: int) -> EntityScore:
    p = tp_predicted / predicted if predicted else None
    r = recalled / support if support else None
    f2 = None
    if p is not None and r is not None and (4 * p + r) > 0:
        f2 = 5 * p * r / (4 * p + r)
    elif r is not None and predicted == 0:
        f2 = 0.0
    return EntityScore(entity=entity, support=support, predicted=predicted, tp_predicted=tp_predicted,
                       recalled=recalled, precision=p, recall=r, f2=f2)


def load_labelled(path: Path) -> list[tuple[str, list[tuple[str, int, int]]]]:
    rows = []
    for lineno, row in iter_jsonl(path, "data set"):
        text = row.get("full_text")
        if not isinstance(text, str):
            from harness.errors import ConfigError

            raise ConfigError(f"{path}:{lineno}: field 'full_text': missing or not a string")
        spans = [(s["entity_type"], int(s["start_position"]), int(s["end_position"])) for s in row.get("spans", [])]
        rows.append((text, spans))
    return rows


def evaluate(guard: Any, path: Path, entities: list[str]) -> DetectorReport:
    """Score ``guard.analyze`` on the data set for the presidio ``entities`` given."""
    data = load_labelled(path)
    support, predicted, tp_pred, recalled = Counter(), Counter(), Counter(), Counter()
    started = time.perf_counter()
    for text, spans in data:
        gold = [(DATASET_TO_PRESIDIO.get(t), s, e) for t, s, e in spans]
        gold = [(t, s, e) for t, s, e in gold if t in entities]
        preds = [(r.entity_type, r.start, r.end) for r in guard.analyze(text) if r.entity_type in entities]
        for t, s, e in gold:
            support[t] += 1
            if any(pt == t and ps < e and s < pe for pt, ps, pe in preds):
                recalled[t] += 1
        for t, s, e in preds:
            predicted[t] += 1
            if any(gt == t and gs < e and s < ge for gt, gs, ge in gold):
                tp_pred[t] += 1
    elapsed_ms = (time.perf_counter() - started) * 1e3
    per_entity = [_score(e, support[e], predicted[e], tp_pred[e], recalled[e]) for e in entities
                  if support[e] or predicted[e]]

    def total(names: list[str] | tuple[str, ...], label: str) -> EntityScore:
        return _score(label, sum(support[n] for n in names), sum(predicted[n] for n in names),
                      sum(tp_pred[n] for n in names), sum(recalled[n] for n in names))

    return DetectorReport(
        dataset=str(path), n_texts=len(data), entities=list(entities), mapping=DATASET_TO_PRESIDIO,
        per_entity=per_entity, overall=total(entities, "overall"),
        structured=total([e for e in STRUCTURED if e in entities], "structured identifiers"),
        ms_per_text=elapsed_ms / max(len(data), 1), config=guard.config.model_dump(mode="json"),
    )


def render_table(report: DetectorReport) -> str:
    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines = ["| entity | support | predicted | precision | recall | F2 |", "|---|---|---|---|---|---|"]
    for s in [*report.per_entity, report.structured, report.overall]:
        lines.append(f"| {s.entity} | {s.support} | {s.predicted} | {fmt(s.precision)} | {fmt(s.recall)} | {fmt(s.f2)} |")
    lines.append(f"\n{report.n_texts} texts, {report.ms_per_text:.1f} ms per text.")
    return "\n".join(lines)


__all__ = ["DATASET_TO_PRESIDIO", "DetectorReport", "EntityScore", "evaluate", "load_labelled", "render_table"]
