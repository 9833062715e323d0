"""Tiny offline models: every AutoModel* loads them offline, and their tokenizers give offsets."""
from __future__ import annotations

import pytest
import torch

from xlmk.errors import TrainingError
from xlmk.modeling import check_vocab, init_model, load_masked_lm, model_hash

AUTO = ["AutoModelForMaskedLM", "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
        "AutoModelForQuestionAnswering"]


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_xlmr_model"])
def test_tiny_model_loads_through_every_auto_class(fixture, request):
    import transformers

    path = request.getfixturevalue(fixture)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    for name in AUTO:
        model = getattr(transformers, name).from_pretrained(path)
        assert model.config.vocab_size == len(tok)
    enc = tok("Paris is the capital of France.", "巴黎是法国的首都。", return_offsets_mapping=True)
    assert tok.mask_token == "<mask>" and tok.convert_tokens_to_ids("<mask>") == tok.mask_token_id
    assert enc["input_ids"][0] == tok.cls_token_id
    spans = [(s, e) for s, e in enc["offset_mapping"] if e > s]
    assert spans and all(0 <= s < e for s, e in spans)


def test_xlmr_tokenizer_is_the_real_vocabulary(tiny_xlmr_model):
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(tiny_xlmr_model)
    assert len(tok) == 250002 and tok.mask_token_id == 250001 and tok.pad_token_id == 1
    assert tok.tokenize("Hello world") == ["▁Hello", "▁world"]


def test_init_is_seeded_and_predicts_masks(tmp_path, tiny_model):
    a = init_model(tmp_path / "a", seed=3)
    b = init_model(tmp_path / "b", seed=3)
    assert model_hash(a) == model_hash(b)
    model, tok = load_masked_lm(str(a))
    with torch.no_grad():
        out = model(**tok(f"Paris is the capital of {tok.mask_token} .", return_tensors="pt"))
    assert out.logits.shape[-1] == len(tok)


def test_vocab_mismatch_is_refused(tiny_model, tiny_xlmr_model):
    import transformers

    small = transformers.AutoModelForMaskedLM.from_pretrained(tiny_model)
    big_tok = transformers.AutoTokenizer.from_pretrained(tiny_xlmr_model)
    with pytest.raises(TrainingError, match="do not belong together"):
        check_vocab(small, big_tok, "m")
