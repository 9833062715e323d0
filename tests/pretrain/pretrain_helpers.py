"""Small synthetic worlds, tiny models and process workers for the pre-training tests.

Kept outside conftest.py so that spawned processes and `kind: custom` components can import them.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

LANGS = ("en", "de", "fr")
TEMPLATES = {
    "en": ("{n} is a {k} in {c}.", "People often talk about {m} when they visit {c}.", "the {k} of {c}"),
    "de": ("{n} ist eine {k} in {c}.", "Viele sprechen von {m}, wenn sie {c} besuchen.", "die {k} von {c}"),
    "fr": ("{n} est une {k} de {c}.", "On parle souvent de {m} en visitant {c}.", "la {k} de {c}"),
}
KINDS = {"en": ["city", "river", "mountain"], "de": ["Stadt", "Fluss", "Berg"], "fr": ["ville", "riviere", "montagne"]}
SYL = ["ka", "lo", "mi", "ra", "ven", "dor", "zul", "pe", "thi", "gar", "nos", "bel"]


def entity_names(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    names: list[str] = []
    while len(names) < n:
        w = "".join(rng.choice(SYL, size=3)).capitalize()
        if w not in names:
            names.append(w)
    return names


def write_knowledge(root: Path, n_entities: int = 16, *, langs=LANGS, mentions_per: int = 6,
                    monolingual: tuple[int, ...] = (), with_mentions: bool = True, seed: int = 0) -> Path:
    """A knowledge directory in the layout of CONTRIBUTING.md: every entity is described in every
    language, except the entities in `monolingual` (English only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = entity_names(n_entities + 4, seed)
    countries, names = names[-4:], names[:n_entities]
    qid = {name: f"Q{100 + i}" for i, name in enumerate(names)}
    desc, ment, titles = [], [], []
    for i, name in enumerate(names):
        kind, country = i % 3, countries[i % 4]
        for lang in (("en",) if i in monolingual else langs):
            text = TEMPLATES[lang][0].format(n=name, k=KINDS[lang][kind], c=country) + f" {name} {i}."
            desc.append((qid[name], lang, name, text))
            titles.append((lang, name, qid[name]))
        for j in range(mentions_per):
            lang = langs[j % len(langs)]
            sent = TEMPLATES[lang][1].format(m=name, c=countries[(i + j) % 4])
            start = sent.index(name)
            ment.append((lang, f"Page {j}", sent, start, start + len(name), qid[name]))
    triples = [(qid[names[i]], "P17" if i % 2 else "P131", qid[names[(i + 1 + int(rng.integers(3))) % n_entities]])
               for i in range(n_entities)]
    tables = {
        "descriptions": pa.table(dict(zip(["qid", "lang", "title", "text"], map(list, zip(*desc))))),
        "titles": pa.table(dict(zip(["lang", "title", "qid"], map(list, zip(*titles))))),
        "triples": pa.table(dict(zip(["subject", "relation", "object"], map(list, zip(*triples))))),
        "relations": pa.table({"pid": ["P17", "P131"], "label": ["country", "located in"]}),
    }
    if with_mentions:
        cols = list(zip(*ment))
        tables["mentions"] = pa.table({"lang": list(cols[0]), "page_title": list(cols[1]), "text": list(cols[2]),
                                       "start": pa.array(cols[3], pa.int32()), "end": pa.array(cols[4], pa.int32()),
                                       "qid": list(cols[5])})
    for name, table in tables.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / name / "part-00000.parquet")
    (root / "manifest.json").write_text(json.dumps({"counts": {k: t.num_rows for k, t in tables.items()},
                                                    "seed": seed, "n": n_entities}))
    return root


