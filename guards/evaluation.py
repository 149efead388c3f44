"""Detector quality of the PII guard on labelled data (presidio-research's synthetic set format), with
bootstrap 95% intervals and a trivial baseline scored on the same texts.

Each line has ``full_text`` and ``spans`` of ``{entity_type, start_position, end_position}``. Data-set entity
names are mapped to presidio's explicitly (:data:`DATASET_TO_PRESIDIO`); entities mapped to ``None`` are not
scored (presidio has no recognizer for them). Scoring is span-level: a predicted span is a true positive when
it overlaps a gold span of the same (mapped) type; a gold span is recalled when some prediction of its type
overlaps it. F2 weights recall twice as much as precision, as presidio's docs recommend for PII.

Intervals: texts are resampled with replacement (``n_boot`` times, fixed seed) and every figure is recomputed
on each resample; the interval is the 2.5th to 97.5th percentile. The detector and the baseline are scored on
the same resamples, so ``f2_gain_ci`` (detector minus baseline) is a paired interval.

The baseline (:class:`RegexBaseline`) is a plain list of regular expressions, one per entity, with no model,
no validation and no context: what a team gets from ten minutes with ``re``. A detector that does not beat it
is not worth its latency.

``split``: ``a`` and ``b`` are two halves of the file by template (``template_id`` hashed, so every sentence
of one template is in the same half); tune on one and report the other.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel

from harness.errors import ConfigError
from harness.jsonl import iter_jsonl
from harness.results import ResultHeader, file_hash, new_header

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
Split = Literal["all", "a", "b"]
N_BOOT = 2000
SEED = 0

Labelled = list[tuple[str, list[tuple[str, int, int]]]]


class Detector(Protocol):
    """Anything with presidio's result shape: ``analyze(text)`` -> objects with entity_type, start, end."""

    def analyze(self, text: str) -> list[Any]: ...


class Interval(BaseModel):
    low: float | None
    high: float | None


class EntityScore(BaseModel):
    entity: str
    support: int
    predicted: int
    tp_predicted: int
    recalled: int
    precision: float | None
    recall: float | None
    f2: float | None
    precision_ci: Interval | None = None
    recall_ci: Interval | None = None
    f2_ci: Interval | None = None


class DetectorScores(BaseModel):
    detector: str
    description: str
    per_entity: list[EntityScore]
    overall: EntityScore
    structured: EntityScore
    ms_per_text: float


class DetectorReport(ResultHeader):
    kind: Literal["pii-guard-eval"] = "pii-guard-eval"
    dataset: str
    split: Split
    n_texts: int
    entities: list[str]
    mapping: dict[str, str | None]
    model: str | None
    n_boot: int
    seed: int
    # The guard's headline figures (also in ``detector``), then the baseline's on the same texts.
    f2: float | None
    f2_ci: Interval
    structured_recall: float | None
    structured_recall_ci: Interval
    precision: float | None
    recall: float | None
    f2_gain_ci: Interval
    # The guard's scores at the top level too (the report's earlier layout): overall, structured, per entity.
    overall: EntityScore
    structured: EntityScore
    per_entity: list[EntityScore]
    ms_per_text: float
    detector: DetectorScores
    baseline: DetectorScores
    config: dict[str, Any]


@dataclass(frozen=True)
class Span:
    entity_type: str
    start: int
    end: int


class RegexBaseline:
    """The trivial baseline: one plain regular expression per entity, no model, no checksum, no context."""

    description = (
        "one plain regular expression per entity (no NER, no checksum, no context); PERSON: 2-3 "
        "consecutive capitalised words"
    )
    PATTERNS = {
        "EMAIL_ADDRESS": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
        "PHONE_NUMBER": r"(?<![\w])\+?\(?\d[\d ().-]{5,}\d(?![\w])",
        "CREDIT_CARD": r"\b\d(?:[ -]?\d){12,18}\b",
        "IBAN_CODE": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
        "US_SSN": r"\b\d{3}-\d{2}-\d{4}\b",
        "IP_ADDRESS": r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}\b",
        "PERSON": r"\b[A-Z][a-z]+(?: [A-Z][a-z]+){1,2}\b",
    }

    def __init__(self, entities: list[str]) -> None:
        self.patterns = {e: re.compile(p) for e, p in self.PATTERNS.items() if e in entities}

    def analyze(self, text: str) -> list[Span]:
        out = []
        for entity, pattern in self.patterns.items():
            for m in pattern.finditer(text):
                digits = sum(c.isdigit() for c in m.group())
                if entity == "PHONE_NUMBER" and not 7 <= digits <= 15:
                    continue
                out.append(Span(entity, m.start(), m.end()))
        return out


