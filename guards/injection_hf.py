"""The ``hf-classifier`` backend: any Hugging Face sequence-classification checkpoint from a local path.

For example ProtectAI's deberta-v3 prompt-injection models or Llama Prompt Guard, downloaded by the user; this
project downloads nothing. Long passages are cut into token windows (``max_length`` tokens with ``stride``
overlap) and a passage scores the highest probability of the injection label over its windows, so an attack in
the middle of a long document is seen. The label is looked up by name in the checkpoint's ``id2label``
(``injection_label``, case-insensitive); a missing label fails loudly with the labels the model has.
"""

from __future__ import annotations

from pathlib import Path

from guards.injection_normalise import normalise
from harness.errors import BackendUnavailable, ConfigError


class HfInjectionClassifier:
    def __init__(
        self,
        model_path: Path,
        injection_label: str = "INJECTION",
        max_length: int = 512,
        stride: int = 64,
        batch_size: int = 8,
        device: str = "cpu",
    ) -> None:
        if not model_path.is_dir():
            raise ConfigError(
                f"injection guard: model_path {model_path} is not a folder with a Hugging Face "
                "checkpoint (config.json, weights, tokenizer)"
            )
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - transformers is a core dependency
            raise BackendUnavailable(f"hf-classifier needs transformers and torch: {exc}") from exc
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
            self.model = AutoModelForSequenceClassification.from_pretrained(str(model_path)).to(device).eval()
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"injection guard: cannot load {model_path} as a sequence classifier: {exc}"
            ) from exc
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        if injection_label.lower() not in labels:
            raise ConfigError(
                f"injection guard: label {injection_label!r} not in the model's labels "
                f"{sorted(self.model.config.id2label.values())}; set injection_label"
            )
        self.label_id = labels[injection_label.lower()]
        limit = getattr(self.tokenizer, "model_max_length", max_length) or max_length
        self.max_length = min(max_length, limit if limit < 100_000 else max_length)
        self.stride = min(stride, self.max_length // 2)
        self.batch_size = batch_size
        self.device = device
        self._torch = torch
        self.model_path = model_path

    def score(self, text: str) -> float:
        """The highest probability of the injection label over the token windows of ``text``."""
        enc = self.tokenizer(
            normalise(text) or " ",
            truncation=True,
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            padding=True,
            return_tensors="pt",
        )
        inputs = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        best = 0.0
        n = int(inputs["input_ids"].shape[0])
        for i in range(0, n, self.batch_size):
            with self._torch.inference_mode():
                batch = {k: v[i : i + self.batch_size].to(self.device) for k, v in inputs.items()}
                logits = self.model(**batch).logits
            probs = logits.float().softmax(-1)[:, self.label_id]
            best = max(best, float(probs.max()))
        return best


__all__ = ["HfInjectionClassifier"]
