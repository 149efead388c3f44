"""Calibrate hallucination detectors on labelled data: HaluEval QA (knowledge, question, right and hallucinated
answers). Every detector gives a hallucination score per (context, question, answer); we report AUROC, the
threshold that maximises balanced accuracy, the balanced accuracy and confusion matrix there, and a held-out
balanced accuracy (threshold chosen on one half of the items, measured on the other, both ways, averaged), which
is the honest estimate for new data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from harness.errors import ConfigError
from harness.jsonl import iter_jsonl


class Case(BaseModel):
    item: int
    context: str
    question: str
    answer: str
    hallucinated: bool


class DetectorCalibration(BaseModel):
    detector: str
    auroc: float
    threshold: float
    balanced_accuracy: float
    heldout_balanced_accuracy: float
    confusion: dict[str, int]  # tp, fp, tn, fn with "hallucinated" as the positive class


class CalibrationReport(BaseModel):
    dataset: str
    n_items: int
    n_cases: int
    detectors: list[DetectorCalibration]
    ms_per_answer: dict[str, float]


def load_halueval(path: Path) -> list[Case]:
    cases = []
    for lineno, row in iter_jsonl(path, "data set"):
        for field in ("knowledge", "question", "right_answer", "hallucinated_answer"):
            if not isinstance(row.get(field), str):
                raise ConfigError(f"{path}:{lineno}: field '{field}': missing or not a string")
        item = len(cases) // 2
        cases.append(Case(item=item, context=row["knowledge"], question=row["question"], answer=row["right_answer"],
                          hallucinated=False))
        cases.append(Case(item=item, context=row["knowledge"], question=row["question"],
                          answer=row["hallucinated_answer"], hallucinated=True))
    if not cases:
        raise ConfigError(f"{path}: no items")
    return cases


def _balanced_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    predicted = scores >= threshold
    tpr = (predicted & labels).sum() / max(labels.sum(), 1)
    tnr = (~predicted & ~labels).sum() / max((~labels).sum(), 1)
    return float((tpr + tnr) / 2)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold (flag when score >= threshold) maximising balanced accuracy; ties go to the lowest."""
    candidates = np.unique(scores)
    accs = [_balanced_accuracy(scores, labels, t) for t in candidates]
    i = int(np.argmax(accs))
    return float(candidates[i]), float(accs[i])


def calibrate_detector(name: str, scores: Sequence[float], cases: Sequence[Case]) -> DetectorCalibration:
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, dtype=np.float64)
    y = np.array([c.hallucinated for c in cases])
    threshold, bal = best_threshold(s, y)
    items = np.array([c.item for c in cases])
    heldout = []
    for fold in (0, 1):
        fit, test = items % 2 == fold, items % 2 != fold
        t, _ = best_threshold(s[fit], y[fit])
        heldout.append(_balanced_accuracy(s[test], y[test], t))
    predicted = s >= threshold
    confusion = {"tp": int((predicted & y).sum()), "fp": int((predicted & ~y).sum()),
                 "tn": int((~predicted & ~y).sum()), "fn": int((~predicted & y).sum())}
    return DetectorCalibration(detector=name, auroc=float(roc_auc_score(y, s)), threshold=threshold,
                               balanced_accuracy=bal, heldout_balanced_accuracy=float(np.mean(heldout)),
                               confusion=confusion)


def calibrate(path: Path, detectors: dict[str, Callable[[Case], float]]) -> CalibrationReport:
    import time

    cases = load_halueval(path)
    results, timings = [], {}
    for name, detect in detectors.items():
        started = time.perf_counter()
        scores = [detect(c) for c in cases]
        timings[name] = (time.perf_counter() - started) * 1e3 / len(cases)
        results.append(calibrate_detector(name, scores, cases))
    return CalibrationReport(dataset=str(path), n_items=len(cases) // 2, n_cases=len(cases), detectors=results,
                             ms_per_answer=timings)


def render_table(report: CalibrationReport) -> str:
    lines = ["| detector | AUROC | threshold | balanced acc. | held-out bal. acc. | tp | fp | tn | fn | ms/answer |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for d in report.detectors:
        c = d.confusion
        lines.append(f"| {d.detector} | {d.auroc:.3f} | {d.threshold:.3f} | {d.balanced_accuracy:.3f} | "
                     f"{d.heldout_balanced_accuracy:.3f} | {c['tp']} | {c['fp']} | {c['tn']} | {c['fn']} | "
                     f"{report.ms_per_answer[d.detector]:.1f} |")
    lines.append(f"\n{report.n_items} items, {report.n_cases} answers (grounded and hallucinated); "
                 "scores are hallucination scores (flag when >= threshold).")
    return "\n".join(lines)


__all__ = ["CalibrationReport", "Case", "DetectorCalibration", "best_threshold", "calibrate", "calibrate_detector",
           "load_halueval", "render_table"]
