"""Re-train the offline groundedness model (harness/eval/models/groundedness_v1.json), reproducibly.

    python -m harness.eval.train_groundedness [--out PATH] [--check]

Data (in the repository, listed in the JSON with counts and sha256):

- ``golden_sets/halueval_qa.jsonl``: the HaluEval QA dev split
  (``../shared/benchmarks/halueval_qa_dev.jsonl``, converted by ``golden_sets/convert_halueval.py``): short
  answers, one grounded and one hallucinated per item;
- ``golden_sets/long_answers.jsonl``: multi-sentence grounded and perturbed answers built by
  ``golden_sets/build_long_answers.py`` over HaluEval knowledge and the demo corpus, with sentence-level
  labels;
- ``golden_sets/llm_answers.jsonl``: project-written news articles, each with one consistent and one
  hallucinated answer in the style of current LLMs (RAGTruth's four hallucination types), the hallucinated
  spans annotated: claims holding a span are unsupported, the others supported.

Splits are by source passage (``group``; a HaluEval item and the long answers over its knowledge share one):
25% of the groups are a **test** split never used for fitting or choosing anything; on the rest, 5-fold
grouped cross-validation gives out-of-fold scores that choose the regularisation, the aggregation weight and
the answer threshold (maximising the mean of the balanced accuracies on the three data sets, so none
dominates); the final model is fitted on all non-test groups. Claim labels: claims of grounded answers are
supported; claims of perturbed sentences that contain the changed words (or the only claim) are unsupported;
for a hallucinated answer without a finer label (HaluEval), only its least supported claim by coverage is used
as unsupported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.eval.calibration import auroc, bootstrap, rates
from harness.eval.groundedness_features import (
    FEATURES,
    ClaimEvidence,
    ContextIndex,
    claim_evidence,
    split_claims,
)
from harness.eval.groundedness_model import SHIPPED_MODEL, CalibrationDomain, ClaimModel, TrainingFile
from harness.text import content_words

REPO = Path(__file__).resolve().parents[2]
HALUEVAL = REPO / "golden_sets" / "halueval_qa.jsonl"
LONG = REPO / "golden_sets" / "long_answers.jsonl"
LLM = REPO / "golden_sets" / "llm_answers.jsonl"
DATA = {"halueval_qa": HALUEVAL, "long_answers": LONG, "llm_answers": LLM}  # data set name -> file
SEED = 0
VERSION = "1.1.0"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
MIN_WEIGHTS = (1.0, 0.75, 0.5)
TOLERANCE = 0.005


@dataclass
class Answer:
    dataset: str
    group: str
    context: list[str]
    question: str
    answer: str
    hallucinated: bool
    sentences: list[dict] | None = None
    spans: list[str] | None = None  # the hallucinated substrings of the answer, where annotated
    claims: list[ClaimEvidence] | None = None
    labels: list[int | None] | None = None  # per claim: 1 unsupported, 0 supported, None unused


def load_answers() -> list[Answer]:
    out = []
    for line in HALUEVAL.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        group = row["reference_doc_ids"][0]
        for answer, label in ((row["reference"], False), (row["metadata"]["hallucinated_answer"], True)):
            out.append(
                Answer("halueval_qa", group, row["reference_contexts"], row["user_input"], answer, label)
            )
    for name in ("long_answers", "llm_answers"):  # single labelled answers, with sentence or span labels
        for line in DATA[name].read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            span = row.get("span")
            out.append(
                Answer(
                    name,
                    row["group"],
                    row["context"],
                    row["question"],
                    row["answer"],
                    row["hallucinated"],
                    sentences=row.get("sentences"),
                    spans=span.split(" || ") if span else None,
                )
            )
    return out


def overlaps(claim: str, span: str) -> bool:
    """The claim holds the annotated span, lies inside it, or shares three consecutive words with it."""
    claim, span = claim.lower(), span.lower()
    if span in claim or claim in span:
        return True
    words = span.split()
    return any(" ".join(words[i : i + 3]) in claim for i in range(max(1, len(words) - 2)))


def _hash(text: str, salt: str) -> int:
    return int(hashlib.sha256((salt + text).encode()).hexdigest(), 16)


def is_test(group: str) -> bool:
    return _hash(group, "test") % 4 == 0


def fold(group: str) -> int:
    return _hash(group, "fold") % 5


def claim_labels(a: Answer) -> list[int | None]:
    claims = a.claims or []
    if not a.hallucinated:
        return [0] * len(claims)
    if a.spans:  # annotated spans: the claims holding one are unsupported, the rest supported
        marked = [1 if any(overlaps(c.claim, s) for s in a.spans) else 0 for c in claims]
        if any(marked):
            return marked  # type: ignore[return-value]
    if a.sentences is not None:
        labels: list[int | None] = []
        for s in a.sentences:
            parts = split_claims(s["text"])
            if not s["hallucinated"]:
                labels += [0] * len(parts)
                continue
            marker = [m.lower() for m in s.get("marker", [])]
            hits = [any(m in p.lower() for m in marker) for p in parts] if marker else [False] * len(parts)
            if len(parts) == 1 or not any(hits):
                labels += [1] + [None] * (len(parts) - 1) if len(parts) == 1 else [None] * len(parts)
            else:
                labels += [1 if h else 0 for h in hits]
        if len(labels) == len(claims):
            if 1 not in labels:  # a perturbed sentence split in clauses without a marker: least covered one
                sentence_claims = [i for i, lab in enumerate(labels) if lab is None]
                if sentence_claims:
                    worst = min(sentence_claims, key=lambda i: claims[i].features["coverage"])
                    labels[worst] = 1
            return labels
    facts = [i for i, c in enumerate(claims) if c.kind == "fact"]
    out: list[int | None] = [None] * len(claims)
    if facts:
        out[
            min(facts, key=lambda i: (claims[i].features["answer_coverage"], claims[i].features["semantic"]))
        ] = 1
    return out


def matrix(answers: list[Answer]) -> tuple[np.ndarray, np.ndarray]:
    rows, ys = [], []
    for a in answers:
        for c, label in zip(a.claims or [], a.labels or [], strict=False):
            if label is not None and c.kind == "fact":
                rows.append([c.features[f] for f in FEATURES])
                ys.append(label)
    return np.asarray(rows, dtype=np.float64), np.asarray(ys)


def fit(answers: list[Answer], c_value: float) -> ClaimModel:
    from sklearn.linear_model import LogisticRegression

    x, y = matrix(answers)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c_value, class_weight="balanced", max_iter=5000, random_state=SEED)
    lr.fit((x - mean) / scale, y)
    return ClaimModel(
        version=VERSION,
        features=list(FEATURES),
        mean=[round(v, 8) for v in mean],
        scale=[round(v, 8) for v in scale],
        coef=[round(v, 8) for v in lr.coef_[0]],
        intercept=round(float(lr.intercept_[0]), 8),
        claim_threshold=0.5,
        min_weight=1.0,
        faithfulness_threshold=0.5,
        domain=CalibrationDomain(answer_words=(0, 0), answer_claims=(0, 0), context_words=(0, 0)),
    )


def faithfulness(model: ClaimModel, a: Answer, min_weight: float) -> float:
    supports = [model.support(c.features) for c in a.claims or [] if c.kind == "fact"]
    if not supports:
        return 1.0
    return min_weight * min(supports) + (1 - min_weight) * sum(supports) / len(supports)


def _balanced(f: np.ndarray, y: np.ndarray, t: float) -> float:
    return float(np.mean(rates(f < t, y)))


def choose_threshold(scores: np.ndarray, labels: np.ndarray, datasets: np.ndarray) -> tuple[float, float]:
    """The faithfulness threshold maximising the mean balanced accuracy over the data sets."""
    best = (0.5, -1.0)
    for t in np.unique(np.round(scores, 4)):
        t = float(t) + 5e-5
        acc = float(
            np.mean([_balanced(scores[datasets == d], labels[datasets == d], t) for d in np.unique(datasets)])
        )
        if acc > best[1]:
            best = (round(t, 4), acc)
    return best


def featurise(answers: list[Answer]) -> None:
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.eval.groundedness import GroundednessScorer
    from harness.pipeline.embedders import EMBEDDERS

    embedder = EMBEDDERS.build(SentenceTransformersEmbedderConfig(device="cpu"))
    scorer = GroundednessScorer(embedder, model=_placeholder())
    texts: list[str] = []
    for a in answers:  # embed every claim and candidate sentence first, in large batches (same vectors)
        ctx = ContextIndex.build(list(a.context), a.question)
        for e in (claim_evidence(c, ctx) for c in split_claims(a.answer)):
            if e.kind == "fact":
                texts += [e.claim] + [ctx.sentences[i] for i in e.candidates]
    unique = list(dict.fromkeys(texts))
    for start in range(0, len(unique), 256):
        scorer._vectors(unique[start : start + 256])
    for a in answers:
        a.claims, _ = scorer.evidence(a.answer, a.context, a.question)
        a.labels = claim_labels(a)


def _placeholder() -> ClaimModel:
    n = len(FEATURES)
    return ClaimModel(
        version="0",
        features=list(FEATURES),
        mean=[0.0] * n,
        scale=[1.0] * n,
        coef=[0.0] * n,
        intercept=0.0,
        claim_threshold=0.5,
        min_weight=1.0,
        faithfulness_threshold=0.5,
        domain=CalibrationDomain(answer_words=(0, 0), answer_claims=(0, 0), context_words=(0, 0)),
    )


def _split_figures(
    f: np.ndarray, y: np.ndarray, items: np.ndarray, length: np.ndarray, threshold: float
) -> dict[str, object]:
    def interval(stat: Callable[[np.ndarray], float]) -> dict[str, float]:
        return bootstrap(stat, items, 1000).model_dump()

    return {
        "answers": len(y),
        "hallucinated": int(y.sum()),
        "auroc": interval(lambda ix: auroc(-f[ix], y[ix])),
        "balanced_accuracy": interval(lambda ix: float(np.mean(rates(f[ix] < threshold, y[ix])))),
        "specificity": interval(lambda ix: rates(f[ix] < threshold, y[ix])[1]),
        "baseline_answer_length_auroc": interval(lambda ix: auroc(length[ix], y[ix])),
    }


def _figures(
    model: ClaimModel, answers: list[Answer], min_weight: float, threshold: float
) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in sorted({a.dataset for a in answers}):
        sub = [a for a in answers if a.dataset == name]
        f = np.array([faithfulness(model, a, min_weight) for a in sub])
        y = np.array([a.hallucinated for a in sub])
        items = np.array([a.group for a in sub])
        length = np.array([len(content_words(a.answer)) for a in sub], dtype=np.float64)
        out[name] = _split_figures(f, y, items, length, threshold)
    return out


def featurised(cache: Path | None) -> list[Answer]:
    """The answers with their claims' features; ``cache`` (a development aid) keeps them between runs, keyed
    by the data files."""
    import pickle

    key = hashlib.sha256(b"".join(path.read_bytes() for path in DATA.values())).hexdigest()
    if cache is not None and cache.exists():
        stored_key, answers = pickle.loads(cache.read_bytes())
        if stored_key == key:
            return answers  # type: ignore[no-any-return]
    answers = load_answers()
    featurise(answers)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((key, answers)))
    return answers


def train(out: Path = SHIPPED_MODEL, log=print, cache: Path | None = None) -> ClaimModel:  # type: ignore[no-untyped-def]
    answers = featurised(cache)
    pool = [a for a in answers if not is_test(a.group)]
    test = [a for a in answers if is_test(a.group)]
    folds = np.array([fold(a.group) for a in pool])
    labels = np.array([a.hallucinated for a in pool])
    datasets = np.array([a.dataset for a in pool])
    # accuracy, C, min_weight, threshold, out-of-fold balanced accuracy per data set
    tried: list[tuple[float, float, float, float, dict[str, float]]] = []
    for c_value in C_GRID:
        models = {k: fit([a for a, f in zip(pool, folds, strict=True) if f != k], c_value) for k in range(5)}
        for w in MIN_WEIGHTS:
            oof = np.array([faithfulness(models[f], a, w) for a, f in zip(pool, folds, strict=True)])
            threshold, acc = choose_threshold(oof, labels, datasets)
            each = {
                str(d): round(_balanced(oof[datasets == d], labels[datasets == d], threshold), 4)
                for d in np.unique(datasets)
            }
            shown = "  ".join(f"{d} {v:.3f}" for d, v in each.items())
            log(f"C={c_value:<5} min_weight={w:<5} OOF bal. acc. {acc:.3f} at {threshold:.4f}: {shown}")
            tried.append((acc, c_value, w, threshold, each))
    # The most regularised C within TOLERANCE of the best (smaller gaps are noise), then its best weight.
    top = max(t[0] for t in tried)
    c_value = min(t[1] for t in tried if t[0] >= top - TOLERANCE)
    best = max((t for t in tried if t[1] == c_value), key=lambda t: t[0])
    acc, c_value, w, threshold, each = best
    model = fit(pool, c_value)
    words = [len(content_words(a.answer)) for a in answers]
    claims = [len(a.claims or []) for a in answers]
    context = [len(content_words(" ".join(a.context))) for a in answers]

    def span(values: list[int]) -> tuple[int, int]:
        return int(np.percentile(values, 1)), int(np.percentile(values, 99))

    domain = CalibrationDomain(
        answer_words=span(words),
        answer_claims=span(claims),
        context_words=span(context),
        sources=[
            "HaluEval QA short answers over Wikipedia passages",
            "built multi-sentence answers over Wikipedia passages and company documents",
            "project-written LLM-style answers and summaries over news articles",
        ],
    )
    training = []
    for name, path in DATA.items():
        sub = [a for a in answers if a.dataset == name]
        training.append(
            TrainingFile(
                path=str(path.relative_to(REPO)),
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                answers=len(sub),
                claims=sum(len(a.claims or []) for a in sub),
                split="75% of groups fitted (5-fold CV chose C, min_weight, threshold); 25% test",
            )
        )
    figures = {
        "chosen": {
            "C": c_value,
            "min_weight": w,
            "out_of_fold_mean_balanced_accuracy": round(acc, 4),
            "out_of_fold_balanced_accuracy": each,
        },
        "test_split": _figures(model, test, w, threshold),
    }
    model = model.model_copy(
        update={
            "claim_threshold": threshold,
            "min_weight": w,
            "faithfulness_threshold": threshold,
            "domain": domain,
            "training": training,
            "seed": SEED,
            "figures": figures,
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out}: C={c_value}, min_weight={w}, threshold {threshold}")
    log(json.dumps(figures["test_split"], indent=1))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL)
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep the computed features here between runs"
    )
    args = parser.parse_args()
    import harness  # noqa: F401  (offline environment before imports)

    train(args.out, cache=args.cache)


if __name__ == "__main__":
    main()
