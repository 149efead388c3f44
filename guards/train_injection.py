"""Train the injection detector reproducibly and write ``guards/models/injection_v4.json``.

Run: ``python -m guards.train_injection [--out guards/models/injection_v4.json] [--no-search]``

1. Data (see :mod:`guards.injection_data`): segment-level training sets per stage. The *context* model learns
   attack segments (BIPIA dev attacks, the project's probes and written attacks) against every segment of the
   clean BIPIA contexts, the demo corpus, HaluEval knowledge and written benign documents. The *query* model
   learns direct attacks (probes, written jailbreaks, hijacking and prompt extraction, the train families of
   ``golden_sets/jailbreak_probes.jsonl``) against ordinary questions and requests (HaluEval, demo golden
   set, BIPIA questions, BIPIA task requests, written benign questions, the train families of
   ``golden_sets/benign_requests.jsonl``); the context model's clean texts include the train families of
   ``golden_sets/benign_documents.jsonl``.
   Multi-sentence attacks are bags: after a first fit only their segments that score at least half their best
   stay positive (a code block's ``import os`` is not what makes it an attack).
2. Leave-category-out cross-validation: 5 folds, BIPIA attacks grouped by category (no category is in both
   train and test), contexts and every other item split into the same 5 folds. Test passages are held-out
   attacks planted at the start, middle and end of held-out contexts. The hyper-parameters (C and the scale of
   the hand features against the lexical ones) are chosen on these out-of-fold scores, and each stage's
   threshold is the lowest one that keeps the out-of-fold false-positive rate on ordinary text (BIPIA
   contexts, demo corpus, HaluEval knowledge; ordinary questions and the project's ordinary requests) at
   or below 1% (:func:`ordinary`). The project's own look-alikes (``written-*``, probes) and generated
   documents are trained on but not used for the threshold; their false-positive rate is reported beside.
   The project sets are split by template family like every other group, so their out-of-fold scores come
   from models that never saw the family.
   In the query model, the output-format features (:data:`QUERY_IGNORED`) get no weight: a user who asks
   for a table, a language or "short answers" is ordinary; the same demand inside a document is not.
3. The final models are fitted on all the data with those settings; weights are rounded and written sorted,
   so the same data and seed give the same file byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from guards.injection_data import POSITIONS, Corpus, Item, compatible, insert, load_corpus
from guards.injection_features import segment_features
from guards.injection_model import FORMAT, TRAINED_MODEL, InjectionModel
from guards.injection_normalise import normalise

SEED = 20261122
N_FOLDS = 5
VERSION = "injection-v4"
GRID = [(1.0, 1.5), (1.0, 3.0), (0.3, 1.5)]
MAX_FPR = 0.01
# Output-format demands are an attack signal in a retrieved document, not in a user's query.
QUERY_IGNORED = frozenset(
    {
        "h:format_demand",
        "h:your_output",
        "h:det_output",
        "h:in_your_output",
        "h:your_model_output",
        "h:output_demand",
    }
)


@dataclass(frozen=True)
class Passage:
    text: str
    label: int
    stage: str
    source: str
    position: str = ""
    task: str = ""
    category: str = ""


# --------------------------------------------------------------------------- folds


def assign_folds(corpus: Corpus, seed: int = SEED) -> dict[str, int]:
    """Group -> fold. BIPIA attack categories are dealt round-robin per kind (so each fold holds text and code
    categories); every other group goes to the fold its seeded hash names."""
    rng = random.Random(seed)
    folds: dict[str, int] = {}
    for kind in ("text", "code"):
        cats = sorted({a.group for a in corpus.bipia_attacks if a.kind == kind})
        rng.shuffle(cats)
        for i, cat in enumerate(cats):
            folds[cat] = i % N_FOLDS
    others = sorted(
        {
            i.group
            for i in [*corpus.bipia_contexts, *corpus.attacks, *corpus.benign_docs, *corpus.benign_queries]
        }
    )
    for group in others:  # by a hash of the group, so that adding a group moves no other one
        digest = hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
        folds.setdefault(group, int(digest, 16) % N_FOLDS)
    return folds


# --------------------------------------------------------------------------- segment-level training sets


def _segment_feats(text: str) -> list[dict[str, float]]:
    return [feats for _, feats in segment_features(normalise(text))]


class FeatureCache:
    def __init__(self) -> None:
        self._cache: dict[str, list[dict[str, float]]] = {}

    def __call__(self, text: str) -> list[dict[str, float]]:
        got = self._cache.get(text)
        if got is None:
            got = self._cache[text] = _segment_feats(text)
        return got

    def planted(self, attack: str, context: str) -> list[dict[str, float]]:
        """Features of the segments of ``context`` with ``attack`` planted in it that come from the attack
        (so the features relative to the passage see the attack inside a document)."""
        key = "\x00".join((attack, context))
        got = self._cache.get(key)
        if got is None:
            norm_attack = normalise(attack)
            got = [f for seg, f in segment_features(normalise(context)) if seg.text in norm_attack]
            self._cache[key] = got
        return got


PLANTINGS = 3


def planted_bags(
    positives: Sequence[Item], contexts: Sequence[Item], feats: FeatureCache, seed: int = SEED
) -> list[list[dict[str, float]]]:
    """Each positive planted in ``PLANTINGS`` compatible training contexts (random position): one bag each."""
    rng = random.Random(seed)
    pool = sorted(contexts, key=lambda c: c.group)
    bags = []
    for item in positives:
        fitting = [c for c in pool if compatible(item, c)] or pool
        for ctx in rng.sample(fitting, min(PLANTINGS, len(fitting))):
            planted = insert(item.text, ctx.text, rng.choice(POSITIONS), rng)
            bag = feats.planted(item.text, planted)
            if bag:
                bags.append(bag)
    return bags


def training_items(corpus: Corpus, stage: str) -> tuple[list[Item], list[Item]]:
    """(positive bags, negative texts) for one stage's model."""
    if stage == "context":
        positives = [*corpus.bipia_attacks, *corpus.attacks]
        negatives = [*corpus.bipia_contexts, *corpus.benign_docs]
    else:
        positives = [a for a in corpus.attacks if a.stage == "query"]
        negatives = list(corpus.benign_queries)
    return positives, negatives


