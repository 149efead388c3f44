"""The transformers generator's own decoding (harness/pipeline/generators/hf_decode.py) on a tiny random
Llama: the same greedy answers as transformers' ``generate()`` on each prompt alone, the system turn's KV
computed once, and rows leaving a batch the step they end.

The session's tiny model writes the same text for every prompt; its weights are drawn again here with a
larger spread, so answers differ and hit the stop string at different steps."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.config import TransformersGeneratorConfig
from harness.pipeline.generators import GENERATORS
from harness.pipeline.protocols import generate_many
from tests.integration.test_batching import requests

STOPS = [" is"]  # the varied model writes it at different points of different answers (or not at all)


@pytest.fixture(scope="module")
def varied_lm_dir(tiny_lm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("varied-lm")
    shutil.copytree(tiny_lm_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    torch.manual_seed(1)
    with torch.no_grad():
        for weights in model.parameters():
            if weights.dim() > 1:
                weights.normal_(0.0, 0.2)
    model.save_pretrained(folder)
    return folder


def build(folder: Path, **options: Any) -> Any:
    return GENERATORS.build(
        TransformersGeneratorConfig(model=str(folder), max_new_tokens=24, device="cpu", stop=STOPS, **options)
    )


@pytest.fixture(scope="module")
def generator(varied_lm_dir: Path) -> Any:
    return build(varied_lm_dir)


def library_generate(generator: Any, request: Any) -> tuple[str, int]:
    """transformers' greedy ``generate()`` on one prompt (no cache given): its text and new-token count."""
    import torch
    from transformers import StoppingCriteriaList, StopStringCriteria

    ids = torch.tensor([generator._prompt_ids(request)])
    with torch.inference_mode():
        out = generator.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=24,
            do_sample=False,
            pad_token_id=generator.tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList([StopStringCriteria(generator.tokenizer, STOPS)]),
        )
    new = out[0, ids.shape[1] :].tolist()
    generation = generator._finish(new, ids.shape[1])
    return generation.text, int(generation.completion_tokens)


class Forwards:
    """The shapes of ``input_ids`` of every forward pass of a model."""

    def __init__(self, model: Any) -> None:
        self.shapes: list[tuple[int, int]] = []
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, _module: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        self.shapes.append(tuple(kwargs["input_ids"].shape))

    def __enter__(self) -> Forwards:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.handle.remove()


def test_batched_rows_match_library_generate_on_each_prompt(generator: Any) -> None:
    reqs = requests()
    expected = [library_generate(generator, r) for r in reqs]
    batched = generate_many(generator, reqs)
    assert [(g.text, g.completion_tokens) for g in batched] == expected
    assert len({n for _, n in expected}) > 2, "rows must end at different steps for the test to mean much"
    assert [g.finish_reason for g in batched].count("stop") >= 2


def test_a_row_leaves_the_batch_the_step_it_ends(generator: Any) -> None:
    reqs = requests()
    generate_many(generator, reqs[:1])  # the system turn's KV is computed here, not in the counted call
    with Forwards(generator.model) as forwards:
        batched = generate_many(generator, reqs)
    decode_rows = sum(rows for rows, width in forwards.shapes if width == 1)
    # the first new token of each row comes from its prefill; every later one from a decode step of the batch
    assert decode_rows == sum(int(g.completion_tokens) - 1 for g in batched)
    assert max(rows for rows, width in forwards.shapes if width == 1) == len(reqs)


def test_the_system_turn_is_prefilled_once(generator: Any, varied_lm_dir: Path) -> None:
    reqs = requests()
    system = generator._template_ids(reqs[0].messages[:1], False)
    prompts = [generator._prompt_ids(r) for r in reqs]
    assert all(p[: len(system)] == system for p in prompts)
    fresh = build(varied_lm_dir)
    with Forwards(fresh.model) as forwards:
        first = generate_many(fresh, reqs[:3])
        again = generate_many(fresh, reqs[3:])
    prefills = [width for rows, width in forwards.shapes if width > 1]
    assert prefills == [len(system)] + [len(p) - len(system) for p in prompts]
    assert [g.text for g in first + again] == [g.text for g in generate_many(generator, reqs)]


