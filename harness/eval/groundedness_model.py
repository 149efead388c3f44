"""The small learned model behind the offline groundedness scorer, stored as versioned JSON in the package.

A logistic regression over standardised per-claim features
(:data:`harness.eval.groundedness_features.FEATURES`) gives each claim a probability of being unsupported;
``support = 1 - p``. The answer's faithfulness is a robust aggregate of the supports of its counted claims
(``min_weight * min + (1 - min_weight) * mean``), so a longer answer made of supported claims scores as well
as a short one, and one unsupported claim lowers it.

The JSON records the training data (files, counts, sha256), the thresholds chosen on dev data, and the
*calibration domain*: the answer and context lengths the model saw, which each run is checked against
(:mod:`harness.eval.groundedness_domain`). ``python -m harness.eval.train_groundedness`` re-trains it
reproducibly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import ConfigError

MODELS_DIR = Path(__file__).resolve().parent / "models"
SHIPPED_MODEL = MODELS_DIR / "groundedness_v1.json"


class CalibrationDomain(BaseModel):
    """What the model was calibrated on: ranges (1st to 99th percentile) of answer and context lengths."""

    model_config = ConfigDict(extra="forbid")

    answer_words: tuple[int, int]
    answer_claims: tuple[int, int]
    context_words: tuple[int, int]
    sources: list[str] = Field(default_factory=list, description="What kinds of text it was calibrated on.")


class TrainingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    sha256: str
    answers: int
    claims: int
    split: str


class ClaimModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "groundedness"
    version: str
    kind: str = "logistic_regression"
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    claim_threshold: float = Field(
        ge=0.0, le=1.0, description="A claim with support below this is unsupported."
    )
    min_weight: float = Field(
        ge=0.0, le=1.0, description="faithfulness = w * min + (1 - w) * mean of supports."
    )
    faithfulness_threshold: float = Field(ge=0.0, le=1.0, description="Answers below this are unsupported.")
    domain: CalibrationDomain
    training: list[TrainingFile] = Field(default_factory=list)
    seed: int = 0
    figures: dict[str, object] = Field(
        default_factory=dict, description="Dev and held-out figures at training."
    )

    @model_validator(mode="after")
    def _same_lengths(self) -> ClaimModel:
        if not len(self.features) == len(self.mean) == len(self.scale) == len(self.coef):
            raise ValueError("features, mean, scale and coef must have the same length")
        return self

    def unsupported_probability(self, features: Mapping[str, float]) -> float:
        z = self.intercept
        for name, mu, sd, w in zip(self.features, self.mean, self.scale, self.coef, strict=False):
            z += w * (features[name] - mu) / sd
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def support(self, features: Mapping[str, float]) -> float:
        return 1.0 - self.unsupported_probability(features)

    def support_range(
        self, features: Mapping[str, float], feature: str, low: float, high: float
    ) -> tuple[float, float]:
        """The lowest and highest support over any value of ``feature`` in ``[low, high]``, the other features
        fixed: the logistic model is monotone in each feature, so both are reached at the range's ends."""
        ends = self.support({**features, feature: low}), self.support({**features, feature: high})
        return min(ends), max(ends)

    def aggregate(self, supports: Sequence[float]) -> float:
        """The answer's faithfulness from its counted claims' supports (1.0 when nothing counts)."""
        if not supports:
            return 1.0
        return self.min_weight * min(supports) + (1.0 - self.min_weight) * sum(supports) / len(supports)


def load_model(path: Path) -> ClaimModel:
    try:
        return ClaimModel.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: groundedness model not found") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a valid groundedness model: {exc}") from None


@lru_cache(maxsize=1)
def shipped_model() -> ClaimModel:
    return load_model(SHIPPED_MODEL)


__all__ = ["SHIPPED_MODEL", "CalibrationDomain", "ClaimModel", "TrainingFile", "load_model", "shipped_model"]
