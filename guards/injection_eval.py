"""``rag-harden guard eval --injection DATA``: detection and false-positive rates of the injection guard on
labelled JSONL, beside a keyword-list baseline on the same data.

Input, one JSON object per line: ``{"text": str, "stage": "query"|"context", "label": 0|1, "source": str?}``.
Output (:class:`InjectionEvalReport`): per detector, ``detection_rate`` and ``false_positive_rate`` overall,
per ``source`` and per ``stage``, each with a 95% bootstrap interval (2,000 resamples, fixed seed), and AUROC
where the detector gives a score. :func:`build_bipia` writes such a JSONL from the BIPIA dev files (attacks
planted at the start, middle and end of clean contexts, the clean contexts, and ordinary questions), with
``position`` and ``task`` fields that the report breaks down too.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from harness.errors import ConfigError
from harness.jsonl import iter_jsonl
from harness.results import ResultHeader, file_hash, new_header

N_BOOT = 2000
SEED = 7
KEYWORDS = (
    "ignore",
    "disregard",
    "forget",
    "instruction",
    "system prompt",
    "jailbreak",
    "pretend",
    "override",
    "developer mode",
    "do anything now",
    "you are now",
    "act as",
)


class Rate(BaseModel):
    value: float | None
    low: float | None
    high: float | None
    n: int
    hits: int


def rate(flags: np.ndarray | Sequence[bool], seed: int = SEED, n_boot: int = N_BOOT) -> Rate:
    """The share of true flags with a percentile bootstrap 95% interval (None when there are no items)."""
    arr = np.asarray(flags, dtype=float)
    if arr.size == 0:
        return Rate(value=None, low=None, high=None, n=0, hits=0)
    rng = np.random.default_rng(seed)
    # Resampling n 0/1 values with replacement draws Binomial(n, p) hits: same bootstrap, no array.
    means = rng.binomial(arr.size, float(arr.mean()), size=n_boot) / arr.size
    lo, hi = np.percentile(means, [2.5, 97.5])
    return Rate(value=float(arr.mean()), low=float(lo), high=float(hi), n=int(arr.size), hits=int(arr.sum()))


def auroc(scores: np.ndarray | Sequence[float], labels: np.ndarray | Sequence[int]) -> float | None:
    """Mann-Whitney AUROC (ties count half); None unless both classes are present."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
    pos, neg = s[y == 1], s[y == 0]
    if not pos.size or not neg.size:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(order.size)
    allv = np.concatenate([pos, neg])[order]
    i = 0
    while i < allv.size:  # average ranks over ties
        j = i
        while j + 1 < allv.size and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


class Row(BaseModel):
    text: str
    stage: str
    label: int
    source: str = "unspecified"
    position: str | None = None
    task: str | None = None


def load_rows(path: Path) -> list[Row]:
    rows = []
    for lineno, raw in iter_jsonl(path, "injection data"):
        where = f"{path}:{lineno}"
        for name in ("text", "stage", "label"):
            if name not in raw:
                raise ConfigError(f"{where}: field '{name}' missing")
        if not isinstance(raw["text"], str):
            raise ConfigError(f"{where}: field 'text' must be a string")
        if raw["stage"] not in ("query", "context"):
            raise ConfigError(f"{where}: field 'stage' must be 'query' or 'context', got {raw['stage']!r}")
        if raw["label"] not in (0, 1) or isinstance(raw["label"], bool):
            raise ConfigError(f"{where}: field 'label' must be 0 or 1, got {raw['label']!r}")
        source = raw.get("source", "unspecified")
        if not isinstance(source, str):
            raise ConfigError(f"{where}: field 'source' must be a string")
        rows.append(
            Row(
                text=raw["text"],
                stage=raw["stage"],
                label=raw["label"],
                source=source or "unspecified",
                position=raw.get("position"),
                task=raw.get("task"),
            )
        )
    if not rows:
        raise ConfigError(f"{path}: no rows")
    return rows


class GroupFigures(BaseModel):
    n_attacks: int
    n_benign: int
    detection_rate: Rate
    false_positive_rate: Rate


class DetectorFigures(BaseModel):
    detector: str
    threshold: dict[str, float] | None
    overall: GroupFigures
    auroc: float | None
    per_stage: dict[str, GroupFigures]
    per_source: dict[str, GroupFigures]
    per_position: dict[str, GroupFigures]
    per_task: dict[str, GroupFigures]
    # Wall and CPU (process_time: not inflated by other processes' load) ms per item, scored once each.
    ms_per_item: float | None = None
    cpu_ms_per_item: float | None = None


class InjectionEvalReport(ResultHeader):
    dataset: str
    n_items: int
    detectors: list[DetectorFigures]
    guard_config: dict[str, Any]


def _figures(flags: np.ndarray, labels: np.ndarray) -> GroupFigures:
    return GroupFigures(
        n_attacks=int((labels == 1).sum()),
        n_benign=int((labels == 0).sum()),
        detection_rate=rate(flags[labels == 1]),
        false_positive_rate=rate(flags[labels == 0]),
    )


