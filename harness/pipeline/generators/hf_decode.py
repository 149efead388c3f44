"""Greedy decoding for the transformers generator: a shared prompt prefix computed once, each prompt's prefill
alone, then the decode steps of a batch together, each row leaving the batch the step it finishes.

Why this shape, on a CPU (measured on the 2-core reference machine with SmolLM2-135M, fp32):

- prefill is compute bound, so batching prompts saves nothing and left padding to the longest prompt wastes
  compute; each prompt is prefilled alone (the numerics of a batch of one) on top of a copy of the KV of the
  prefix every prompt shares (the chat template's system turn, about 60 tokens of SmolLM2's 350-600 token
  prompts);
- a decode step reads every weight once whatever the batch, so the rows' caches are joined (left-padded) and
  decoded together: one step of 8 rows costs about 2.5 times a step of one row, not 8 times;
- a joined cache (2+ rows) reserves room for ``max_new_tokens`` up front and each step writes its token's KV
  into it (``DynamicCache`` concatenates, copying every layer's whole KV each step: 175 of 470 ms a step for 8
  rows of 450 tokens, by the torch profiler; 18 of 95 ms for one row, where reserving measured no faster);
- a row leaves the batch (``batch_select_indices``) the step it ends, so a short answer does not pay for the
  batch's longest one, which is what made a plain batched ``generate()`` no faster than one prompt at a time.

Stopping is ``generate()``'s: end of sequence, ``max_new_tokens``, and the generator's stopping criteria
(``StopStringCriteria``) applied to each row's prompt and tokens so far. transformers' own continuous batching
(``generate_batch``, 5.23) was tried on 8 demo prompts: it sizes its paged cache and static buffers from the
machine's memory (about 30 s of set-up per call here), and with them sized by hand it still took 19% more CPU
than one prompt at a time (given no stop strings, it also decoded past them), so it is not used.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

PREFIX_CACHE_SIZE = 4  # distinct system prompts kept (a scenario has one; guards may decorate it)


class PrefixKV:
    """The KV of token prefixes (key: the prefix's token ids), computed once and reused read-only."""

    def __init__(self, model: Any, size: int = PREFIX_CACHE_SIZE) -> None:
        self.model = model
        self.size = size
        self._kv: OrderedDict[tuple[int, ...], list[tuple[Any, Any]]] = OrderedDict()

    def cache_for(self, prefix: Sequence[int]) -> Any:
        """A new ``DynamicCache`` holding ``prefix``'s KV (computed on first use; layers grow by
        concatenation, so the stored tensors are never written)."""
        from transformers import DynamicCache

        key = tuple(prefix)
        if key not in self._kv:
            import torch

            cache = empty_cache(self.model)
            ids = torch.tensor([list(prefix)], device=self.model.device)
            self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            self._kv[key] = [(layer.keys, layer.values) for layer in cache.layers]
            while len(self._kv) > self.size:
                self._kv.popitem(last=False)
        self._kv.move_to_end(key)
        return DynamicCache(self._kv[key], config=self.model.config)


def shared_prefix(prompt: Sequence[int], prefix: Sequence[int]) -> int:
    """How many leading tokens of ``prompt`` come from the prefix cache: all of ``prefix`` if ``prompt``
    starts with it and is longer, else none."""
    n = len(prefix)
    return n if 0 < n < len(prompt) and list(prompt[:n]) == list(prefix) else 0


def empty_cache(model: Any) -> Any:
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def _plain_layers(cache: Any) -> bool:
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in cache.layers)


