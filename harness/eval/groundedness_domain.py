"""The calibration domain of the groundedness detector, checked against a run's answers.

The offline model's JSON records the answer lengths (content words, claims) and context lengths it was
calibrated on. :func:`groundedness_domain_check` states that domain for the report and returns a warning for
each way the run's answers fall outside it: scores there are extrapolations, to be checked with ``rag-harden
calibrate`` on labelled answers like the run's. Pure functions: the same inputs, the same output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.eval.groundedness_features import split_claims
from harness.eval.groundedness_model import CalibrationDomain, load_model, shipped_model
from harness.text import content_words


def domain_warnings(
    domain: CalibrationDomain,
    answer_words: Sequence[int],
    answer_claims: Sequence[int],
    detector: str = "groundedness",
) -> list[str]:
    """Warnings when a run's answers lie outside the lengths the detector was calibrated on (pure)."""
    warnings: list[str] = []
    n = len(answer_words)
    if not n:
        return warnings
    for label, values, (low, high) in (
        ("words", answer_words, domain.answer_words),
        ("claims", answer_claims, domain.answer_claims),
    ):
        above = sum(1 for v in values if v > high)
        below = sum(1 for v in values if v < low)
        if above:
            warnings.append(
                f"{detector}: {above} of {n} answers ({above / n:.0%}) have more than {high} {label}, "
                f"the longest in its calibration domain ({low}-{high} {label}); its scores there "
                "are extrapolated: check them with `rag-harden calibrate` on labelled answers like yours"
            )
        if below:
            warnings.append(
                f"{detector}: {below} of {n} answers ({below / n:.0%}) have fewer than {low} {label}, "
                f"below its calibration domain ({low}-{high} {label})"
            )
    return warnings


def groundedness_domain_check(config: Any, answers: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """(``{detector: domain}`` for the report, warnings) for the answers a run scored for groundedness."""
    if config.backend != "offline":
        return (
            {
                f"groundedness ({config.backend})": {
                    "summary": "a user-supplied model; no calibration domain "
                    "recorded: calibrate it with `rag-harden calibrate`"
                }
            },
            [],
        )
    model = load_model(config.model_path) if config.model_path is not None else shipped_model()
    d = model.domain
    name = f"groundedness (offline {model.version})"
    summary = (
        f"answers of {d.answer_words[0]}-{d.answer_words[1]} content words and {d.answer_claims[0]}-"
        f"{d.answer_claims[1]} claims, contexts of {d.context_words[0]}-{d.context_words[1]} content words "
        f"({'; '.join(d.sources)}); threshold {model.faithfulness_threshold:g}"
    )
    stats = [(len(content_words(a)), len(split_claims(a))) for a in answers]
    warnings = domain_warnings(d, [w for w, _ in stats], [c for _, c in stats], detector=name)
    return {name: {**d.model_dump(mode="json"), "summary": summary}}, warnings


__all__ = ["domain_warnings", "groundedness_domain_check"]
