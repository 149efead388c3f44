"""Calibrate hallucination detectors on labelled answers, always beside trivial baselines on the same data.

Input (JSONL, one object a line, both kinds may be mixed):

- HaluEval-style pairs: ``{"knowledge", "question", "right_answer", "hallucinated_answer"}`` give two cases;
- single labelled answers: ``{"context": str or [str], "question": optional str, "answer": str,
  "hallucinated": bool, "group": optional str}``; answers sharing a ``group`` are resampled together.

Each detector gives a score per case. Reported per detector, each with a bootstrap 95% interval (items
resampled with replacement, both answers of a pair together): ``auroc``; at the **shipped** threshold (the
default a run uses, chosen on dev data) ``balanced_accuracy_at_shipped_threshold``,
``specificity_at_shipped_threshold`` (share of grounded answers not flagged) and
``sensitivity_at_shipped_threshold``; and, for detectors without a shipped threshold (the baselines), the
in-sample best threshold and a 2-fold held-out balanced accuracy (threshold chosen on one half of the items,
measured on the other), which flatter the baseline rather than the detector.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from harness.errors import ConfigError
from harness.jsonl import iter_jsonl
from harness.results import ResultHeader


class Case(BaseModel):
    item: str
    context: list[str]
    question: str
    answer: str
    hallucinated: bool


class Interval(BaseModel):
    value: float
    low: float
    high: float


class DetectorCalibration(BaseModel):
    """One detector's figures; every ``*_ci`` is the bootstrap 95% interval of the figure beside it."""

    detector: str
    baseline: bool = False
    higher_is_grounded: bool
    auroc: float
    auroc_ci: tuple[float, float]
    shipped_threshold: float | None = None
    balanced_accuracy_at_shipped_threshold: float | None = None
    balanced_accuracy_at_shipped_threshold_ci: tuple[float, float] | None = None
    specificity_at_shipped_threshold: float | None = None
    specificity_at_shipped_threshold_ci: tuple[float, float] | None = None
    sensitivity_at_shipped_threshold: float | None = None
    sensitivity_at_shipped_threshold_ci: tuple[float, float] | None = None
    flagged_rate_at_shipped_threshold: float | None = None
    best_threshold: float
    balanced_accuracy_at_best_threshold: float
    heldout_balanced_accuracy: float
    confusion: dict[
        str, int
    ]  # at the shipped threshold, else the best one; "hallucinated" is the positive class
    ms_per_answer: float


class CalibrationReport(ResultHeader):
    dataset: str
    n_items: int
    n_cases: int
    n_hallucinated: int
    answer_words: tuple[int, int]
    n_boot: int
    detectors: list[DetectorCalibration]


@dataclass(frozen=True)
class Detector:
    name: str
    score: Callable[[Case], float]
    higher_is_grounded: bool  # faithfulness, ROUGE-L precision: yes; answer length: no
    shipped_threshold: float | None = None  # flag when the score is below it (higher_is_grounded) or above it
    baseline: bool = False
    score_many: Callable[[Sequence[Case]], list[float]] | None = None  # all cases at once (batched models)


def _context(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def load_cases(path: Path) -> list[Case]:
    """Cases from HaluEval-style pairs and single labelled answers; a bad line names file, line and field."""
    cases: list[Case] = []
    for lineno, row in iter_jsonl(path, "data set"):
        where = f"{path}:{lineno}"
        if "right_answer" in row or "hallucinated_answer" in row or "knowledge" in row:
            for field in ("knowledge", "question", "right_answer", "hallucinated_answer"):
                if not isinstance(row.get(field), str):
                    raise ConfigError(
                        f"{where}: field '{field}': missing or not a string (HaluEval-style pair)"
                    )
            item = f"line-{lineno}"
            for answer, label in ((row["right_answer"], False), (row["hallucinated_answer"], True)):
                cases.append(
                    Case(
                        item=item,
                        context=[row["knowledge"]],
                        question=row["question"],
                        answer=answer,
                        hallucinated=label,
                    )
                )
            continue
        context = _context(row.get("context"))
        if context is None:
            raise ConfigError(f"{where}: field 'context': missing, or not a string or a list of strings")
        if not isinstance(row.get("answer"), str):
            raise ConfigError(f"{where}: field 'answer': missing or not a string")
        if not isinstance(row.get("hallucinated"), bool):
            raise ConfigError(f"{where}: field 'hallucinated': missing or not true/false")
        question = row.get("question") or ""
        if not isinstance(question, str):
            raise ConfigError(f"{where}: field 'question': not a string")
        group = row.get("group")
        cases.append(
            Case(
                item=str(group) if group is not None else f"line-{lineno}",
                context=context,
                question=question,
                answer=row["answer"],
                hallucinated=row["hallucinated"],
            )
        )
    if not cases:
        raise ConfigError(f"{path}: no items")
    if len({c.hallucinated for c in cases}) < 2:
        raise ConfigError(f"{path}: needs both grounded and hallucinated answers")
    return cases


# --- metrics (hallucination scores: higher = more likely hallucinated) --------------------------------------


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); 0.5 when one class is missing."""
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return 0.5
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def rates(flagged: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(sensitivity, specificity) of ``flagged`` against ``labels``."""
    tpr = (flagged & labels).sum() / max(labels.sum(), 1)
    tnr = (~flagged & ~labels).sum() / max((~labels).sum(), 1)
    return float(tpr), float(tnr)


