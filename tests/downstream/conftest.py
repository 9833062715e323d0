"""Fixtures of the fine-tuning tests: XLM-R's real tokenizer, and a tiny model whose small Unigram
vocabulary is trained on the real samples (fast, yet covering their zh/ar/hi text)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


def _texts(realdata: Path) -> list[str]:
    texts: list[str] = []
    for f in sorted(realdata.glob("mlqa/**/*.json")) + [realdata / "squad/train-v1.1.subset.json"]:
        data = json.loads(f.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "data" in data:
            for a in data["data"]:
                for p in a["paragraphs"]:
                    texts.append(p["context"])
                    texts += [q["question"] for q in p["qas"]]
    for f in sorted(realdata.glob("xnli/**/*.tsv")):
        texts += [c for line in f.read_text(encoding="utf-8").splitlines() for c in line.split("\t") if len(c) > 12]
    for f in sorted(realdata.glob("wikiann/*/*")) + sorted(realdata.glob("ner/xglue_ner/*.*")):
        texts.append(" ".join(line.split()[0].split(":", 1)[-1] for line in f.read_text(encoding="utf-8").splitlines()
                              if line.strip()))
    return texts


@pytest.fixture(scope="session")
def small_model(realdata, tmp_path_factory) -> Path:
    """A tiny random XLM-R (64 hidden, 2 layers) with a 2k-piece Unigram vocabulary of the real samples."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmk.modeling import SIZES, quiet_transformers, train_sample_tokenizer

    quiet_transformers()
    out = tmp_path_factory.mktemp("ft-model") / "small"
    tok = train_sample_tokenizer(_texts(realdata), vocab_size=2000)
    cfg = XLMRobertaConfig(vocab_size=len(tok), max_position_embeddings=514, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                           **SIZES["tiny"])
    torch.manual_seed(0)
    XLMRobertaForMaskedLM._from_config(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def xlmr_tokenizer():
    """XLM-R's real 250k-piece tokenizer (special tokens declared: <pad> = 1, <mask> = 250001)."""
    from xlmk.compat import load_xlmr_tokenizer
    from xlmk.modeling import xlmr_tokenizer_file

    return load_xlmr_tokenizer(xlmr_tokenizer_file().parent)


@pytest.fixture(scope="session")
def expected(realdata) -> dict:
    return json.loads((realdata / "expected_values.json").read_text())


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models gain nothing from a second intra-op thread, and on a busy 2-core machine spinning
    OpenMP threads slow every op several-fold; restored afterwards for the other test folders."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
