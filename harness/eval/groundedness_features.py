"""Per-claim evidence for the offline groundedness scorer: what a claim says, what the context says, and the
features a small learned model (:mod:`harness.eval.groundedness_model`) turns into a support probability.

Pure text functions, no model: the scorer adds the one semantic feature (MiniLM cosine of the claim and its
best candidate sentences). Text utilities (sentences, content words, stopwords, citation markers) live in
:mod:`harness.text`; only what is specific to claims is here.

A claim is a sentence of the answer, or a clause joined by ";" or ", and/but/while/whereas". Each claim gets a
*kind*: ``fact`` claims are scored; ``generic`` (discourse such as "Here is what the documents say"),
``hedge`` ("It may vary", with nothing specific in it) and ``restates_question`` claims are reported but do
not count against the answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from harness.text import CITATION, LIST_MARKER, STOPWORDS, WORD, content_words, split_sentences, stem

ClaimKind = Literal["fact", "generic", "hedge", "restates_question"]

# The features, in the order the model's coefficients follow. Changing them needs a new model version.
FEATURES = (
    "coverage",  # share of the claim's content words found anywhere in the context or the question
    "answer_coverage",  # the same over the words that are not in the question (what the claim adds)
    "best_lexical",  # share of the claim's distinct content words in the best single context sentence
    "best2_lexical",  # ... in the union of the two best sentences (claims that merge sentences)
    "bigram_support",  # share of the claim's consecutive content-word pairs found in that order in a sentence
    "novel_numbers",  # numbers and dates absent from the context and the question (up to 2)
    "novel_names",  # capitalised names absent from the context and the question (up to 3)
    "novel_words",  # other content words absent from the context and the question (up to 4)
    "negation_mismatch",  # the claim is negated and its best sentence is not, or the reverse
    "antonym",  # the claim uses the opposite (before/after, more/less...) of a word its best sentence uses
    "names_apart",  # the claim's names occur in the context, but never together in one or two sentences
    "semantic",  # MiniLM cosine with the best of the candidate sentences
    "log_words",  # log(1 + number of content words of the claim)
)

_GLUED = re.compile(r"(?<=[a-z0-9)\"'])\.(?=[A-Z][a-z])")  # passages joined as "end.Next" (HaluEval)
_CLAUSE = re.compile(r";\s+|,\s+(?:and|but|while|whereas)\s+")
_CITE = re.compile(r"\s*" + CITATION.pattern)
_BULLET = re.compile(LIST_MARKER.pattern + r"|^\s*#{1,6}\s+")  # a list, quote or heading marker
_MARKDOWN = re.compile(r"\*\*|__|`")
_NUMBER = re.compile(r"\b\d[\d,.:/\-]*\b")
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER_WORDS.update(
    {
        "thirty": "30",
        "forty": "40",
        "fifty": "50",
        "sixty": "60",
        "seventy": "70",
        "eighty": "80",
        "ninety": "90",
        "hundred": "100",
        "thousand": "1000",
        "dozen": "12",
        "first": "1st",
        "second": "2nd",
        "third": "3rd",
        "fourth": "4th",
        "fifth": "5th",
    }
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_NEGATIONS = frozenset("not no never cannot without none neither nor nobody nothing nowhere".split())
_ANTONYMS = dict(
    pair
    for a, b in (
        ("before", "after"),
        ("more", "less"),
        ("more", "fewer"),
        ("higher", "lower"),
        ("increase", "decrease"),
        ("first", "last"),
        ("earlier", "later"),
        ("larger", "smaller"),
        ("older", "younger"),
        ("above", "below"),
        ("maximum", "minimum"),
        ("include", "exclude"),
        ("allow", "forbid"),
        ("allowed", "forbidden"),
        ("north", "south"),
        ("east", "west"),
        ("won", "lost"),
        ("win", "lose"),
        ("start", "end"),
        ("open", "close"),
        ("require", "optional"),
        ("required", "optional"),
        ("internal", "external"),
        ("male", "female"),
        ("born", "died"),
        ("longer", "shorter"),
        ("early", "late"),
        ("major", "minor"),
        ("inside", "outside"),
    )
    for pair in ((a, b), (b, a))
)
# Words that carry no fact of their own: discourse about the answer, the documents or the conversation.
GENERIC = frozenset(
    stem(w)
    for w in (
        "answer answers question questions context contexts document documents passage passages text texts "
        "source sources information info detail details provided provide provides based according mention "
        "mentions mentioned state states stated says said summary summarize overall note noted following "
        "here hope help helps helpful let know sure please article articles report reports discuss discusses "
        "discussed describe describes described explain explains explained given specific specifically "
        "regarding topic topics several various main key point points additionally furthermore moreover "
        "however therefore thus also further clarify clear available below above relevant related find found "
        "look question's certainly glad happy feel free ask reach out more less additional important notably "
        "worth noting highlight highlights highlighted emphasize emphasizes"
    ).split()
)
# Courtesy lines that close an answer ("Let me know if you need more details.").
_COURTESY = re.compile(
    r"^\W*(?:let me know|feel free|i hope|hope this|if you (?:need|have|want|would like)|"
    r"please (?:let|reach|contact|ask))\b",
    re.IGNORECASE,
)
_HEDGES = frozenset(
    "may might could possibly perhaps likely unlikely probably seems seem appears appear unclear uncertain "
    "depend depends depending vary varies generally typically usually often sometimes".split()
)


def split_claims(answer: str) -> list[str]:
    """Claims of an answer: sentences and clauses, citation markers, bullets and Markdown emphasis removed."""
    text = _MARKDOWN.sub("", _CITE.sub("", answer)).strip()
    claims = []
    for sentence in split_sentences(text):
        sentence = _BULLET.sub("", sentence)
        for clause in _CLAUSE.split(sentence):
            clause = clause.strip(" ,;:-")
            if content_words(clause):
                claims.append(clause)
    return claims


def numbers(text: str) -> set[str]:
    """Numbers and number words of ``text``, normalised (``1,000`` -> ``1000``, ``three`` -> ``3``)."""
    found = {re.sub(r"[,\s]", "", m.group(0)).strip(".:/-") for m in _NUMBER.finditer(text)}
    found |= {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS}
    return {n for n in found if n}


def names(text: str) -> list[str]:
    """Capitalised words that name something: not stopwords, months, generic words or number words. The first
    word of a sentence counts only when the next one is capitalised too (``New York``), not for
    ``Breakfast is``."""
    out = []
    for sentence in split_sentences(text):
        words = WORD.findall(sentence)
        for i, word in enumerate(words):
            bare = word.lower().strip("'’-")
            if not word[0].isupper() or bare in STOPWORDS or bare in _MONTHS or bare in _NUMBER_WORDS:
                continue
            if stem(bare) in GENERIC or bare in _HEDGES:
                continue
            if i == 0 and not (len(words) > 1 and words[1][0].isupper()):
                continue
            out.append(word)
    return out


def _negated(words: list[str]) -> bool:
    return any(w.lower() in _NEGATIONS or w.lower().endswith("n't") for w in words)


def _matched_span(claim_words: list[str], sentence: str, margin: int = 1) -> list[str]:
    """The words of ``sentence`` from the first to the last one the claim shares with it (plus a margin): a
    clause is compared with its own part of a sentence ("Parking is not provided; the office is near")."""
    words = WORD.findall(sentence)
    shared = {stem(w) for w in claim_words if w.lower() not in STOPWORDS}
    hits = [i for i, w in enumerate(words) if w.lower() not in STOPWORDS and stem(w) in shared]
    if not hits:
        return words
    return words[max(hits[0] - margin, 0) : hits[-1] + margin + 1]


@dataclass
class ContextIndex:
    """The context (passages and question) prepared once per answer."""

    sentences: list[str]
    sentence_words: list[set[str]]
    sentence_sequences: list[list[str]]
    sentence_raw: list[set[str]]
    words: set[str]
    question_words: set[str]
    numbers: set[str]
    raw_words: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, passages: list[str], question: str = "") -> ContextIndex:
        sentences = [s for p in passages for s in split_sentences(_GLUED.sub(". ", p))] or [""]
        sequences = [content_words(s) for s in sentences]
        raw = [{w.lower().strip("'’-") for w in WORD.findall(s)} for s in sentences]
        question_words = set(content_words(question))
        all_words = set().union(*map(set, sequences)) | question_words
        raw_words = set().union(*raw) | {w.lower().strip("'’-") for w in WORD.findall(question)}
        return cls(
            sentences=sentences,
            sentence_words=[set(s) for s in sequences],
            sentence_sequences=sequences,
            sentence_raw=raw,
            words=all_words,
            question_words=question_words,
            numbers=numbers("\n".join(passages) + "\n" + question),
            raw_words=raw_words,
        )

    def knows_name(self, name: str) -> bool:
        bare = name.lower().strip("'’-")
        return bare in self.raw_words or stem(bare) in self.words


def claim_kind(claim: str, ctx: ContextIndex) -> ClaimKind:
    if _COURTESY.match(claim):
        return "generic"
    words = content_words(claim)
    specific = [w for w in words if w not in GENERIC]
    has_terms = bool(numbers(claim) - ctx.numbers) or any(not ctx.knows_name(n) for n in names(claim))
    if not specific:
        return "generic"
    if has_terms:
        return "fact"
    raw = {w.lower() for w in WORD.findall(claim)}
    if raw & _HEDGES and len(specific) <= 3:
        return "hedge"
    if ctx.question_words and all(w in ctx.question_words for w in specific) and len(specific) >= 2:
        return "restates_question"
    return "fact"


@dataclass
class ClaimEvidence:
    claim: str
    kind: ClaimKind
    features: dict[str, float]
    candidates: list[int]  # indices of context sentences, best first (the semantic feature uses them)
    novel_terms: list[str]


def _ordered_pairs(sequence: list[str], window: int = 4) -> set[tuple[str, str]]:
    return {(a, b) for i, a in enumerate(sequence) for b in sequence[i + 1 : i + 1 + window]}


def claim_evidence(claim: str, ctx: ContextIndex, n_candidates: int = 2) -> ClaimEvidence:
    """Lexical features of one claim against the context; ``semantic`` is left at 0 for the scorer to fill."""
    words = content_words(claim)
    unique = set(words)
    n = max(len(words), 1)
    coverage = sum(1 for w in words if w in ctx.words) / n
    adding = [w for w in words if w not in ctx.question_words]
    answer_coverage = sum(1 for w in adding if w in ctx.words) / len(adding) if adding else 1.0
    overlaps = [len(unique & sw) / max(len(unique), 1) for sw in ctx.sentence_words]
    order = sorted(range(len(overlaps)), key=lambda i: (-overlaps[i], i))
    best = order[0]
    second = order[1] if len(order) > 1 else best
    best2 = len(unique & (ctx.sentence_words[best] | ctx.sentence_words[second])) / max(len(unique), 1)
    pairs = list(zip(words, words[1:], strict=False))
    if pairs:
        known = set().union(*(_ordered_pairs(ctx.sentence_sequences[i]) for i in order[:3]))
        bigram = sum(1 for p in pairs if p in known) / len(pairs)
    else:
        bigram = 1.0
    novel_numbers = sorted(numbers(claim) - ctx.numbers)
    claim_names = names(claim)
    novel_names = sorted({nm for nm in claim_names if not ctx.knows_name(nm)})
    name_stems = {stem(nm.lower()) for nm in claim_names} - {stem(nm.lower()) for nm in novel_names}
    lower_names = {nm.lower() for nm in claim_names}
    novel_words = sorted(
        {
            w
            for w in words
            if w not in ctx.words
            and w not in GENERIC
            and w not in lower_names
            and not w[0].isdigit()
            and w not in {stem(x.lower()) for x in claim_names}
        }
    )
    names_apart = 0.0
    if len(name_stems) >= 2:
        together = ctx.sentence_words[best] | ctx.sentence_words[second]
        names_apart = float(not name_stems <= together)
    raw_claim = WORD.findall(claim)
    best_raw = ctx.sentence_raw[best]
    negation = float(_negated(raw_claim) != _negated(_matched_span(raw_claim, ctx.sentences[best])))
    claim_lower = {w.lower() for w in raw_claim}
    antonym = float(
        any(_ANTONYMS[w] in best_raw and w not in best_raw for w in claim_lower if w in _ANTONYMS)
    )
    features = {
        "coverage": coverage,
        "answer_coverage": answer_coverage,
        "best_lexical": overlaps[best],
        "best2_lexical": best2,
        "bigram_support": bigram,
        "novel_numbers": float(min(len(novel_numbers), 2)),
        "novel_names": float(min(len(novel_names), 3)),
        "novel_words": float(min(len(novel_words), 4)),
        "negation_mismatch": negation,
        "antonym": antonym,
        "names_apart": names_apart,
        "semantic": 0.0,
        "log_words": math.log1p(len(words)),
    }
    return ClaimEvidence(
        claim=claim,
        kind=claim_kind(claim, ctx),
        features=features,
        candidates=order[:n_candidates],
        novel_terms=novel_numbers + novel_names,
    )


__all__ = [
    "FEATURES",
    "GENERIC",
    "ClaimEvidence",
    "ClaimKind",
    "ContextIndex",
    "claim_evidence",
    "claim_kind",
    "names",
    "numbers",
    "split_claims",
]