def detector_figures(
    name: str,
    rows: Sequence[Row],
    flags: Sequence[bool],
    scores: Sequence[float] | None,
    threshold: dict[str, float] | None = None,
    ms_per_item: float | None = None,
    cpu_ms_per_item: float | None = None,
) -> DetectorFigures:
    f, y = np.asarray(flags, dtype=bool), np.array([r.label for r in rows])

    def split(key: Callable[[Row], str | None]) -> dict[str, GroupFigures]:
        values = sorted({k for r in rows if (k := key(r))})
        return {v: _figures(f[m], y[m]) for v in values for m in [np.array([key(r) == v for r in rows])]}

    return DetectorFigures(
        detector=name,
        threshold=threshold,
        overall=_figures(f, y),
        auroc=auroc(scores, y) if scores is not None else None,
        per_stage=split(lambda r: r.stage),
        per_source=split(lambda r: r.source),
        per_position=split(lambda r: r.position),
        per_task=split(lambda r: r.task),
        ms_per_item=ms_per_item,
        cpu_ms_per_item=cpu_ms_per_item,
    )


_KEYWORDS = re.compile("|".join(re.escape(k) for k in KEYWORDS), re.IGNORECASE)


def keyword_baseline(text: str) -> bool:
    """The trivial baseline: flag any text containing one of :data:`KEYWORDS`."""
    return bool(_KEYWORDS.search(text))


def evaluate(guard: Any, path: Path, guard_config: dict[str, Any]) -> InjectionEvalReport:
    """The guard (anything with ``check(text, stage)``, and ``score(text, stage)`` for AUROC) and the keyword
    baseline on the labelled rows of ``path``. The injection guard's ``score`` right after ``check`` reuses
    the check's scoring, so the time per item is one scoring."""
    rows = load_rows(path)
    flags, scores = [], []
    started, cpu_started = time.perf_counter(), time.process_time()
    for r in rows:
        flags.append(bool(guard.check(r.text, r.stage).findings))
        if hasattr(guard, "score"):
            scores.append(float(guard.score(r.text, r.stage)))
    ms = (time.perf_counter() - started) * 1e3 / len(rows)
    cpu_ms = (time.process_time() - cpu_started) * 1e3 / len(rows)
    threshold = guard.thresholds() if hasattr(guard, "thresholds") else None
    detectors = [
        detector_figures(
            f"injection guard ({guard_config.get('backend', 'patterns')})",
            rows,
            flags,
            scores if scores else None,
            threshold,
            ms,
            cpu_ms,
        ),
        detector_figures("keyword baseline", rows, [keyword_baseline(r.text) for r in rows], None),
    ]
    return InjectionEvalReport(
        **new_header(file_hash(path)),
        dataset=str(path),
        n_items=len(rows),
        detectors=detectors,
        guard_config=guard_config,
    )


def render_table(report: InjectionEvalReport) -> str:
    def fmt(r: Rate) -> str:
        return "-" if r.value is None else f"{r.value:.3f} [{r.low:.3f}, {r.high:.3f}] (n={r.n})"

    lines = [f"{'detector':<34} {'group':<28} {'detection rate':<30} false-positive rate"]
    for d in report.detectors:
        groups = {
            "overall": d.overall,
            **{f"stage={k}": v for k, v in d.per_stage.items()},
            **{f"source={k}": v for k, v in d.per_source.items()},
            **{f"position={k}": v for k, v in d.per_position.items()},
            **{f"task={k}": v for k, v in d.per_task.items()},
        }
        for name, g in groups.items():
            lines.append(
                f"{d.detector:<34} {name:<28} {fmt(g.detection_rate):<30} {fmt(g.false_positive_rate)}"
            )
        if d.auroc is not None:
            lines.append(f"{d.detector:<34} {'AUROC':<28} {d.auroc:.3f}")
    return "\n".join(lines)


def build_bipia(shared: Path, out: Path, per_attack: int = 0, seed: int = SEED) -> int:
    """Write an eval JSONL from the BIPIA dev files under ``shared``: every attack planted at the start,
    middle and end of every compatible clean context (or of ``per_attack`` sampled ones), the clean contexts,
    and their questions as ordinary queries. Returns the number of rows."""
    from guards.injection_data import POSITIONS, Item, compatible, insert

    def read(name: str) -> list[dict[str, Any]]:
        return [row for _, row in iter_jsonl(shared / name, "BIPIA file")]

    attacks = [
        Item(r["text"], 1, "context", "bipia", r["category"], r["kind"])
        for r in read("bipia_dev_attacks.jsonl")
    ]
    contexts = [
        Item(r["context"], 0, "context", "bipia", r["id"], r["task"], {"question": r.get("question", "")})
        for r in read("bipia_dev_contexts.jsonl")
    ]
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for attack in attacks:
        pool = [c for c in contexts if compatible(attack, c)]
        if per_attack:
            pool = rng.sample(pool, min(per_attack, len(pool)))
        for ctx in pool:
            for pos in POSITIONS:
                rows.append(
                    {
                        "text": insert(attack.text, ctx.text, pos, rng),
                        "stage": "context",
                        "label": 1,
                        "source": f"bipia-{ctx.kind}",
                        "position": pos,
                        "task": ctx.kind,
                        "category": attack.group,
                    }
                )
    for ctx in contexts:
        rows.append(
            {
                "text": ctx.text,
                "stage": "context",
                "label": 0,
                "source": f"bipia-{ctx.kind}",
                "task": ctx.kind,
            }
        )
        if ctx.meta["question"].strip():
            rows.append(
                {"text": ctx.meta["question"], "stage": "query", "label": 0, "source": "bipia-question"}
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


__all__ = [
    "KEYWORDS",
    "InjectionEvalReport",
    "Rate",
    "auroc",
    "build_bipia",
    "detector_figures",
    "evaluate",
    "keyword_baseline",
    "load_rows",
    "rate",
    "render_table",
]
