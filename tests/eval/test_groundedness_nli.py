"""The `nli` groundedness backend with a tiny random-weight BERT classifier built here (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import HallucinationConfig
from harness.errors import ConfigError
from harness.eval.groundedness import GROUNDEDNESS, build_groundedness
from harness.eval.groundedness_nli import NliGroundednessScorer, entailment_index

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_nli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-nli")
    corpus = (REPO / "golden_sets" / "demo_corpus" / "policies" / "travel.md").read_text().splitlines()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus * 3, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(fast),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=3,
        id2label={0: "contradiction", 1: "neutral", 2: "entailment"},
        label2id={"contradiction": 0, "neutral": 1, "entailment": 2},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_the_nli_backend_scores_each_claim_with_its_entailment_probability(tiny_nli_dir: Path) -> None:
    config = HallucinationConfig(backend="nli", model_path=tiny_nli_dir, max_tokens=64)
    scorer = build_groundedness(config)
    assert isinstance(scorer, NliGroundednessScorer) and scorer.entailment == 2
    context = [
        "Hotels: the nightly cap is 180 EUR in Berlin. " * 3,
        "Taxis are reimbursed between airports and hotels, and after 22:00. Rental cars need approval.",
    ]
    result = scorer.score(
        "Here is what the documents say. The cap is 180 EUR [1]. Taxis are reimbursed.", context
    )
    kinds = [(c.claim, c.kind, c.counted) for c in result.claims]
    assert kinds[0] == ("Here is what the documents say.", "generic", False)
    counted = [c for c in result.claims if c.counted]
    assert len(counted) == 2 and all(0.0 < c.support < 1.0 for c in counted)
    assert result.faithfulness == pytest.approx(min(c.support for c in counted))
    # windows: a 64-token budget cuts this context into several overlapping windows of whole sentences
    windows = scorer._windows([s for p in context for s in p.split(". ")], 8)
    assert len(windows) >= 2
    # the same checkpoint, the same scores
    again = build_groundedness(config).score("The cap is 180 EUR [1]. Taxis are reimbursed.", context)
    assert [c.support for c in again.claims] == [c.support for c in counted]


def test_the_nli_backend_fails_loudly_on_a_missing_or_wrong_path(tmp_path: Path, tiny_nli_dir: Path) -> None:
    with pytest.raises(ValueError, match="needs model_path"):
        HallucinationConfig(backend="nli")
    with pytest.raises(ValueError, match="no such folder"):
        HallucinationConfig(backend="nli", model_path=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load"):
        GROUNDEDNESS.build(HallucinationConfig(backend="nli", model_path=tmp_path / "empty"))
    with pytest.raises(ConfigError, match="not one of the model's labels"):
        build_groundedness(
            HallucinationConfig(backend="nli", model_path=tiny_nli_dir, entailment_label="yes")
        )


def test_entailment_label_resolution() -> None:
    assert entailment_index({0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}, 3, None) == 0
    assert entailment_index({0: "hallucinated", 1: "consistent"}, 2, None) == 1
    assert entailment_index({0: "LABEL_0", 1: "LABEL_1"}, 2, None) == 1
    assert entailment_index({0: "a", 1: "b", 2: "c"}, 3, "B") == 1
    assert entailment_index({0: "a", 1: "b", 2: "c"}, 3, 2) == 2
    with pytest.raises(ConfigError, match="set hallucination.entailment_label"):
        entailment_index({0: "a", 1: "b", 2: "c"}, 3, None)
    with pytest.raises(ConfigError):
        entailment_index({0: "a", 1: "b"}, 2, 5)
