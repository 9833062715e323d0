"""Pre-training throughput against a bare forward/backward/step of the same encoder, and the memory of
the queue and heads.

The engine's step = drawing and collating the micro-batch + encoder + heads + gathered keys + queue +
losses + backward + AdamW + queue push. The baseline runs the same encoder on the very same padded
tensors with nothing else (`baselines.bare_loss`): the LM head at the predicted positions and a
cross-entropy for MLM batches, a mean of the hidden states for the knowledge batches. Tokens/s of both
are measured in the same run, alternating rounds; the ratio is printed (goal >= 0.9: queue, heads and
data add at most 10%). Nothing is asserted about absolute speed.

Run: `make bench` or `pytest benchmarks/test_pretrain_bench.py --benchmark-only -s`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pretrain"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import baselines as B  # noqa: E402
import pretrain_helpers as H  # noqa: E402

HIDDEN, MAXLEN, MICRO, ROUNDS = 128, 64, 16, 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmk.modeling import quiet_transformers, train_sample_tokenizer

    quiet_transformers()
    root = tmp_path_factory.mktemp("bench")
    kdir = H.write_knowledge(root / "k", n_entities=64, mentions_per=12)
    corpus = H.write_corpus(root / "c", n_lines=400)
    tok = train_sample_tokenizer(H.world_texts(kdir, corpus), vocab_size=1000)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=4 * HIDDEN, max_position_embeddings=MAXLEN + 2, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    XLMRobertaForMaskedLM._from_config(cfg, attn_implementation="eager").save_pretrained(root / "m")
    tok.save_pretrained(root / "m")
    return root, kdir, corpus


def _engine(setup, tasks: dict):
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.loop import make_optimizer
    from xlmk.pretrain.model import KnowledgeModel, build_heads, build_queues
    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    root, kdir, corpus = setup
    data = H.recipe_dict(root / "m", kdir, corpus, root / "cache", root / "run")
    data["tasks"] = tasks
    data["queue"]["size"] = 4096
    data["batch"] = {"effective_size": MICRO, "micro_size": MICRO, "bucket_pool": 8}
    recipe = PretrainRecipe.model_validate(data)
    torch.manual_seed(0)
    enc, tok = load_masked_lm(str(root / "m"), attn_implementation="eager")
    src = prepare_sources(recipe, tok)
    heads = build_heads(recipe, HIDDEN, src.knowledge.relations)
    model = KnowledgeModel(enc, heads, build_queues(recipe, HIDDEN, torch.Generator().manual_seed(0)), recipe).train()
    return model, make_optimizer(model, recipe.optim), PretrainStream(recipe, src, tok, len(tok))


def _bare_step(model, opt, batch) -> None:
    """The same encoder on the same tensors, with nothing of ours around it."""
    B.bare_loss(model, batch).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def _compare(setup, tasks: dict, label: str, benchmark) -> float:
    model, opt, stream = _engine(setup, tasks)
    bare_model, bare_opt, bare_stream = _engine(setup, tasks)
    bare_batches = [bare_stream.next() for _ in range(8)]
    times = {"engine": 0.0, "bare": 0.0}
    toks = {"engine": 0, "bare": 0}

    def engine_step():
        batch = stream.next()  # drawing and collating is part of the engine's cost
        out = model(batch)
        out["loss"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        model.flush_queues()
        return B.batch_tokens(batch)

    for _ in range(2):  # warm-up both
        engine_step()
        _bare_step(bare_model.encoder, bare_opt, bare_batches[0])
    for r in range(ROUNDS):
        for i in range(8):
            t = time.perf_counter()
            toks["engine"] += engine_step()
            times["engine"] += time.perf_counter() - t
            b = bare_batches[(r * 8 + i) % len(bare_batches)]
            t = time.perf_counter()
            _bare_step(bare_model.encoder, bare_opt, b)
            times["bare"] += time.perf_counter() - t
            toks["bare"] += B.batch_tokens(b)
    rate = {k: toks[k] / times[k] for k in times}
    ratio = rate["engine"] / rate["bare"]
    print(f"\n[{label}] engine {rate['engine']:.0f} tok/s, bare forward/backward/step {rate['bare']:.0f} tok/s, "
          f"ratio {ratio:.2f} (goal >= 0.9)")
    benchmark.extra_info.update({"engine_tok_s": rate["engine"], "bare_tok_s": rate["bare"], "ratio": ratio})
    benchmark.pedantic(engine_step, rounds=3, iterations=1)
    return ratio


def test_joint_step_throughput_vs_bare(setup, benchmark):
    _compare(setup, {"mlm": {"max_length": MAXLEN}, "mep": {"max_length": MAXLEN}, "oe": {"max_length": MAXLEN}},
             "MLM + MEP + OE", benchmark)


def test_mlm_step_throughput_vs_bare(setup, benchmark):
    _compare(setup, {"mlm": {"max_length": MAXLEN}, "mep": None, "oe": None}, "MLM only", benchmark)


def test_queue_and_heads_memory_at_base_size(benchmark):
    """Bytes of the two 32k queues and the four heads of the paper's recipe (hidden 768), with Adam state,
    measured from the tensors built by the same code, against the encoder they sit beside."""
    import psutil

    from xlmk.config import load_recipe
    from xlmk.pretrain.model import build_heads, build_queues

    recipe = load_recipe("pretrain", "xlmk")
    proc = psutil.Process()
    before = proc.memory_info().rss

    def build():
        heads = build_heads(recipe, 768, [f"P{i}" for i in range(1304)])  # Wikidata's 1304 relations
        queues = build_queues(recipe, 768, torch.Generator().manual_seed(0))
        return heads, queues

    heads, queues = benchmark.pedantic(build, rounds=1, iterations=1)
    rss = proc.memory_info().rss - before
    q_bytes = sum(b.numel() * b.element_size() for q in queues.values() for b in q.buffers())
    h_bytes = sum(p.numel() * p.element_size() for p in heads.parameters())
    encoder = 278_043_648 * 4  # XLM-R base parameters in fp32
    print(f"\nqueues {q_bytes / 2**20:.1f} MiB ({len(queues)} x {recipe.queue.size} x 768), heads "
          f"{h_bytes / 2**20:.1f} MiB (+{2 * h_bytes / 2**20:.1f} MiB Adam state); process RSS grew "
          f"{rss / 2**20:.1f} MiB; together {(q_bytes + 3 * h_bytes) / (4 * encoder):.1%} of XLM-R base's "
          f"weights + gradients + Adam state")
    benchmark.extra_info.update({"queue_mib": q_bytes / 2**20, "heads_mib": h_bytes / 2**20, "rss_mib": rss / 2**20})
