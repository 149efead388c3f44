"""Build multi-sentence grounded and hallucinated answers for training and checking the groundedness scorer.

Real RAG answers are several sentences long and paraphrase their sources. This builder makes such answers from
two sources whose licences allow it, with a fixed seed:

- the knowledge passages of the HaluEval QA dev split (``halueval/corpus.jsonl``, converted from
  ``../shared/benchmarks/halueval_qa_dev.jsonl``; HaluEval, RUCAIBox, MIT License);
- the project-written demo corpus (``demo_corpus/``, Apache-2.0), without the ``people/`` records (they hold
  synthetic personal values, which must not be copied into more files) and without lines holding an e-mail
  address or a phone number.

For each source passage it picks 1-4 of its sentences and rewrites them lightly (synonyms, dropped
parentheticals and relative clauses, two sentences merged into one, reordering, "it" for a repeated subject),
and sometimes adds a generic lead-in, a content-free hedge or a restatement of the question. These answers are
the grounded ones (label ``false``). Each hallucinated answer (label ``true``) is one of them with one
perturbation: a number or date changed, a name swapped for one from another passage, a name swapped for
another one of the same context (a mixed-up relation), two names swapped, a negation added or removed, a word
replaced by its opposite, a sentence from an unrelated passage added, or an invented sentence added. Every
sentence carries its own label and, for perturbed ones, the words that were changed (``marker``), so
claim-level labels can be read.

Contexts are the source passage plus, for half of the answers, one unrelated passage (retrieval returns
several). Each row has a ``group`` (the source passage): splits must keep a group on one side.

Usage: python golden_sets/build_long_answers.py   (writes golden_sets/long_answers.jsonl)
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "long_answers.jsonl"
SEED = 20261201
_PERSONAL = re.compile(r"@|\+\d|\b\d{3}[- ]\d{3,4}\b|IBAN|employee id", re.IGNORECASE)
_GLUED = re.compile(r"(?<=[a-z0-9)\"'])\.(?=[A-Z][a-z])")  # HaluEval joins passages as "end.Next"
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_NAME = re.compile(r"\b[A-Z][a-zA-Z'\-]+(?:\s+(?:of|de|van|von)?\s*[A-Z][a-zA-Z'\-]+)*")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
_AUX = re.compile(r"\b(is|was|are|were|has|have|had|can|will|does|did|should|must)\b (?!not\b)")
_NEG = re.compile(r"\b(is|was|are|were|has|have|had|can|will|does|did|should|must) not\b")
_OPENERS = {
    "The",
    "A",
    "An",
    "It",
    "This",
    "These",
    "In",
    "On",
    "At",
    "For",
    "All",
    "Each",
    "Every",
    "If",
    "When",
    "After",
    "Before",
    "Our",
    "We",
    "You",
    "Your",
    "Its",
    "Their",
    "There",
    "As",
    "By",
    "From",
    "With",
}
SYNONYMS = [
    ("is known for", "is famous for"),
    ("located in", "based in"),
    ("began", "started"),
    ("purchase", "buy"),
    ("approximately", "about"),
    ("must", "has to"),
    ("employees", "staff"),
    ("however", "but"),
    ("is a", "is an example of a"),
    ("was a", "was an example of a"),
    ("received", "got"),
    ("large", "big"),
    ("established", "set up"),
    ("founded", "established"),
    ("became", "went on to become"),
    ("film", "movie"),
    ("also", "in addition"),
    ("because", "since"),
    ("reimbursed", "paid back"),
    ("requires", "needs"),
    ("allowed", "permitted"),
    ("approval", "sign-off"),
    ("within", "inside"),
    ("whenever possible", "where possible"),
    ("released", "put out"),
    ("known as", "called"),
    ("television", "TV"),
    ("author", "writer"),
    ("American", "US"),
    ("served as", "was"),
    ("directed by", "made by"),
    ("starring", "with"),
    ("written by", "by"),
    ("consists of", "is made up of"),
    ("including", "such as"),
    ("used", "employed"),
    # rewordings that bring in words the source lacks, as LLM answers do
    ("cap", "limit"), ("nightly", "per night"), ("approved", "signed off"), ("booked", "reserved"),
    ("company", "firm"), ("city", "town"), ("popular", "well-liked"), ("song", "track"), ("album", "record"),
    ("played", "performed"), ("worked", "was employed"), ("largest", "biggest"), ("area", "region"),
    ("located", "situated"), ("group", "band"), ("is", "remains"), ("are", "tend to be"),
    ("has", "comes with"),
    ("after", "following"), ("each", "every single"), ("only", "solely"), ("up to", "at most"),
    ("at least", "no fewer than"), ("about", "roughly"), ("known", "recognised"), ("needs", "calls for"),
]
LEADS = [
    "Here is what the documents say.",
    "Based on the provided passages, here is a summary.",
    "The context answers this.",
    "According to the documents, the key points are below.",
]
HEDGES = [
    "Details may vary.",
    "This may depend on the situation.",
    "Some of this could change over time.",
    "Let me know if you need more details.",
]
INVENTED = [
    "{s} was later acquired by {n} in {y}.",
    "{s} has more than {k} employees worldwide.",
    "{s} won the {n} Award in {y}.",
    "In {y}, {s} moved its headquarters to {c}.",
    "{s} is also known for its partnership with {n}.",
    "A second edition followed in {y}.",
    "{s} was originally based in {c}.",
    "The project cost about {k} million dollars.",
]
CITIES = ["Lyon", "Osaka", "Denver", "Krakow", "Porto", "Melbourne", "Nairobi", "Quebec", "Leeds", "Tampere"]
ANTONYMS = [
    ("before", "after"),
    ("more", "less"),
    ("higher", "lower"),
    ("first", "last"),
    ("earlier", "later"),
    ("larger", "smaller"),
    ("older", "younger"),
    ("above", "below"),
    ("maximum", "minimum"),
    ("longer", "shorter"),
    ("increase", "decrease"),
    ("allowed", "not allowed"),
    ("north", "south"),
]


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+]\s+|\d+[.)]\s+)", "", line).strip()
        if not line or line.startswith("#") or _PERSONAL.search(line):
            continue
        out += [
            s.strip() for s in _SENT.split(line) if len(s.split()) >= 5 and s.strip().endswith((".", "!"))
        ]
    return out


def load_sources() -> list[dict]:
    sources = []
    for line in (HERE / "halueval" / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        sources.append(
            {
                "group": row["id"],
                "source": "halueval-knowledge",
                "text": row["text"],
                "sentences": _sentences(_GLUED.sub(". ", row["text"])),
            }
        )
    questions = [json.loads(x) for x in (HERE / "halueval_qa.jsonl").read_text(encoding="utf-8").splitlines()]
    for src, q in zip(sources, questions, strict=False):
        src["question"] = q["user_input"]
    for path in sorted((HERE / "demo_corpus").rglob("*.md")):
        rel = path.relative_to(HERE / "demo_corpus").with_suffix("").as_posix()
        if rel.startswith("people/"):
            continue
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("# ").strip()
        kept = "\n".join(line for line in text.splitlines() if not _PERSONAL.search(line))
        sources.append(
            {
                "group": f"demo/{rel}",
                "source": "demo-corpus",
                "text": kept,
                "sentences": _sentences(kept),
                "question": f"What does the {title.lower()} document say?",
            }
        )
    return [s for s in sources if s["sentences"]]


def _case(first: str, rest: str) -> str:
    word = rest.split(" ", 1)[0]
    return (rest[0].lower() + rest[1:]) if word in _OPENERS and first else rest


def paraphrase(sentence: str, rng: random.Random) -> str:
    s = sentence
    if rng.random() < 0.6:
        s = re.sub(r"\s*\([^)]*\)", "", s)
    if rng.random() < 0.3:
        s = re.sub(r",\s+(?:which|who)\s+[^,.]*(?=[,.])", "", s)
    for old, new in rng.sample(SYNONYMS, k=len(SYNONYMS)):
        if rng.random() < 0.6 and re.search(rf"\b{re.escape(old)}\b", s):
            s = re.sub(rf"\b{re.escape(old)}\b", new, s, count=1)
    s = re.sub(r"\s+", " ", s).strip()
    return s[0].upper() + s[1:]


def _merge(a: str, b: str) -> str:
    return a.rstrip(".!") + ", and " + _case("x", b)


def grounded_answer(src: dict, rng: random.Random) -> list[dict]:
    sents = src["sentences"]
    k = min(len(sents), rng.choice([1, 2, 2, 3, 3, 4]))
    start = rng.randrange(0, len(sents) - k + 1)
    chosen = [paraphrase(s, rng) for s in sents[start : start + k]]
    if len(chosen) >= 2 and rng.random() < 0.3:
        rng.shuffle(chosen)
    if len(chosen) >= 2 and rng.random() < 0.3:
        i = rng.randrange(len(chosen) - 1)
        chosen[i : i + 2] = [_merge(chosen[i], chosen[i + 1])]
    for i in range(1, len(chosen)):
        m = re.match(r"(The [A-Z][\w'-]*(?: [A-Z][\w'-]*)*) ", chosen[i])
        if m and chosen[i - 1].startswith(m.group(1)) and rng.random() < 0.7:
            chosen[i] = "It " + chosen[i][len(m.group(1)) + 1 :]
    out = [{"text": s, "hallucinated": False} for s in chosen]
    if rng.random() < 0.25:
        out.insert(0, {"text": rng.choice(LEADS), "hallucinated": False})
    if rng.random() < 0.15:
        out.append({"text": rng.choice(HEDGES), "hallucinated": False})
    return out


def _names(text: str) -> list[str]:
    return [m.group(0) for m in _NAME.finditer(text) if m.group(0) not in _OPENERS and m.start() > 0]


def perturb(answer: list[dict], src: dict, other: dict, rng: random.Random) -> tuple[list[dict], str] | None:
    facts = [i for i, s in enumerate(answer) if s["text"] not in LEADS + HEDGES]
    kinds = ["number", "entity", "entity_internal", "swap", "negation", "antonym", "addition", "invented"]
    rng.shuffle(kinds)
    for kind in kinds:
        for i in rng.sample(facts, k=len(facts)):
            text = answer[i]["text"]
            new, marker = _apply(kind, text, src, other, rng)
            if new is None:
                continue
            out = [dict(s) for s in answer]
            if kind in ("addition", "invented"):
                out.insert(
                    i + 1 if rng.random() < 0.6 else 0, {"text": new, "hallucinated": True, "marker": marker}
                )
            else:
                out[i] = {"text": new, "hallucinated": True, "marker": marker}
            return out, kind
    return None


def _apply(kind: str, text: str, src: dict, other: dict, rng: random.Random) -> tuple[str | None, list[str]]:
    if kind == "number":
        nums = list(_NUMBER.finditer(text))
        if not nums:
            return None, []
        m = rng.choice(nums)
        raw = m.group(0).replace(",", "")
        value = float(raw)
        if 1000 <= value <= 2100 and raw.isdigit():
            new = str(int(value) + rng.choice([-12, -7, -3, -2, -1, 1, 2, 4, 9]))
        elif raw.isdigit():
            new = str(
                max(int(value) + rng.choice([1, 2, 5, 10, 20]) * rng.choice([1, 2]), 1)
                if value > 2
                else int(value) + 3
            )
        else:
            new = f"{value * 1.5:.1f}"
        return text[: m.start()] + new + text[m.end() :], [new]
    if kind in ("entity", "entity_internal"):
        own = _names(text)
        pool = _names(other["text"]) if kind == "entity" else _names(src["text"])
        pool = [p for p in dict.fromkeys(pool) if p not in text and p.lower() not in text.lower()]
        if not own or not pool:
            return None, []
        old, new = rng.choice(own), rng.choice(pool)
        return text.replace(old, new, 1), [new]
    if kind == "swap":
        own = list(dict.fromkeys(_names(text)))
        if len(own) < 2:
            return None, []
        a, b = rng.sample(own, 2)
        if a in b or b in a:
            return None, []
        swapped = text.replace(a, "\0").replace(b, a).replace("\0", b)
        return (swapped, [a, b]) if swapped != text else (None, [])
    if kind == "negation":
        if _NEG.search(text):
            return _NEG.sub(lambda m: m.group(1), text, count=1), []
        m = _AUX.search(text)
        if not m:
            return None, []
        return text[: m.end(1)] + " not" + text[m.end(1) :], ["not"]
    if kind == "antonym":
        for a, b in rng.sample(ANTONYMS, k=len(ANTONYMS)):
            for old, new in ((a, b), (b, a)):
                if re.search(rf"\b{old}\b", text):
                    return re.sub(rf"\b{old}\b", new, text, count=1), [new]
        return None, []
    if kind == "addition":
        return paraphrase(rng.choice(other["sentences"]), rng), []
    subject = (_names(" " + text) or ["It"])[0]
    pool = _names(other["text"]) or ["Harbor Group"]
    return rng.choice(INVENTED).format(
        s=subject,
        n=rng.choice(pool),
        y=rng.randrange(1950, 2024),
        k=rng.choice([12, 40, 150, 300, 2500]),
        c=rng.choice(CITIES),
    ), []


def build(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    sources = load_sources()
    rows = []
    for n, src in enumerate(sources):
        variants = 2 if src["source"] == "halueval-knowledge" else 4
        for v in range(variants):
            others = [s for s in sources if s["group"] != src["group"]]
            distractor, other = rng.sample(others, 2)
            context = [src["text"]] + ([distractor["text"]] if rng.random() < 0.5 else [])
            rng.shuffle(context)
            question = src["question"] if rng.random() < 0.6 else ""
            answer = grounded_answer(src, rng)
            if question and src["source"] == "halueval-knowledge" and rng.random() < 0.15:
                answer.insert(
                    0,
                    {
                        "text": "This is about the question: " + question.rstrip("?") + ".",
                        "hallucinated": False,
                    },
                )
            hallucinated = v % 2 == 1
            perturbation = None
            if hallucinated:
                made = perturb(answer, src, other, rng)
                if made is None:
                    continue
                answer, perturbation = made
            rows.append(
                {
                    "id": f"long-{n:04d}-{v}",
                    "group": src["group"],
                    "source": src["source"],
                    "context": context,
                    "question": question,
                    "answer": " ".join(s["text"] for s in answer),
                    "hallucinated": hallucinated,
                    "perturbation": perturbation,
                    "sentences": answer,
                }
            )
    return rows


def main() -> None:
    rows = build()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    OUT.write_text(text, encoding="utf-8")
    pos = sum(r["hallucinated"] for r in rows)
    print(
        f"wrote {len(rows)} answers ({pos} hallucinated) to {OUT} "
        f"sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}"
    )


if __name__ == "__main__":
    main()