def in_split(template_id: Any, split: Split) -> bool:
    if split == "all":
        return True
    half = int(hashlib.sha256(str(template_id).encode()).hexdigest(), 16) % 2
    return half == (0 if split == "a" else 1)


def load_labelled(path: Path, split: Split = "all") -> Labelled:
    rows = []
    for lineno, row in iter_jsonl(path, "data set"):
        text = row.get("full_text")
        if not isinstance(text, str):
            raise ConfigError(f"{path}:{lineno}: field 'full_text': missing or not a string")
        try:
            spans = [
                (str(s["entity_type"]), int(s["start_position"]), int(s["end_position"]))
                for s in row.get("spans", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{path}:{lineno}: field 'spans': each needs entity_type, start_position and "
                f"end_position ({exc.__class__.__name__})"
            ) from None
        if in_split(row.get("template_id", lineno), split):
            rows.append((text, spans))
    if not rows:
        raise ConfigError(f"{path}: no labelled texts (split {split!r})")
    return rows


def _counts(detector: Detector, data: Labelled, entities: list[str]) -> tuple[np.ndarray, float]:
    """Per text and entity: support, predicted, true-positive predictions, recalled gold spans."""
    counts: np.ndarray[Any, Any] = np.zeros((len(data), len(entities), 4), dtype=np.int64)
    index = {e: j for j, e in enumerate(entities)}
    started = time.perf_counter()
    for i, (text, spans) in enumerate(data):
        gold = [
            (m, s, e) for t, s, e in spans if (m := DATASET_TO_PRESIDIO.get(t)) is not None and m in index
        ]
        preds = [(r.entity_type, r.start, r.end) for r in detector.analyze(text) if r.entity_type in index]
        for t, s, e in gold:
            counts[i, index[t], 0] += 1
            counts[i, index[t], 3] += any(pt == t and ps < e and s < pe for pt, ps, pe in preds)
        for t, s, e in preds:
            counts[i, index[t], 1] += 1
            counts[i, index[t], 2] += any(gt == t and gs < e and s < ge for gt, gs, ge in gold)
    return counts, (time.perf_counter() - started) * 1e3 / max(len(data), 1)


def _metrics(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F2 from summed counts (..., 4); NaN where undefined."""
    support, predicted, tp, recalled = (sums[..., k].astype(float) for k in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(predicted > 0, tp / predicted, np.nan)
        r = np.where(support > 0, recalled / support, np.nan)
        f2 = np.where((4 * p + r) > 0, 5 * p * r / (4 * p + r), 0.0)
        f2 = np.where(np.isnan(r), np.nan, np.where((predicted == 0) & (support > 0), 0.0, f2))
    return p, r, f2


def _interval(samples: np.ndarray) -> Interval:
    finite = samples[np.isfinite(samples)]
    if finite.size < 0.5 * samples.size:
        return Interval(low=None, high=None)
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return Interval(low=round(float(lo), 4), high=round(float(hi), 4))


def _num(x: Any) -> float | None:
    return None if np.isnan(x) else round(float(x), 4)


def _groups(counts: np.ndarray, entities: list[str]) -> dict[str, np.ndarray]:
    """Summed counts per group (each entity, structured identifiers, overall) along the last-but-one axis."""
    structured = [j for j, e in enumerate(entities) if e in STRUCTURED]
    out = {e: counts[..., j, :] for j, e in enumerate(entities)}
    out["structured identifiers"] = (
        counts[..., structured, :].sum(axis=-2) if structured else counts[..., 0, :] * 0
    )
    out["overall"] = counts.sum(axis=-2)
    return out


def _scores(
    name: str, description: str, counts: np.ndarray, weights: np.ndarray, entities: list[str], ms: float
) -> tuple[DetectorScores, dict[str, np.ndarray]]:
    total = _groups(counts.sum(axis=0), entities)
    boot = _groups(np.einsum("bn,nek->bek", weights, counts), entities)
    scored: dict[str, EntityScore] = {}
    f2_samples = {}
    for group, sums in total.items():
        p, r, f2 = _metrics(sums)
        bp, br, bf2 = _metrics(boot[group])
        f2_samples[group] = bf2
        scored[group] = EntityScore(
            entity=group,
            support=int(sums[0]),
            predicted=int(sums[1]),
            tp_predicted=int(sums[2]),
            recalled=int(sums[3]),
            precision=_num(p),
            recall=_num(r),
            f2=_num(f2),
            precision_ci=_interval(bp),
            recall_ci=_interval(br),
            f2_ci=_interval(bf2),
        )
    per_entity = [scored[e] for e in entities if scored[e].support or scored[e].predicted]
    return DetectorScores(
        detector=name,
        description=description,
        per_entity=per_entity,
        overall=scored["overall"],
        structured=scored["structured identifiers"],
        ms_per_text=round(ms, 2),
    ), f2_samples


def evaluate(
    guard: Any,
    path: Path,
    entities: list[str],
    *,
    split: Split = "all",
    n_boot: int = N_BOOT,
    seed: int = SEED,
    baseline: Detector | None = None,
) -> DetectorReport:
    """Score ``guard.analyze`` and the regex baseline on the data set for the presidio ``entities`` given."""
    data = load_labelled(path, split)
    entities = list(entities)
    base = baseline if baseline is not None else RegexBaseline(entities)
    counts, ms = _counts(guard, data, entities)
    base_counts, base_ms = _counts(base, data, entities)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(data), np.full(len(data), 1.0 / len(data)), size=n_boot).astype(float)
    model = getattr(guard, "model", None)
    detector, det_f2 = _scores(
        f"rag-harden pii guard ({model})" if model else "rag-harden pii guard",
        "presidio + spaCy NER + rag-harden recognizers, shipped thresholds",
        counts,
        weights,
        entities,
        ms,
    )
    base_name = "regex baseline" if baseline is None else type(baseline).__name__
    base_scores, base_f2 = _scores(
        base_name, getattr(base, "description", base_name), base_counts, weights, entities, base_ms
    )
    overall, structured = detector.overall, detector.structured
    return DetectorReport(
        **new_header(file_hash(path)),
        dataset=str(path),
        split=split,
        n_texts=len(data),
        entities=entities,
        mapping=DATASET_TO_PRESIDIO,
        model=model,
        n_boot=n_boot,
        seed=seed,
        f2=overall.f2,
        f2_ci=overall.f2_ci or Interval(low=None, high=None),
        structured_recall=structured.recall,
        structured_recall_ci=structured.recall_ci or Interval(low=None, high=None),
        precision=overall.precision,
        recall=overall.recall,
        f2_gain_ci=_interval(det_f2["overall"] - base_f2["overall"]),
        overall=overall,
        structured=structured,
        per_entity=detector.per_entity,
        ms_per_text=detector.ms_per_text,
        detector=detector,
        baseline=base_scores,
        config=guard.config.model_dump(mode="json"),
    )


def _fmt(v: float | None, ci: Interval | None = None) -> str:
    if v is None:
        return "n/a"
    if ci is None or ci.low is None or ci.high is None:
        return f"{v:.3f}"
    return f"{v:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def render_table(report: DetectorReport) -> str:
    lines = [
        "| detector | entity | support | predicted | precision [95% CI] | recall [95% CI] | F2 [95% CI] |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in (report.detector, report.baseline):
        for s in [*d.per_entity, d.structured, d.overall]:
            lines.append(
                f"| {d.detector} | {s.entity} | {s.support} | {s.predicted} | "
                f"{_fmt(s.precision, s.precision_ci)} | {_fmt(s.recall, s.recall_ci)} | "
                f"{_fmt(s.f2, s.f2_ci)} |"
            )
    gain = report.f2_gain_ci
    lines.append(
        f"\n{report.n_texts} texts (split {report.split}), bootstrap {report.n_boot} resamples of texts. "
        f"F2 {_fmt(report.f2, report.f2_ci)}, structured recall "
        f"{_fmt(report.structured_recall, report.structured_recall_ci)}; F2 gain over the baseline "
        f"[{gain.low}, {gain.high}]. {report.detector.ms_per_text:.1f} ms per text "
        f"(baseline {report.baseline.ms_per_text:.2f} ms)."
    )
    return "\n".join(lines)


__all__ = [
    "DATASET_TO_PRESIDIO",
    "STRUCTURED",
    "Detector",
    "DetectorReport",
    "DetectorScores",
    "EntityScore",
    "Interval",
    "RegexBaseline",
    "evaluate",
    "in_split",
    "load_labelled",
    "render_table",
]