def test_without_the_prefix_cache_the_answers_are_the_same(generator: Any, varied_lm_dir: Path) -> None:
    off = build(varied_lm_dir, prefix_cache=False)
    reqs = requests()
    with Forwards(off.model) as forwards:
        answers = generate_many(off, reqs)
    assert [width for _, width in forwards.shapes if width > 1] == [len(off._prompt_ids(r)) for r in reqs]
    assert [g.text for g in answers] == [g.text for g in generate_many(generator, reqs)]
    assert off.describe()["prefix_cache"] is False


def test_decode_generate_is_transformers_generate_on_the_padded_batch(
    generator: Any, varied_lm_dir: Path
) -> None:
    padded = build(varied_lm_dir, decode="generate")
    reqs = requests()
    with Forwards(padded.model) as forwards:
        answers = generate_many(padded, reqs)
    assert forwards.shapes[0][0] == len(reqs), "one batched prefill of every prompt"
    assert [g.text for g in answers] == [g.text for g in generate_many(generator, reqs)]


def test_a_sliding_window_model_falls_back_to_generate(tiny_lm_dir: Path, tmp_path: Path) -> None:
    """Joining and padding caches is only right for plain per-layer KV; a sliding-window cache goes through
    transformers' ``generate()``, with the answers it gives."""
    import torch
    from transformers import AutoConfig, MistralConfig, MistralForCausalLM

    llama = AutoConfig.from_pretrained(tiny_lm_dir)
    shutil.copytree(tiny_lm_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "model.safetensors").unlink()
    torch.manual_seed(2)
    config = MistralConfig(
        vocab_size=llama.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, sliding_window=8, bos_token_id=llama.bos_token_id,
        eos_token_id=llama.eos_token_id, pad_token_id=llama.pad_token_id,
    )  # fmt: skip
    MistralForCausalLM(config).save_pretrained(tmp_path)
    rows, padded = build(tmp_path), build(tmp_path, decode="generate")
    reqs = requests()[:3]
    with Forwards(rows.model) as forwards:
        answers = generate_many(rows, reqs)
    assert (len(reqs), max(len(rows._prompt_ids(r)) for r in reqs)) in forwards.shapes, "a padded prefill"
    assert [g.text for g in answers] == [g.text for g in generate_many(padded, reqs)]


def test_the_joined_cache_is_left_padded_and_written_in_place_until_its_room_is_used() -> None:
    import torch

    from harness.pipeline.generators.hf_decode import _join

    torch.manual_seed(0)
    rows = [torch.randn(1, 2, n, 4) for n in (3, 5)]

    class Row:  # a single-row cache's layer: what ``_join`` reads from each row's cache
        def __init__(self, kv: Any) -> None:
            self.keys, self.values = kv, -kv

    class Single:
        def __init__(self, kv: Any) -> None:
            self.layers = [Row(kv)]

    layer = _join([Single(kv) for kv in rows], [3, 5], room=2).layers[0]
    assert layer.keys.shape == (2, 2, 5, 4)
    assert torch.equal(layer.keys[0, :, :2], torch.zeros(2, 2, 4))  # left padding
    assert torch.equal(layer.keys[0, :, 2:], rows[0][0]) and torch.equal(layer.values[1], -rows[1][0])
    expected = torch.cat([torch.nn.functional.pad(rows[0], (0, 0, 2, 0)), rows[1]])
    storage = layer.keys.data_ptr()
    for step in range(3):  # two steps fit in the room; the third grows the buffer
        new = torch.randn(2, 2, 1, 4)
        expected = torch.cat([expected, new], dim=-2)
        keys, _ = layer.update(new, -new)
        assert torch.equal(keys, expected) and layer.get_seq_length() == 6 + step
        assert (keys.data_ptr() == storage) == (step < 2)
    layer.batch_select_indices(torch.tensor([1]))
    assert torch.equal(layer.keys, expected[1:]) and torch.equal(layer.values, -expected[1:])