def _prefill(model: Any, prompt: Sequence[int], cache: Any, start: int) -> tuple[Any, int]:
    """Run ``prompt[start:]`` on ``cache`` (holding ``prompt[:start]``); the cache and the first new token."""
    import torch

    ids = torch.tensor([list(prompt[start:])], device=model.device)
    mask = torch.ones((1, len(prompt)), dtype=torch.long, device=model.device)
    out = model(input_ids=ids, attention_mask=mask, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.past_key_values, int(out.logits[0, -1].argmax())


@functools.cache
def _reserved_layer() -> type:
    """``DynamicLayer`` with room for the decode steps reserved up front (built on first use, so importing
    this module does not import transformers)."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):  # type: ignore[misc]
        """One layer's KV in a buffer with room for ``room`` more tokens: a decode step writes its token into
        the room instead of concatenating (``DynamicLayer.update`` copies the whole cache each step: 15% of a
        step of one row, half of a step of 8 rows, on the reference machine). ``keys``/``values`` are views of
        the filled part, so the attention reads the same numbers it reads from a ``DynamicLayer``."""

        def __init__(self, rows: Any, lengths: Sequence[int], room: int) -> None:
            super().__init__()
            first_keys = rows[0][0]
            width = max(lengths)
            shape = (len(rows), first_keys.shape[1], width + room, first_keys.shape[3])
            self._k = first_keys.new_zeros(shape)
            self._v = first_keys.new_zeros(shape)
            for i, ((keys, values), n) in enumerate(zip(rows, lengths, strict=True)):
                self._k[i, :, width - n : width] = keys[0]  # left-padded: every row ends at ``width``
                self._v[i, :, width - n : width] = values[0]
            self.dtype, self.device = first_keys.dtype, first_keys.device
            self.is_initialized = True
            self._view(width)

        def _view(self, n: int) -> None:
            self._n = n
            self.keys, self.values = self._k[:, :, :n], self._v[:, :, :n]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            import torch

            end = self._n + key_states.shape[-2]
            if end > self._k.shape[-2]:  # out of room: grow (not reached by greedy_decode)
                extra = (0, 0, 0, end - self._k.shape[-2])
                self._k = torch.nn.functional.pad(self._k, extra)
                self._v = torch.nn.functional.pad(self._v, extra)
            self._k[:, :, self._n : end] = key_states
            self._v[:, :, self._n : end] = value_states
            self._view(end)
            return self.keys, self.values

        def batch_select_indices(self, indices: Any) -> None:
            self._k, self._v = self._k[indices], self._v[indices]
            self._view(self._n)

    return ReservedLayer


def _join(caches: Sequence[Any], lengths: Sequence[int], room: int) -> Any:
    """One left-padded cache from single-row caches of ``lengths`` tokens, with room for ``room`` more."""
    from transformers.cache_utils import Cache

    layer = _reserved_layer()
    per_layer = zip(*(c.layers for c in caches), strict=True)
    return Cache(layers=[layer([(x.keys, x.values) for x in rows], lengths, room) for rows in per_layer])


def greedy_decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    prefixes: Sequence[Sequence[int]],
    prefix_kv: PrefixKV | None,
    max_new_tokens: int,
    eos_token_id: int | None,
    pad_token_id: int,
    criteria: Sequence[Any] = (),
) -> list[list[int]] | None:
    """The greedy new tokens of each prompt (up to and including the token that ended it). A prompt that
    starts with its entry of ``prefixes`` (and is longer) reuses that prefix's KV from ``prefix_kv``. None
    when the model's cache is not plain per-layer KV (sliding windows, linear attention): the caller then uses
    ``generate()``. Call under ``torch.inference_mode()``."""
    import torch

    caches: list[Any] = []
    firsts: list[int] = []
    for prompt, prefix in zip(prompts, prefixes, strict=True):
        start = shared_prefix(prompt, prefix) if prefix_kv is not None else 0
        cache = prefix_kv.cache_for(prefix) if start and prefix_kv is not None else empty_cache(model)
        cache, first = _prefill(model, prompt, cache, start)
        if not _plain_layers(cache):
            return None
        caches.append(cache)
        firsts.append(first)
    lengths = [len(p) for p in prompts]
    width = max(lengths)
    device = model.device
    # A batch of one keeps its own DynamicCache: reserving room measured no faster there (6 prompts, 3
    # interleaved rounds), and its decode stays exactly the one measured before the reserved cache.
    cache = _join(caches, lengths, max_new_tokens) if len(caches) > 1 else caches[0]
    del caches  # the rows' own caches (a joined cache holds copies; a batch of one keeps its own)
    mask = torch.tensor([[0] * (width - n) + [1] * n for n in lengths], dtype=torch.long, device=device)
    seqs = torch.tensor([[pad_token_id] * (width - len(p)) + list(p) for p in prompts], device=device)
    positions = torch.tensor(lengths, device=device)
    token = torch.tensor(firsts, device=device)
    live = list(range(len(prompts)))  # prompt index of each batch row
    out: list[list[int]] = [[] for _ in prompts]
    for step in range(max_new_tokens):
        seqs = torch.cat([seqs, token[:, None]], dim=1)
        for row, t in zip(live, token.tolist(), strict=True):
            out[row].append(t)
        done = torch.zeros(len(live), dtype=torch.bool, device=device)
        if eos_token_id is not None:
            done |= token == eos_token_id
        for criterion in criteria:
            done |= criterion(seqs, None).to(device)
        if step == max_new_tokens - 1 or bool(done.all()):
            break
        if bool(done.any()):
            keep = (~done).nonzero().flatten()
            cache.batch_select_indices(keep)
            mask, seqs, positions, token = mask[keep], seqs[keep], positions[keep], token[keep]
            live = [live[i] for i in keep.tolist()]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        logits = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=positions[:, None],
            past_key_values=cache,
            use_cache=True,
        ).logits
        token = logits[:, -1].argmax(dim=-1)
        positions = positions + 1
    return out


__all__ = ["PrefixKV", "empty_cache", "greedy_decode", "shared_prefix"]
