"""A deterministic extractive baseline: answer with the retrieved sentences that best support the question.

It needs no LLM, so CI can run the whole pipeline in seconds, and it gives a floor that an LLM generator
should beat. Each sentence is scored by the mean of two cosine similarities to the question, its own and
its passage's retrieval score (so a sentence is read in its retrieved context), plus a small bonus for the
question's content words it contains; when the best score is below ``min_support`` it declines. Sentences and
content words are :mod:`harness.text`'s (:func:`~harness.text.prose_sentences`,
:func:`~harness.text.content_words`), as for groundedness and abstention.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from harness.config import ExtractiveGeneratorConfig
from harness.errors import ConfigError
from harness.pipeline.generators import GENERATORS
from harness.pipeline.protocols import BaseGenerator, Embedder, Generation, GenerationRequest, TokenStream
from harness.registry import BuildContext
from harness.text import content_words, prose_sentences

DECLINE = "I don't know based on the provided documents."

LEXICAL_WEIGHT = 0.25
_CITED_SENTENCE = re.compile(r"\S.*?(?: \[\d+\]|$)(?= |$)")  # one chosen sentence and its [n]


class ExtractiveGenerator(BaseGenerator):
    def __init__(self, config: ExtractiveGeneratorConfig, embedder: Embedder) -> None:
        self.config = config
        self.embedder = embedder

    def generate(self, request: GenerationRequest) -> Generation:
        candidates = [(p.number, s) for p in request.passages for s in prose_sentences(p.text)]
        passage_score = {p.number: p.score for p in request.passages}
        if not candidates:
            return Generation(text=DECLINE, finish_reason="no_passages", model="extractive")
        question_vec = self.embedder.embed([request.question], kind="query")[0]
        sentence_vecs = self.embedder.embed([s for _, s in candidates], kind="passage")
        cosine = sentence_vecs @ question_vec
        q_words = set(content_words(request.question))
        lexical = np.array(
            [len(q_words.intersection(content_words(s))) / max(len(q_words), 1) for _, s in candidates]
        )
        context = np.array([passage_score[n] for n, _ in candidates], dtype=np.float32)
        scores = 0.5 * (cosine + context) + LEXICAL_WEIGHT * lexical
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        if best < self.config.min_support:
            return Generation(text=DECLINE, finish_reason="low_support", model="extractive")
        chosen = [i for i in order[: self.config.max_sentences] if scores[i] >= best - 0.1]
        chosen.sort()  # keep passage order so the answer reads naturally
        text = " ".join(f"{candidates[i][1]} [{candidates[i][0]}]" for i in chosen)
        return Generation(text=text, finish_reason="stop", model="extractive")

    def stream(self, request: GenerationRequest) -> TokenStream:
        """The answer sentence by sentence (each with its citation), the first without a leading space."""
        generation = self.generate(request)
        pieces = [s if i == 0 else " " + s for i, s in enumerate(_CITED_SENTENCE.findall(generation.text))]
        yield from (pieces if "".join(pieces) == generation.text else [generation.text])
        return generation

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "extractive",
            "max_sentences": self.config.max_sentences,
            "min_support": self.config.min_support,
        }


@GENERATORS.register("extractive")
def build(config: ExtractiveGeneratorConfig, *, ctx: BuildContext) -> ExtractiveGenerator:
    if ctx.embedder is None:
        raise ConfigError("the extractive generator needs the pipeline's embedder")
    return ExtractiveGenerator(config, ctx.embedder)
