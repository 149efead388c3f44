"""The data the injection detector is trained and checked on: loaders, and BIPIA-style insertion of attacks.

Sources (each listed in the model file with its row count and sha256):

- ``../shared/benchmarks/bipia_dev_attacks.jsonl`` and ``bipia_dev_contexts.jsonl`` (BIPIA train split, MIT):
  attacks inserted into clean e-mails, tables and code threads at the start, the middle (at a sentence or
  line boundary) and the end are positives; the clean contexts are negatives;
- ``golden_sets/injection_probes.jsonl``: the project's own attacks and benign look-alikes;
- ``guards/models/injection_written.jsonl``: project-written attacks (indirect and direct) and benign
  look-alikes (documents that address a human reader, ordinary questions);
- benign text: the demo corpus, HaluEval knowledge and questions, the demo golden questions, BIPIA questions;
- the ``train`` rows of the project-written sets built by ``golden_sets/build_injection_sets.py``
  (:data:`PROJECT_SETS`): ordinary user requests (many imperative), documents addressed to a reader, long
  role-play jailbreaks. Their ``dev`` rows (other template families) are never loaded here: they measure.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.jsonl import iter_jsonl

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "benchmarks"
WRITTEN = Path(__file__).resolve().parent / "models" / "injection_written.jsonl"
POSITIONS = ("start", "middle", "end")
# Project-written sets (golden_sets/build_injection_sets.py); only their train split is trained on.
PROJECT_SETS = ("benign_requests", "benign_documents", "jailbreak_probes")
# Project-written sets measured on and never trained on, whatever their split (short hijacks and prompt
# extraction at the query; FAQs, forums and interviews with questions in them): training on them cost held-out
# BIPIA categories 1.7 points (docs/detectors_injection.md).
EVAL_SETS = ("hijack_probes", "qa_documents")
# BIPIA task categories: ordinary requests when a user asks them, attacks when a document carries them.
BIPIA_TASK_CATEGORIES = {
    "Information Retrieval",
    "Content Creation",
    "Learning and Tutoring",
    "Language Translation",
    "Programming Help",
}


@dataclass(frozen=True)
class Item:
    """One labelled text. ``group`` is the unit of cross-validation (an attack category, a context id)."""

    text: str
    label: int
    stage: str  # query | context
    source: str
    group: str
    kind: str = ""
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceFile:
    name: str
    path: str
    rows: int
    sha256: str


@dataclass
class Corpus:
    bipia_attacks: list[Item]
    bipia_contexts: list[Item]
    attacks: list[Item]  # non-BIPIA attacks (probes, written): query = direct, context = indirect
    benign_docs: list[Item]
    benign_queries: list[Item]
    sources: list[SourceFile]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rel(path: Path) -> str:
    path = path.resolve()
    if path.is_relative_to(REPO):
        return str(path.relative_to(REPO))
    if path.is_relative_to(REPO.parent):
        return "../" + str(path.relative_to(REPO.parent))
    return str(path)


def _demo_passages(root: Path, size: int = 800) -> list[str]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".md", ".txt"}:
            continue
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        chunk = ""
        for p in paragraphs:
            if chunk and len(chunk) + len(p) > size:
                out.append(chunk)
                chunk = ""
            chunk = f"{chunk}\n\n{p}" if chunk else p
        if chunk:
            out.append(chunk)
    return out


def load_corpus(shared: Path = SHARED) -> Corpus:
    """Every source, or :class:`FileNotFoundError` when the BIPIA dev files are missing."""
    sources: list[SourceFile] = []

    def rows(path: Path, name: str) -> list[dict[str, Any]]:
        got = [row for _, row in iter_jsonl(path, name)]
        sources.append(SourceFile(name, _rel(path), len(got), _sha(path)))
        return got

    attacks_path, contexts_path = shared / "bipia_dev_attacks.jsonl", shared / "bipia_dev_contexts.jsonl"
    if not attacks_path.is_file() or not contexts_path.is_file():
        raise FileNotFoundError(f"BIPIA dev files not found under {shared}")
    bipia_attacks = [
        Item(
            r["text"],
            1,
            "context",
            "bipia-attack",
            f"cat:{r['category']}",
            r["kind"],
            {"id": r["id"], "category": r["category"]},
        )
        for r in rows(attacks_path, "bipia_dev_attacks")
    ]
    context_rows = rows(contexts_path, "bipia_dev_contexts")
    bipia_contexts = [
        Item(
            r["context"],
            0,
            "context",
            f"bipia-{r['task']}",
            f"ctx:{r['id']}",
            r["task"],
            {"id": r["id"], "task": r["task"]},
        )
        for r in context_rows
    ]
    benign_queries = [
        Item(r["question"], 0, "query", "bipia-question", f"q:{r['id']}")
        for r in context_rows
        if str(r.get("question", "")).strip()
    ]
    benign_queries += [
        Item(a.text, 0, "query", "bipia-task-request", f"task:{a.meta['id']}")
        for a in bipia_attacks
        if a.meta["category"] in BIPIA_TASK_CATEGORIES
    ]

    attacks: list[Item] = []
    benign_docs: list[Item] = []
    probes = REPO / "golden_sets" / "injection_probes.jsonl"
    for r in rows(probes, "injection_probes"):
        if r["label"] == "attack":
            attacks.append(Item(r["text"], 1, "query", "probe", f"probe:{r['id']}", r.get("category", "")))
        else:
            benign_queries.append(Item(r["text"], 0, "query", "probe-benign", f"probe:{r['id']}"))

    def sort_in(item: Item) -> None:
        if item.label:
            attacks.append(item)
        elif item.stage == "query":
            benign_queries.append(item)
        else:
            benign_docs.append(item)

    for i, r in enumerate(rows(WRITTEN, "injection_written")):
        sort_in(
            Item(r["text"], int(r["label"]), r["stage"], f"written-{r['kind']}", f"written:{i}", r["kind"])
        )
    for name in PROJECT_SETS:
        for r in rows(REPO / "golden_sets" / f"{name}.jsonl", name):
            if r["split"] == "train":
                group = f"{name}:{r['family']}"
                sort_in(Item(r["text"], int(r["label"]), r["stage"], r["source"], group, r["family"]))

    halueval = shared / "halueval_qa_dev.jsonl"
    if halueval.is_file():
        for i, r in enumerate(rows(halueval, "halueval_qa_dev")):
            benign_docs.append(Item(r["knowledge"], 0, "context", "halueval-knowledge", f"hal:{i}"))
            benign_queries.append(Item(r["question"], 0, "query", "halueval-question", f"hal:{i}"))
    golden = REPO / "golden_sets" / "demo_golden.jsonl"
    for r in rows(golden, "demo_golden"):
        benign_queries.append(Item(r["user_input"], 0, "query", "demo-question", f"golden:{r['id']}"))
    corpus_root = REPO / "golden_sets" / "demo_corpus"
    passages = _demo_passages(corpus_root)
    digest = hashlib.sha256("\n".join(passages).encode()).hexdigest()
    sources.append(SourceFile("demo_corpus", _rel(corpus_root), len(passages), digest))
    benign_docs += [Item(p, 0, "context", "demo-corpus", f"demo:{i}") for i, p in enumerate(passages)]
    return Corpus(bipia_attacks, bipia_contexts, attacks, benign_docs, benign_queries, sources)


_BOUNDARY = re.compile(r"(?<=[.!?])[ \t]+(?=\S)|\n+")


def insert(attack: str, context: str, position: str, rng: random.Random) -> str:
    """``attack`` planted in ``context`` at the start, the end, or the boundary nearest the middle."""
    glue = rng.choice([" ", "\n", "\n\n"])
    if position == "start":
        return f"{attack}{glue}{context}"
    if position == "end":
        return f"{context.rstrip()}{glue}{attack}"
    middle = len(context) // 2
    cuts = [m for m in _BOUNDARY.finditer(context)]
    if not cuts:
        return f"{context[:middle]} {attack} {context[middle:]}"
    cut = min(cuts, key=lambda m: abs(m.start() - middle))
    sep = cut.group(0) if "\n" in cut.group(0) else glue
    return f"{context[: cut.start()]}{sep}{attack}{sep}{context[cut.end() :]}"


def compatible(attack: Item, context: Item) -> bool:
    """BIPIA plants code attacks in code threads and text attacks in e-mails and tables."""
    return (attack.kind == "code") == (context.kind == "code")


__all__ = [
    "BIPIA_TASK_CATEGORIES",
    "POSITIONS",
    "EVAL_SETS",
    "PROJECT_SETS",
    "SHARED",
    "Corpus",
    "Item",
    "SourceFile",
    "compatible",
    "insert",
    "load_corpus",
]
