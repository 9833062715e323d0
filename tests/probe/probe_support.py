"""Building blocks of the probing tests: tiny hand-built masked LMs and a knowledge directory in the documented layout.

The tokenizer's vocabulary is written by hand (whole-word pieces for the words a test needs), so which
objects are one token is known; `pin_head` makes the LM head's output equal its bias at every position,
so every rank and log-probability a probe reports can be computed by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
WORDS = ["Paris", "Berlin", "Rome", "London", "Lebanon", "Columbus", "Glasgow", "Madrid", "Germany", "Canada",
         "was", "born", "in", "died", "is", "a", "the", "capital", "of", "city", "located", "think", "gold", "arm"]


def make_tokenizer(words=WORDS, texts=()):
    """XLM-R style tokenizer: whole-word pieces for `words`, single characters for everything else."""
    from xlmk.compat import xlmr_tokenizer_from_vocab

    chars = sorted({c for t in list(words) + list(texts) for c in t if not c.isspace()})
    vocab = [(s, 0.0) for s in SPECIALS] + [("▁" + w, -1.0) for w in words]
    vocab += [("▁", -5.0)] + [(c, -8.0) for c in chars] + [("▁" + c, -8.5) for c in chars]
    seen, uniq = set(), []
    for piece, score in vocab:
        if piece not in seen:
            seen.add(piece)
            uniq.append((piece, score))
    return xlmr_tokenizer_from_vocab(uniq + [("<mask>", 0.0)])


def make_model(tok, seed: int = 0, hidden: int = 32):
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    torch.manual_seed(seed)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=2 * hidden, max_position_embeddings=130, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    return XLMRobertaForMaskedLM._from_config(cfg, attn_implementation="eager").eval()


def pin_head(model, bias: dict[int, float]):
    """Make the LM head output exactly `bias` (others 0) at every position."""
    head = model.lm_head
    with torch.no_grad():
        head.layer_norm.weight.zero_()
        head.layer_norm.bias.zero_()
        head.bias.zero_()
        for i, v in bias.items():
            head.bias[i] = v
        if head.decoder.bias is not None and head.decoder.bias.data_ptr() != head.bias.data_ptr():
            head.decoder.bias.copy_(head.bias)
    return model


def save(model, tok, path: Path) -> Path:
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------- knowledge directory
ENTITIES = {  # qid: {lang: (title, description)}
    "Q1": {"en": ("Paris", "Paris is the capital of France."), "de": ("Paris", "Paris ist die Hauptstadt Frankreichs.")},
    "Q2": {"en": ("France", "France is a country in Europe."), "de": ("Frankreich", "Frankreich ist ein Staat in Europa.")},
    "Q3": {"en": ("Berlin", "Berlin is the capital of Germany."), "de": ("Berlin", "Berlin ist die Hauptstadt Deutschlands.")},
    "Q4": {"en": ("Germany", "Germany is a country in Europe."), "de": ("Deutschland", "Deutschland ist ein Staat.")},
    "Q5": {"en": ("Rome", "Rome is the capital of Italy."), "zh": ("罗马", "罗马是意大利的首都。")},
    "Q6": {"en": ("Italy", "Italy is a country."), "de": ("Italien", "Italien ist ein Staat."), "zh": ("意大利", "意大利是一个国家。")},
    "Q7": {"en": ("Madrid", "Madrid is the capital of Spain.")},
    "Q8": {"de": ("Spanien", "Spanien ist ein Staat.")},
}
MENTIONS = [  # lang, sentence, mention, qid
    ("en", "He was born in Paris in 1900.", "Paris", "Q1"),
    ("en", "Berlin is a large city.", "Berlin", "Q3"),
    ("en", "She moved to Rome.", "Rome", "Q5"),
    ("en", "Madrid is hot in summer.", "Madrid", "Q7"),   # Q7 is described in English only
    ("en", "They visited Italy twice.", "Italy", "Q6"),
    ("de", "Er lebt in Paris.", "Paris", "Q1"),
    ("de", "Deutschland liegt in Europa.", "Deutschland", "Q4"),
    ("de", "Frankreich ist schön.", "Frankreich", "Q2"),
]
TRIPLES = [("Q1", "P17", "Q2"), ("Q3", "P17", "Q4"), ("Q5", "P17", "Q6"), ("Q7", "P17", "Q8"),
           ("Q2", "P36", "Q1"), ("Q4", "P36", "Q3"), ("Q6", "P36", "Q5"), ("Q1", "P31", "Q3"), ("Q1", "P31", "Q5")]


def write_knowledge(root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from xlmk.knowledge.schema import schema

    def table(name, rows):
        (root / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=schema(name)), root / name / "part-00000.parquet", row_group_size=3)

    table("titles", [{"lang": lang, "title": t, "qid": q} for q, d in ENTITIES.items() for lang, (t, _) in d.items()])
    table("descriptions", [{"qid": q, "lang": lang, "title": t, "text": x} for q, d in ENTITIES.items() for lang, (t, x) in d.items()])
    table("mentions", [{"lang": lang, "page_title": "p", "text": s, "start": s.index(m), "end": s.index(m) + len(m), "qid": q}
                       for lang, s, m, q in MENTIONS])
    table("triples", [{"subject": s, "relation": r, "object": o} for s, r, o in TRIPLES])
    table("relations", [{"pid": "P17", "label": "country"}, {"pid": "P36", "label": "capital"}, {"pid": "P31", "label": "instance of"}])
    (root / "manifest.json").write_text(json.dumps({"format": 1, "tables": ["titles", "mentions", "descriptions", "triples", "relations"]}))
    return root


def vocabulary_probe(*, model, tokenizer, device, recipe, out_dir, min_length=1):
    """A custom probe for the tests: the share of vocabulary pieces at least `min_length` long."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    long = sum(len(p.lstrip("▁")) >= min_length for p in pieces)
    return [{"metric": "long-pieces", "value": 100.0 * long / len(pieces), "n": len(pieces), "subset": "vocabulary"}]