def fit(
    positives: Sequence[Item],
    negatives: Sequence[Item],
    feats: FeatureCache,
    c: float,
    scale: float,
    min_count: int = 2,
    plant_in: Sequence[Item] = (),
    ignored: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Fit one stage's logistic model; returns ``{weights, intercept}``, hand-feature scale folded in."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    neg_rows: dict[tuple[tuple[str, float], ...], dict[str, float]] = {}
    for item in negatives:
        for f in feats(item.text):
            neg_rows.setdefault(tuple(sorted(f.items())), f)
    bags = [feats(item.text) for item in positives]
    if plant_in:
        bags += planted_bags(positives, plant_in, feats)
    bags = [b for b in bags if b]

    def scaled(f: dict[str, float]) -> dict[str, float]:
        return {k: (v * scale if k[0] in "hp" else v) for k, v in f.items()}

    def solve(pos_rows: list[dict[str, float]]) -> tuple[dict[str, float], float]:
        negs = [f for _, f in sorted(neg_rows.items())]
        rows = [scaled(f) for f in [*pos_rows, *negs]]
        y = np.array([1] * len(pos_rows) + [0] * len(negs))
        counts: dict[str, int] = {}
        for f in rows:
            for k in f:
                counts[k] = counts.get(k, 0) + 1
        keep = {k for k, n in counts.items() if (n >= min_count or k[0] in "hp") and k not in ignored}
        rows = [{k: v for k, v in f.items() if k in keep} for f in rows]
        vec = DictVectorizer(sort=True)
        x = vec.fit_transform(rows).tocsr()
        x.indices, x.indptr = x.indices.astype(np.int32), x.indptr.astype(np.int32)
        clf = LogisticRegression(
            C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=SEED
        )
        clf.fit(x, y)
        names = vec.get_feature_names_out()
        weights = {
            str(n): float(w) * (scale if str(n)[0] in "hp" else 1.0)
            for n, w in zip(names, clf.coef_[0], strict=True)
            if abs(w) >= 1e-4
        }
        return weights, float(clf.intercept_[0])

    # A segment that also occurs in a clean text is not what makes its bag an attack (``import os``).
    bags = [[f for f in bag if tuple(sorted(f.items())) not in neg_rows] or bag for bag in bags]
    first = [f for bag in bags for f in bag]
    weights, intercept = solve(first)
    refined: list[dict[str, float]] = []
    for bag in bags:
        logits = [intercept + sum(weights.get(k, 0.0) * v for k, v in f.items()) for f in bag]
        best = max(logits)
        refined += [f for f, z in zip(bag, logits, strict=True) if z >= best - 1.0]
    weights, intercept = solve(refined)
    return {
        "weights": {k: round(v, 5) for k, v in sorted(weights.items()) if round(v, 5) != 0.0},
        "intercept": round(intercept, 5),
    }


# --------------------------------------------------------------------------- passage-level test sets


def test_passages(corpus: Corpus, folds: dict[str, int], fold: int | None, seed: int = SEED) -> list[Passage]:
    """Passages of one fold (all folds when ``fold`` is None): planted attacks and clean texts."""
    rng = random.Random(seed + (fold or 0))

    def inside(item: Item) -> bool:
        return fold is None or folds[item.group] == fold

    contexts = [c for c in corpus.bipia_contexts if inside(c)]
    out: list[Passage] = []
    for attack in corpus.bipia_attacks:
        if not inside(attack):
            continue
        for ctx in contexts:
            if compatible(attack, ctx):
                for pos in POSITIONS:
                    out.append(
                        Passage(
                            insert(attack.text, ctx.text, pos, rng),
                            1,
                            "context",
                            "bipia-planted",
                            pos,
                            ctx.kind,
                            attack.meta["category"],
                        )
                    )
    text_contexts = [c for c in contexts if c.kind != "code"]
    for attack in corpus.attacks:
        if not inside(attack):
            continue
        for ctx in rng.sample(text_contexts, min(4, len(text_contexts))):
            pos = rng.choice(POSITIONS)
            out.append(
                Passage(
                    insert(attack.text, ctx.text, pos, rng),
                    1,
                    "context",
                    f"{attack.source}-planted",
                    pos,
                    ctx.kind,
                    attack.kind,
                )
            )
        if attack.stage == "query":
            out.append(Passage(attack.text, 1, "query", attack.source))
    out += [Passage(c.text, 0, "context", c.source, task=c.kind) for c in contexts]
    out += [Passage(d.text, 0, "context", d.source) for d in corpus.benign_docs if inside(d)]
    out += [Passage(q.text, 0, "query", q.source) for q in corpus.benign_queries if inside(q)]
    return out


def score_passages(model: InjectionModel, passages: Sequence[Passage]) -> np.ndarray:
    return np.array([model.score(p.text, p.stage).score for p in passages])


def ordinary(p: Passage) -> bool:
    """Ordinary text (thresholds are set on these): from outside the project, and at the query the project's
    ordinary requests (``golden_sets/benign_requests.jsonl``: outside questions are nearly all
    interrogative, users' requests are not). Not the project's look-alikes, reported beside; nor the
    project's generated documents (``benign_documents.jsonl``: 14 documents a family drawn from one pool of
    sentences, so one family's near-duplicates would fill the 1% allowance), reported beside too."""
    if p.stage == "context" and p.source == "benign-document":
        return False
    return not p.source.startswith(("written", "probe"))


def threshold_for_fpr(neg_scores: np.ndarray, max_fpr: float = MAX_FPR) -> float:
    """The lowest threshold whose false-positive rate on ``neg_scores`` is at most ``max_fpr``."""
    ordered = np.sort(neg_scores)[::-1]
    allowed = int(np.floor(max_fpr * len(ordered)))
    if allowed >= len(ordered):
        return 0.0
    t = float(ordered[allowed]) + 1e-6  # strictly above the (allowed+1)-th highest negative
    return min(max(t, 0.05), 0.999)


def _model_dict(models: dict[str, dict[str, Any]], thresholds: dict[str, float]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "models": {s: {**m, "threshold": round(thresholds.get(s, 0.5), 6)} for s, m in models.items()},
    }


def train_models(
    corpus: Corpus,
    c: float,
    scale: float,
    exclude: dict[str, int] | None = None,
    fold: int | None = None,
    feats: FeatureCache | None = None,
) -> dict[str, dict[str, Any]]:
    feats = feats or FeatureCache()
    out: dict[str, dict[str, Any]] = {}
    for stage in ("context", "query"):
        pos, neg = training_items(corpus, stage)
        if exclude is not None:
            pos = [p for p in pos if exclude[p.group] != fold]
            neg = [n for n in neg if exclude[n.group] != fold]
        plant_in = [n for n in neg if not n.source.startswith("written")]
        if stage == "context":
            out[stage] = fit(pos, neg, feats, c, scale, plant_in=plant_in)
        else:
            out[stage] = fit(pos, neg, feats, c, scale, ignored=QUERY_IGNORED)
    return out


def cross_validate(
    corpus: Corpus, c: float, scale: float, feats: FeatureCache
) -> tuple[list[Passage], np.ndarray]:
    folds = assign_folds(corpus)
    passages: list[Passage] = []
    scores: list[np.ndarray] = []
    for k in range(N_FOLDS):
        models = train_models(corpus, c, scale, exclude=folds, fold=k, feats=feats)
        model = InjectionModel(_model_dict(models, {}))
        test = test_passages(corpus, folds, k)
        passages += test
        scores.append(score_passages(model, test))
    return passages, np.concatenate(scores)


def summarise(
    passages: Sequence[Passage], scores: np.ndarray, thresholds: dict[str, float]
) -> dict[str, Any]:
    """Detection and false-positive rates with bootstrap intervals, per stage, source, position and task."""
    from guards.injection_eval import auroc, rate

    labels = np.array([p.label for p in passages])
    flagged = np.array([s >= thresholds[p.stage] for p, s in zip(passages, scores, strict=True)])
    out: dict[str, Any] = {"thresholds": thresholds}
    for stage in ("context", "query"):
        m = np.array([p.stage == stage for p in passages])
        out[stage] = {
            "detection_rate": rate(flagged[m & (labels == 1)]).model_dump(),
            "false_positive_rate": rate(flagged[m & (labels == 0)]).model_dump(),
            "auroc": auroc(scores[m], labels[m]),
        }
    groups: dict[str, dict[str, list[bool]]] = {}
    for p, f in zip(passages, flagged, strict=True):
        keys = [f"{p.stage}/source/{p.source}"]
        if p.source == "bipia-planted":
            keys += [
                f"bipia/position/{p.position}",
                f"bipia/task/{p.task}",
                f"bipia/category/{p.category}",
                f"bipia/task-position/{p.task}-{p.position}",
            ]
        for key in keys:
            groups.setdefault(key, {"pos": [], "neg": []})["pos" if p.label else "neg"].append(bool(f))
    out["groups"] = {
        k: {
            "detection_rate" if v["pos"] else "false_positive_rate": rate(
                np.array(v["pos"] or v["neg"])
            ).model_dump()
        }
        for k, v in sorted(groups.items())
    }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the injection detector (see the module docstring).")
    parser.add_argument("--out", type=Path, default=TRAINED_MODEL)
    parser.add_argument("--no-search", action="store_true", help="Use C and scale of --out's current file.")
    parser.add_argument(
        "--oof", type=Path, help="Write the chosen setting's out-of-fold passage scores here (JSONL)."
    )
    parser.add_argument(
        "--refit-only",
        action="store_true",
        help="Refit the final models with the settings and thresholds of --out (no cross-validation).",
    )
    args = parser.parse_args(argv)
    corpus = load_corpus()
    feats = FeatureCache()
    previous = json.loads(args.out.read_text()) if args.out.is_file() else None
    if args.refit_only:
        if previous is None:
            raise SystemExit(f"{args.out}: --refit-only needs an existing model file")
        data = refit(corpus, previous, feats)
        args.out.write_text(dump(data))
        print(f"refit: {args.out}")
        return
    grid = GRID
    if args.no_search and previous is not None:
        grid = [(previous["training"]["C"], previous["training"]["hand_scale"])]
    results = []
    for c, scale in grid:
        passages, scores = cross_validate(corpus, c, scale, feats)
        thresholds = {
            st: threshold_for_fpr(scores[[p.stage == st and p.label == 0 and ordinary(p) for p in passages]])
            for st in ("context", "query")
        }
        summary = summarise(passages, scores, thresholds)
        objective = (
            summary["context"]["detection_rate"]["value"] + summary["query"]["detection_rate"]["value"]
        )
        print(
            f"C={c} scale={scale}: context det {summary['context']['detection_rate']['value']:.3f} "
            f"query det {summary['query']['detection_rate']['value']:.3f} thresholds {thresholds}"
        )
        results.append((objective, -c, c, scale, thresholds, summary, passages, scores))
    results.sort(key=lambda r: (r[0], r[1]), reverse=True)
    _, _, c, scale, thresholds, summary, passages, scores = results[0]
    if args.oof:
        with args.oof.open("w", encoding="utf-8") as fh:
            for p, score in zip(passages, scores, strict=True):
                fh.write(json.dumps({**vars(p), "score": float(score)}, ensure_ascii=False) + "\n")
    models = train_models(corpus, c, scale, feats=feats)
    data = _model_dict(models, thresholds)
    data["training"] = {
        "seed": SEED,
        "C": c,
        "hand_scale": scale,
        "folds": N_FOLDS,
        "max_fpr": MAX_FPR,
        "command": "python -m guards.train_injection",
        "grid": [{"C": r[2], "hand_scale": r[3], "objective": round(r[0], 4)} for r in results],
    }
    data["data"] = [vars(s) for s in corpus.sources]
    data["leave_category_out"] = _round(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(data))
    print(f"wrote {args.out}: C={c} scale={scale} thresholds={thresholds}")


def refit(corpus: Corpus, previous: dict[str, Any], feats: FeatureCache) -> dict[str, Any]:
    """The model file ``previous`` with its models refitted from the data (same settings and thresholds)."""
    c, scale = previous["training"]["C"], previous["training"]["hand_scale"]
    models = train_models(corpus, c, scale, feats=feats)
    thresholds = {s: m["threshold"] for s, m in previous["models"].items()}
    data = dict(previous)
    data.update(_model_dict(models, thresholds))
    data["data"] = [vars(s) for s in corpus.sources]
    return data


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def dump(data: dict[str, Any]) -> str:
    """Stable JSON: models first, weights sorted, one weight per line for readable diffs."""
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    main()
