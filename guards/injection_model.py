"""The learned injection detector: a logistic model per stage over segment features, read from versioned JSON.

``guards/models/injection_v*.json`` (written by ``python -m guards.train_injection``) holds, for the ``query``
and ``context`` stages, the feature weights, the intercept and the threshold chosen on dev data, with the data
it was trained on (counts and sha256) and the cross-validated figures. Scoring needs only the standard
library:
each segment's probability is ``sigmoid(intercept + sum(weight * value))``, and a passage scores the maximum
over its segments and over any decoded payload (base64, hex, percent-encoding, rot13) it carries.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guards.injection_features import Segment, segment_parts
from guards.injection_normalise import decoded_payloads, normalise
from harness.errors import ConfigError

MODEL_DIR = Path(__file__).resolve().parent / "models"
# The version guards.train_injection trains (with the project's request, document and jailbreak sets) and the
# shipped default. v3 (before those sets; it flagged a third of ordinary user requests) stays selectable with
# ``model_path``; docs/detectors_injection.md compares them.
TRAINED_MODEL = MODEL_DIR / "injection_v4.json"
DEFAULT_MODEL = TRAINED_MODEL
V3_MODEL = MODEL_DIR / "injection_v3.json"
FORMAT = "rag-harden/injection-linear/1"


@dataclass(frozen=True)
class LinearModel:
    weights: dict[str, float]
    intercept: float
    threshold: float

    def terms(self, features: dict[str, float]) -> float:
        """The sum of ``weight * value`` over ``features`` in their order: the logit less the intercept."""
        w = self.weights
        return sum(w.get(name, 0.0) * value for name, value in features.items())

    def logit(self, features: dict[str, float]) -> float:
        return self.intercept + self.terms(features)

    def probability(self, features: dict[str, float]) -> float:
        return _sigmoid(self.logit(features))

    def probability_of(self, own_terms: float, relative: dict[str, float]) -> float:
        """:meth:`probability` of a segment's features, its own ones (given as their :meth:`terms`) followed
        by ``relative``: the same sum in the same order, so the same float."""
        w = self.weights
        total = own_terms
        for name, value in relative.items():
            total += w.get(name, 0.0) * value
        return _sigmoid(self.intercept + total)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0


@dataclass(frozen=True)
class SegmentScore:
    segment: Segment
    score: float
    decoded: bool = False


@dataclass(frozen=True)
class PassageScore:
    score: float
    best: SegmentScore | None
    normalised: str


def _probabilities(model: LinearModel, text: str) -> list[tuple[Segment, float]]:
    """Each segment of a normalised passage with its probability (as ``model.probability`` of its
    :func:`segment_features`); a segment's own features are computed once per distinct text and families."""
    own_terms: dict[tuple[str, frozenset[str]], float] = {}
    out = []
    for part in segment_parts(text):
        terms = own_terms.get(part.key)
        if terms is None:
            terms = own_terms[part.key] = model.terms(part.own())
        out.append((part.segment, model.probability_of(terms, part.relative)))
    return out


class InjectionModel:
    """A loaded ``injection_v*.json``: ``score(text, stage)`` gives the passage score and its best segment."""

    def __init__(self, data: dict[str, Any], source: str = "<memory>") -> None:
        if data.get("format") != FORMAT:
            raise ConfigError(
                f"{source}: not an injection model (format {data.get('format')!r}, want {FORMAT!r})"
            )
        try:
            self.models = {
                stage: LinearModel(
                    weights={str(k): float(v) for k, v in m["weights"].items()},
                    intercept=float(m["intercept"]),
                    threshold=float(m["threshold"]),
                )
                for stage, m in data["models"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{source}: malformed injection model: {exc!r}") from exc
        if "context" not in self.models:
            raise ConfigError(f"{source}: injection model needs a 'context' model; has {sorted(self.models)}")
        self.version = str(data.get("version", "unknown"))
        self.data = data

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL) -> InjectionModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: injection model not found") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read injection model: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: injection model must be a JSON object")
        return cls(data, source=str(path))

    def model_for(self, stage: str) -> LinearModel:
        return self.models.get(stage) or self.models["context"]

    def threshold(self, stage: str) -> float:
        return self.model_for(stage).threshold

    def segment_scores(self, text: str, stage: str) -> tuple[str, list[SegmentScore]]:
        model = self.model_for(stage)
        norm = normalise(text)
        out = [SegmentScore(seg, p) for seg, p in _probabilities(model, norm)]
        for payload in decoded_payloads(norm):
            for seg, p in _probabilities(model, normalise(payload)):
                out.append(SegmentScore(Segment(0, len(norm), seg.text), p, decoded=True))
        return norm, out

    def score(self, text: str, stage: str) -> PassageScore:
        norm, scored = self.segment_scores(text, stage)
        best = max(scored, key=lambda s: s.score, default=None)
        return PassageScore(score=best.score if best else 0.0, best=best, normalised=norm)


__all__ = [
    "DEFAULT_MODEL",
    "V3_MODEL",
    "FORMAT",
    "TRAINED_MODEL",
    "InjectionModel",
    "LinearModel",
    "PassageScore",
    "SegmentScore",
]
