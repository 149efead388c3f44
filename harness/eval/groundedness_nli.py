"""The ``nli`` groundedness backend: any Hugging Face sequence-classification checkpoint from a local path.

An HHEM, MiniCheck or cross-encoder NLI model a user has (nothing is downloaded: ``local_files_only``). Each
counted claim is scored against the context as (premise = context window, hypothesis = claim); its support is
the probability of the entailment label, the highest over the windows. Long contexts are cut into windows of
whole sentences that fit ``max_tokens`` with the claim, overlapping by one sentence. The answer's faithfulness
is the lowest support of its counted claims (generic discourse, hedges and restatements of the question do not
count), so length is not penalised.

The entailment label is ``hallucination.entailment_label`` (an index or a label name), else the label whose
name contains "entail", "consistent", "support" or "faithful", else index 1 of a two-label model; a one-logit
model (HHEM-style) is read through a sigmoid.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.eval.groundedness import ClaimSupport, Groundedness, _result
from harness.eval.groundedness_features import ContextIndex, claim_kind, split_claims

_ENTAILMENT_NAMES = ("entail", "consistent", "support", "faithful")


def entailment_index(id2label: dict[int, str], num_labels: int, wanted: int | str | None) -> int:
    if isinstance(wanted, int):
        if not 0 <= wanted < num_labels:
            raise ConfigError(
                f"hallucination.entailment_label: {wanted} is not a label index of a {num_labels}-label model"
            )
        return wanted
    labels = {int(k): str(v) for k, v in id2label.items()}
    if isinstance(wanted, str):
        for k, v in labels.items():
            if v.lower() == wanted.lower():
                return k
        raise ConfigError(
            f"hallucination.entailment_label: {wanted!r} is not one of the model's labels "
            f"{sorted(labels.values())}"
        )
    for k, v in sorted(labels.items()):
        if any(name in v.lower() for name in _ENTAILMENT_NAMES):
            return k
    if num_labels == 2:
        return 1
    raise ConfigError(
        f"cannot tell which of the labels {sorted(labels.values())} means entailment: set "
        "hallucination.entailment_label"
    )


class NliGroundednessScorer:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        entailment: int,
        max_tokens: int = 512,
        batch_size: int = 16,
        claim_threshold: float = 0.5,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.entailment = entailment
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.claim_threshold = claim_threshold

    @classmethod
    def from_config(cls, config: Any) -> NliGroundednessScorer:
        path = config.model_path
        if path is None:
            raise ConfigError("hallucination.model_path: the nli backend needs a local checkpoint folder")
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(
                f"hallucination.model_path: {path}: no such folder (a Hugging Face checkpoint "
                "saved with save_pretrained)"
            )
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        trust = bool(getattr(config, "trust_remote_code", False))
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust)
            model = AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True, trust_remote_code=trust
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"hallucination.model_path: {path}: cannot load a sequence-classification model: {exc}"
            ) from None
        num_labels = int(model.config.num_labels)
        index = (
            0
            if num_labels == 1
            else entailment_index(model.config.id2label, num_labels, config.entailment_label)
        )
        return cls(
            model,
            tokenizer,
            entailment=index,
            max_tokens=config.max_tokens,
            claim_threshold=config.claim_threshold if config.claim_threshold is not None else 0.5,
        )

    def _windows(self, sentences: list[str], claim_tokens: int) -> list[str]:
        budget = max(self.max_tokens - claim_tokens - 4, 16)
        lengths = [len(self.tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sentences]
        windows, start = [], 0
        while start < len(sentences):
            end, used = start, 0
            while end < len(sentences) and (end == start or used + lengths[end] <= budget):
                used += lengths[end]
                end += 1
            windows.append(" ".join(sentences[start:end]))
            if end >= len(sentences):
                break
            start = max(end - 1, start + 1)  # one sentence of overlap
        return windows

    def entailment_probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        import torch

        out = []
        for i in range(0, len(pairs), self.batch_size):
            batch = pairs[i : i + self.batch_size]
            enc = self.tokenizer(
                [p for p, _ in batch],
                [h for _, h in batch],
                truncation="only_first",
                max_length=self.max_tokens,
                padding=True,
                return_tensors="pt",
                return_token_type_ids="token_type_ids" in self.tokenizer.model_input_names,
            )
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            if logits.shape[-1] == 1:
                probs = torch.sigmoid(logits[:, 0])
            else:
                probs = torch.softmax(logits, dim=-1)[:, self.entailment]
            out.append(probs.cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def score(self, answer: str, passages: Sequence[str], question: str = "") -> Groundedness:
        ctx = ContextIndex.build(list(passages), question)
        claims = split_claims(answer)
        kinds = [claim_kind(c, ctx) for c in claims]
        pairs, owner = [], []
        for i, (claim, kind) in enumerate(zip(claims, kinds, strict=False)):
            if kind != "fact":
                continue
            n_tokens = len(self.tokenizer(claim, add_special_tokens=False)["input_ids"])
            for window in self._windows([s for s in ctx.sentences if s], n_tokens) or [""]:
                pairs.append((window, claim))
                owner.append(i)
        probs = self.entailment_probabilities(pairs)
        best: dict[int, tuple[float, str]] = {}
        for i, p, (window, _) in zip(owner, probs, pairs, strict=False):
            if i not in best or p > best[i][0]:
                best[i] = (float(p), window)
        results = []
        for i, (claim, kind) in enumerate(zip(claims, kinds, strict=False)):
            support, window = best.get(i, (1.0, ""))
            results.append(
                ClaimSupport(
                    claim=claim,
                    kind=kind,
                    counted=kind == "fact",
                    support=round(support, 6),
                    best_sentence=window,
                )
            )
        counted = [c.support for c in results if c.counted]
        return _result(results, min(counted) if counted else 1.0, self.claim_threshold)

    def score_many(
        self, items: Sequence[tuple[str, Sequence[str], str]], batch_size: int = 64
    ) -> list[Groundedness]:
        """One answer at a time (each answer's pairs are batched by ``self.batch_size``)."""
        return [self.score(*item) for item in items]

    def decide_many(
        self, items: Sequence[tuple[str, Sequence[str], str]], threshold: float | None = None
    ) -> list[Groundedness]:
        """Exact scores: an entailment model has no cheap bound to decide without it."""
        return self.score_many(items)


__all__ = ["NliGroundednessScorer", "entailment_index"]