def _balanced_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean(rates(scores >= threshold, labels)))


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The threshold (flag when score >= threshold) maximising balanced accuracy; ties go to the lowest."""
    candidates = np.unique(scores)
    accs = [_balanced_accuracy(scores, labels, t) for t in candidates]
    i = int(np.argmax(accs))
    return float(candidates[i]), float(accs[i])


def bootstrap(
    stat: Callable[[np.ndarray], float], items: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> Interval:
    """``stat(index array)`` on all cases, and its 95% percentile interval with whole items resampled."""
    keys, inverse = np.unique(items, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(keys))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(keys), len(keys))
        values.append(stat(np.concatenate([members[k] for k in pick])))
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(value=stat(np.arange(len(items))), low=float(low), high=float(high))


def calibrate_detector(
    name: str,
    scores: Sequence[float],
    cases: Sequence[Case],
    *,
    higher_is_grounded: bool,
    shipped_threshold: float | None = None,
    baseline: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    ms_per_answer: float = 0.0,
) -> DetectorCalibration:
    raw = np.asarray(scores, dtype=np.float64)
    s = -raw if higher_is_grounded else raw  # hallucination score
    y = np.array([c.hallucinated for c in cases])
    items = np.array([c.item for c in cases])
    threshold, bal = best_threshold(s, y)
    keys = np.unique(items)
    fold_of = {k: i % 2 for i, k in enumerate(keys)}
    folds = np.array([fold_of[i] for i in items])
    heldout = []
    for fold in (0, 1):
        fit, test = folds == fold, folds != fold
        t, _ = best_threshold(s[fit], y[fit])
        heldout.append(_balanced_accuracy(s[test], y[test], t))
    result: dict[str, Any] = {}

    def put(name: str, interval: Interval) -> None:
        result[name], result[f"{name}_ci"] = interval.value, (interval.low, interval.high)

    if shipped_threshold is not None:
        flagged = raw < shipped_threshold if higher_is_grounded else raw > shipped_threshold
        result["shipped_threshold"] = shipped_threshold
        put(
            "balanced_accuracy_at_shipped_threshold",
            bootstrap(lambda ix: float(np.mean(rates(flagged[ix], y[ix]))), items, n_boot, seed),
        )
        put(
            "specificity_at_shipped_threshold",
            bootstrap(lambda ix: rates(flagged[ix], y[ix])[1], items, n_boot, seed),
        )
        put(
            "sensitivity_at_shipped_threshold",
            bootstrap(lambda ix: rates(flagged[ix], y[ix])[0], items, n_boot, seed),
        )
        result["flagged_rate_at_shipped_threshold"] = float(flagged.mean())
    else:
        flagged = s >= threshold
    put("auroc", bootstrap(lambda ix: auroc(s[ix], y[ix]), items, n_boot, seed))
    confusion = {
        "tp": int((flagged & y).sum()),
        "fp": int((flagged & ~y).sum()),
        "tn": int((~flagged & ~y).sum()),
        "fn": int((~flagged & y).sum()),
    }
    return DetectorCalibration(
        detector=name,
        baseline=baseline,
        higher_is_grounded=higher_is_grounded,
        best_threshold=-threshold if higher_is_grounded else threshold,
        balanced_accuracy_at_best_threshold=bal,
        heldout_balanced_accuracy=float(np.mean(heldout)),
        confusion=confusion,
        ms_per_answer=ms_per_answer,
        **result,
    )


def calibrate(
    path: Path,
    detectors: Sequence[Detector],
    header: dict[str, Any],
    n_boot: int = 1000,
    cases: Sequence[Case] | None = None,
) -> CalibrationReport:
    from harness.text import content_words

    cases = list(cases) if cases is not None else load_cases(path)
    results = []
    for d in detectors:
        started = time.perf_counter()
        scores = d.score_many(cases) if d.score_many is not None else [d.score(c) for c in cases]
        ms = (time.perf_counter() - started) * 1e3 / len(cases)
        results.append(
            calibrate_detector(
                d.name,
                scores,
                cases,
                higher_is_grounded=d.higher_is_grounded,
                shipped_threshold=d.shipped_threshold,
                baseline=d.baseline,
                n_boot=n_boot,
                ms_per_answer=ms,
            )
        )
    words = [len(content_words(c.answer)) for c in cases]
    return CalibrationReport(
        **header,
        dataset=str(path),
        n_items=len({c.item for c in cases}),
        n_cases=len(cases),
        n_hallucinated=sum(c.hallucinated for c in cases),
        answer_words=(min(words), max(words)),
        n_boot=n_boot,
        detectors=results,
    )


def default_detectors(
    nli_model: Path | None = None, log: Callable[[str], None] = lambda _m: None
) -> list[Detector]:
    """The shipped groundedness scorer (and an NLI checkpoint, if given), then the trivial baselines: answer
    length in content words, ragas's ROUGE-L precision, string and semantic similarity against the context."""
    from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity

    from harness.config import HallucinationConfig, SentenceTransformersEmbedderConfig
    from harness.eval.answers import ragas_embeddings
    from harness.eval.groundedness import ScoresGroundedness, build_groundedness
    from harness.pipeline.embedders import EMBEDDERS
    from harness.text import content_words

    embedder = EMBEDDERS.build(SentenceTransformersEmbedderConfig())
    config = HallucinationConfig()
    scorer = build_groundedness(config, embedder, log)

    def many(scorer: ScoresGroundedness) -> Callable[[Sequence[Case]], list[float]]:
        return lambda cases: [
            g.faithfulness for g in scorer.score_many([(c.answer, c.context, c.question) for c in cases])
        ]

    detectors = [
        Detector(
            "groundedness (rag-harden offline)",
            lambda c: scorer.score(c.answer, c.context, c.question).faithfulness,
            higher_is_grounded=True,
            shipped_threshold=config.faithfulness_threshold,
            score_many=many(scorer),
        )
    ]
    if nli_model is not None:
        nli = build_groundedness(HallucinationConfig(backend="nli", model_path=nli_model))
        detectors.append(
            Detector(
                f"groundedness (nli: {nli_model.name})",
                lambda c: nli.score(c.answer, c.context, c.question).faithfulness,
                higher_is_grounded=True,
                score_many=many(nli),
            )
        )
    string_sim, rouge = NonLLMStringSimilarity(), RougeScore(rouge_type="rougeL", mode="precision")
    semantic = SemanticSimilarity(embeddings=ragas_embeddings(embedder))

    def ragas(metric: Any) -> Callable[[Case], float]:
        return lambda c: float(metric.score(reference="\n".join(c.context), response=c.answer).value)

    return detectors + [
        Detector(
            "answer length (content words)",
            lambda c: float(len(content_words(c.answer))),
            higher_is_grounded=False,
            baseline=True,
        ),
        Detector("ragas rougeL precision", ragas(rouge), higher_is_grounded=True, baseline=True),
        Detector("ragas string similarity", ragas(string_sim), higher_is_grounded=True, baseline=True),
        Detector("ragas semantic similarity", ragas(semantic), higher_is_grounded=True, baseline=True),
    ]