def write_corpus(root: Path, n_lines: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    names = entity_names(20, seed)
    root.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        lines = [TEMPLATES[lang][0].format(n=rng.choice(names), k=rng.choice(KINDS[lang]), c=rng.choice(names))
                 for _ in range(n_lines)]
        (root / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_tiny_model(out: Path, texts: list[str], *, hidden: int = 32, vocab: int = 400, seed: int = 0,
                     extra_vocab: int = 0) -> Path:
    """A tiny XLM-R with dropout off (runs compare bitwise) and a Unigram tokenizer trained on `texts`."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmk.modeling import quiet_transformers, train_sample_tokenizer

    quiet_transformers()
    tok = train_sample_tokenizer(texts, vocab_size=vocab)
    torch.manual_seed(seed)
    cfg = XLMRobertaConfig(vocab_size=len(tok) - extra_vocab, hidden_size=hidden, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=130,
                           type_vocab_size=1, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                           eos_token_id=tok.eos_token_id, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = XLMRobertaForMaskedLM._from_config(cfg, attn_implementation="eager")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def world_texts(kdir: Path, corpus: Path) -> list[str]:
    import pyarrow.parquet as pq

    texts = pq.read_table(kdir / "descriptions").column("text").to_pylist()
    if (kdir / "mentions").is_dir():
        texts += pq.read_table(kdir / "mentions").column("text").to_pylist()
    for f in sorted(corpus.glob("*.txt")):
        texts += f.read_text(encoding="utf-8").splitlines()
    return texts


def recipe_dict(model: Path, kdir: Path, corpus: Path, cache: Path, out: Path) -> dict:
    """A recipe that trains in a second or two on the synthetic world."""
    return {
        "name": "test-tiny",
        "seed": 3,
        "encoder": {"kind": "hf-masked-lm", "path": str(model)},
        "data": {"knowledge": {"kind": "knowledge-dir", "path": str(kdir)},
                 "corpus": {"kind": "text-corpus", "paths": [str(corpus / "*.txt")]},
                 "heldout": 0.1, "cache_dir": str(cache)},
        "tasks": {"mlm": {"max_length": 32}, "mep": {"max_length": 32}, "oe": {"max_length": 32}},
        "queue": {"kind": "fifo", "size": 16},
        "optim": {"name": "adamw", "lr": 2e-3, "warmup_steps": 2, "max_steps": 6},
        "batch": {"effective_size": 8, "micro_size": 8, "bucket_pool": 2},
        "run": {"precision": "fp32", "log_every": 1, "save_every": 2, "keep_last": 10, "output_dir": str(out),
                "heldout_batch": 4, "heldout_max": 16},
    }


# ---------------------------------------------------------------- a loss that turns non-finite
def nan_after(calls: int = 3):
    """A contrastive loss that returns NaN from its `calls`-th call on (guard-rail tests)."""
    from xlmk.pretrain.losses import contrastive_loss

    state = {"n": 0}

    def loss(*args, **kwargs):
        state["n"] += 1
        out = contrastive_loss(*args, **kwargs)
        if state["n"] >= calls:
            out.loss = out.loss * float("nan")
        return out

    return loss


# ---------------------------------------------------------------- distributed workers
def _init(rank: int, world: int, init_file: str) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      OMP_NUM_THREADS="1", XLMK_QUIET="1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)


def _finish() -> None:
    import gc

    import torch.distributed as dist

    gc.collect()
    if dist.is_initialized():  # see ENVIRONMENT.md: a clean shutdown avoids an abort at exit
        dist.barrier()
        dist.destroy_process_group()


def train_worker(rank: int, world: int, init_file: str, recipe: dict, out: str) -> None:
    from xlmk.config import recipe_to_yaml
    from xlmk.pretrain.loop import train
    from xlmk.pretrain.recipe import PretrainRecipe

    _init(rank, world, init_file)
    r = PretrainRecipe.model_validate(recipe)
    train(r, Path(out), recipe_to_yaml(r))
    _finish()


def gather_worker(rank: int, world: int, init_file: str, out: str) -> None:
    """Unequal batches: rank 0 holds 3 keys, rank 1 holds 2; check values, offsets and gradients."""
    import torch

    from xlmk.pretrain.model import gather

    _init(rank, world, init_file)
    n = 3 if rank == 0 else 2
    x = (torch.arange(n * 2, dtype=torch.float32).view(n, 2) + 100 * rank).requires_grad_(True)
    ids = torch.arange(n) + 10 * rank
    full, offset, sizes = gather(x, grad=True)
    all_ids, _, _ = gather(ids, sizes=sizes)
    (full.sum(dim=1) * (rank + 1)).sum().backward()
    Path(out, f"rank{rank}.json").write_text(json.dumps({
        "full": full.tolist(), "offset": offset, "sizes": sizes, "ids": all_ids.tolist(), "grad": x.grad.tolist()}))
    _finish()