def _ci(value: float | None, ci: tuple[float, float] | None) -> str:
    return "n/a" if value is None or ci is None else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def render_table(report: CalibrationReport) -> str:
    lines = [
        "| detector | AUROC [95% CI] | shipped threshold | bal. acc. at shipped [95% CI] | "
        "specificity at shipped [95% CI] | best-threshold bal. acc. (in-sample) | held-out bal. acc. | "
        "ms/answer |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in report.detectors:
        shipped = "n/a" if d.shipped_threshold is None else f"{d.shipped_threshold:g}"
        name = f"{d.detector} (baseline)" if d.baseline else d.detector
        lines.append(
            f"| {name} | {_ci(d.auroc, d.auroc_ci)} | {shipped} | "
            f"{_ci(d.balanced_accuracy_at_shipped_threshold, d.balanced_accuracy_at_shipped_threshold_ci)} | "
            f"{_ci(d.specificity_at_shipped_threshold, d.specificity_at_shipped_threshold_ci)} | "
            f"{d.balanced_accuracy_at_best_threshold:.3f} "
            f"(at {d.best_threshold:.3g}) | {d.heldout_balanced_accuracy:.3f} | {d.ms_per_answer:.1f} |"
        )
    lines.append(
        f"\n{report.n_items} items, {report.n_cases} answers ({report.n_hallucinated} hallucinated), "
        f"answers of {report.answer_words[0]}-{report.answer_words[1]} content words; intervals: "
        f"{report.n_boot} bootstrap resamples of the items. Baselines' thresholds are fitted on this data."
    )
    return "\n".join(lines)


__all__ = [
    "CalibrationReport",
    "Case",
    "Detector",
    "DetectorCalibration",
    "Interval",
    "auroc",
    "best_threshold",
    "bootstrap",
    "calibrate",
    "calibrate_detector",
    "default_detectors",
    "load_cases",
    "rates",
    "render_table",
]
