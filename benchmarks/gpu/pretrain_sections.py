"""The GPU check's pre-training sections: setup, engine against bare step, torch.compile, the attention
kernel, DDP scaling, and a short pre-training of a `small` model with its held-out XEP/XOR.

The engine is the project's own `xlmk.pretrain.loop.train` (accelerate, gradient accumulation, queues,
heads, losses, clipping, schedule) on the shipped `xlmk` recipe with only sizes and paths changed; its
tokens/s comes from the metrics it logs every step. The bare step runs the same encoder, loaded the same
way, on the very micro-batches the engine drew (a stream with the same recipe and seed), under the same
autocast, with nothing else: `baselines.bare_loss`, backward, AdamW.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import baselines as B
from gpu_context import Ctx, Skip

PAPER_GPUS = 16
DDP_WORKER = Path(__file__).resolve().parent / "ddp_worker.py"


def _torch():
    import torch

    return torch


def _cuda() -> bool:
    return _torch().cuda.is_available()


def _sig(x: float, digits: int = 3) -> float:
    """`digits` significant digits: tiny dry-run figures stay non-zero, large ones stay readable."""
    return float(f"{x:.{digits}g}")


def _free() -> None:
    """Drop what a finished run left on the device before the next one measures its peak."""
    import gc

    gc.collect()
    if _cuda():
        _torch().cuda.empty_cache()


def _mem_reset() -> None:
    if _cuda():
        _torch().cuda.reset_peak_memory_stats()


def _mem_peak() -> dict[str, float | None]:
    if not _cuda():
        return {"peak_allocated_gib": None, "peak_reserved_gib": None}
    t = _torch()
    return {"peak_allocated_gib": round(t.cuda.max_memory_allocated() / 2**30, 2),
            "peak_reserved_gib": round(t.cuda.max_memory_reserved() / 2**30, 2)}


# ---------------------------------------------------------------- recipes
def recipe_dict(ctx: Ctx, *, micro: int, accum: int, steps: int, run_dir: Path, procs: int = 1) -> dict:
    """The shipped `xlmk` recipe on the sample world, at the check's sizes; one metrics line per step."""
    from xlmk.config import load_recipe

    s = ctx.sizes
    data = load_recipe("pretrain", "xlmk").model_dump(mode="json")
    data["encoder"] = {"kind": "hf-masked-lm", "path": str(ctx.shared["model_dir"]), "attn_implementation": "sdpa"}
    data["data"]["knowledge"] = {"kind": "sample-knowledge", "languages": s.languages}
    data["data"]["corpus"] = {"kind": "sample-corpus", "languages": s.languages}
    data["tasks"]["mlm"]["max_length"] = s.mlm_length
    data["tasks"]["mep"]["max_length"] = data["tasks"]["oe"]["max_length"] = s.knowledge_length
    data["batch"].update(effective_size=micro * accum * procs, micro_size=micro)
    data["optim"].update(max_steps=steps)
    data["run"].update(precision=s.precision, log_every=1, save_every=10**9, keep_last=1, output_dir=str(run_dir),
                       heldout_max=0)
    return data


def run_engine(ctx: Ctx, data: dict, run_dir: Path) -> dict[str, Any]:
    """`loop.train` on the recipe; tokens/s over every step after the first (warm-up), and peak memory."""
    from xlmk.config import recipe_to_yaml
    from xlmk.pretrain.loop import train
    from xlmk.pretrain.recipe import PretrainRecipe

    recipe = PretrainRecipe.model_validate(data)
    shutil.rmtree(run_dir, ignore_errors=True)
    _mem_reset()
    try:
        train(recipe, run_dir, recipe_to_yaml(recipe))
        lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)  # the final model of a base-size run is 1.1 GB
        _free()
    return {**_rates(lines), **_mem_peak()}


def _rates(lines: list[dict]) -> dict[str, Any]:
    timed = lines[1:] or lines
    seconds = sum(x["tokens"] / x["tokens_per_s"] for x in timed)
    tokens = sum(x["tokens"] for x in timed)
    return {"tokens_per_s": tokens / seconds, "timed_tokens": tokens, "timed_steps": len(timed),
            "step_s": seconds / len(timed), "last": lines[-1] if lines else {}}


# ---------------------------------------------------------------- sections
def setup(ctx: Ctx, box: float) -> dict[str, Any]:
    """The encoder at the check's size with XLM-R's real vocabulary, and the sample world tokenized by it."""
    import numpy as np

    from xlmk.modeling import cached_init_model, load_masked_lm, xlmr_tokenizer_file
    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import prepare_sources

    t0 = time.perf_counter()
    tokenizer_file = xlmr_tokenizer_file()
    ctx.shared["model_dir"] = model_dir = cached_init_model(ctx.sizes.size, ctx.sizes.tokenizer, 0)
    t_init = time.perf_counter() - t0
    encoder, tok = load_masked_lm(str(model_dir))
    recipe = PretrainRecipe.model_validate(recipe_dict(ctx, micro=1, accum=1, steps=1, run_dir=ctx.work / "unused"))
    sources = prepare_sources(recipe, tok)
    kp, corpus = sources.knowledge, sources.corpus
    cfg = encoder.config
    ctx.shared["hidden"] = cfg.hidden_size

    def mean_len(seqs: Any) -> float:
        return round(float(np.mean([len(x) for x in seqs])), 1)

    xlmr = ctx.sizes.tokenizer == "xlmr"
    return {"model": f"{ctx.sizes.size}: hidden {cfg.hidden_size}, {cfg.num_hidden_layers} layers, "
                     f"{cfg.num_attention_heads} heads, ff {cfg.intermediate_size}",
            "parameters_m": round(sum(p.numel() for p in encoder.parameters()) / 1e6, 1), "vocab": len(tok),
            "tokenizer": str(tokenizer_file) if xlmr else f"sample world's (XLM-R's is at {tokenizer_file})",
            "init_and_save_s": round(t_init, 1), "attn_implementation": cfg._attn_implementation,
            "data": "bundled sample world", "data_hash": sources.data_hash, "seed": recipe.seed, "corpus_blocks": len(corpus.blocks), "mean_block_tokens": mean_len(corpus.blocks),
            "descriptions": len(kp.desc), "mean_description_tokens": mean_len(kp.desc),
            "mentions": len(kp.mention), "mean_mention_tokens": mean_len(kp.mention), "relations": len(kp.relations)}


def _search(ctx: Ctx, box: float) -> tuple[int, float, list[dict]]:
    """Largest micro-batch (doubling from micro_start) whose two engine steps fit in memory."""
    torch = _torch()
    micro, best, step_s, tried = ctx.sizes.micro_start, None, None, []
    deadline = time.monotonic() + box
    while micro <= ctx.sizes.micro_max:
        t = time.monotonic()
        try:
            r = run_engine(ctx, recipe_dict(ctx, micro=micro, accum=1, steps=2, run_dir=ctx.work / "search"),
                           ctx.work / "search")
        except torch.cuda.OutOfMemoryError:
            tried.append({"micro": micro, "fits": False})
            break
        tried.append({"micro": micro, "fits": True, "step_s": round(r["step_s"], 3), "peak_gib": r["peak_allocated_gib"]})
        ctx.partial["micro_batch_search"] = tried
        best, step_s = micro, r["step_s"]
        # the next size: the same loading and saving, two steps of twice the work
        if micro < ctx.sizes.micro_max and time.monotonic() + (time.monotonic() - t) + 2 * step_s > deadline:
            tried.append({"micro": 2 * micro, "fits": None, "note": "not tried: time box"})
            break
        micro *= 2
    if best is None:
        raise RuntimeError(f"micro-batch {ctx.sizes.micro_start} does not fit in memory")
    return best, step_s, tried


def _bare(ctx: Ctx, data: dict, *, accum: int, steps: int, compile_backend: str | None = None) -> dict[str, Any]:
    """The bare step over the engine's micro-batches: the first step warms up (and compiles), the rest are timed."""
    import contextlib

    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    torch = _torch()
    recipe = PretrainRecipe.model_validate(data)
    encoder, tok = recipe.encoder.build()
    stream = PretrainStream(recipe, prepare_sources(recipe, tok), tok, encoder.get_input_embeddings().weight.shape[0])
    batches = [stream.next() for _ in range(accum * steps)]
    dev = torch.device(ctx.device)
    encoder.to(dev).train()
    if compile_backend:
        encoder.base_model.compile(backend=compile_backend, dynamic=True)
    opt = torch.optim.AdamW(encoder.parameters(), lr=recipe.optim.lr)
    autocast = (torch.autocast(dev.type, dtype=torch.bfloat16) if recipe.run.precision == "bf16"
                else contextlib.nullcontext())
    # FLOPs and tokens from the CPU tensors, before timing: reading them off the device would sync every step
    timed = batches[accum:]
    flops = sum(B.train_flops(b, encoder.config) for b in timed)
    tokens = sum(B.batch_tokens(b) for b in timed)
    _mem_reset()
    times = []
    for step in range(steps):
        if _cuda():
            torch.cuda.synchronize()
        t = time.perf_counter()
        for b in batches[step * accum:(step + 1) * accum]:
            b = {n: {k: v.to(dev, non_blocking=True) for k, v in x.items()} for n, x in b.items()}
            with autocast:
                loss = B.bare_loss(encoder, b) / accum
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if _cuda():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    seconds = sum(times[1:])
    peak = _mem_peak()
    del encoder, opt, loss
    _free()
    return {"tokens_per_s": tokens / seconds, "timed_tokens": tokens, "step_s": seconds / (steps - 1), "flops": flops,
            "first_step_s": times[0], **peak}


def _queue_heads_bytes(data: dict, hidden: int, relations: int) -> dict[str, float]:
    """Bytes of the recipe's queues and heads, built by the same code: heads x4 (weights, gradients, Adam)."""
    torch = _torch()
    from xlmk.pretrain.model import build_heads, build_queues
    from xlmk.pretrain.recipe import PretrainRecipe

    recipe = PretrainRecipe.model_validate(data)
    heads = build_heads(recipe, hidden, [f"P{i}" for i in range(relations)])
    queues = build_queues(recipe, hidden, torch.Generator().manual_seed(0))
    q = sum(b.numel() * b.element_size() for m in queues.values() for b in m.buffers())
    h = sum(p.numel() * p.element_size() for p in heads.parameters())
    return {"queues_gib": q / 2**30, "heads_with_adam_gib": 4 * h / 2**30}


def pretrain(ctx: Ctx, box: float) -> dict[str, Any]:
    from xlmk.config import load_recipe

    micro, micro_step_s, tried = _search(ctx, 0.4 * box)
    ctx.partial.update(micro_batch=micro, micro_batch_search=tried)
    shipped = load_recipe("pretrain", "xlmk")
    recipe_accum = max(1, shipped.batch.effective_size // (PAPER_GPUS * micro))
    # the recipe's accumulation on the paper's 16 GPUs, cut where a step would not fit the box three times
    accum = max(1, min(recipe_accum, ctx.sizes.max_accum, int(0.3 * box / (3 * micro_step_s))))
    steps = 1 + max(1, min(ctx.sizes.max_timed_steps, int(0.3 * box / (accum * micro_step_s)) - 1))
    data = recipe_dict(ctx, micro=micro, accum=accum, steps=steps, run_dir=ctx.work / "engine")
    try:
        engine = run_engine(ctx, data, ctx.work / "engine")
    except _torch().cuda.OutOfMemoryError:  # two steps fitted, a longer run did not (fragmentation)
        micro //= 2
        tried.append({"micro": micro, "note": "engine run out of memory at twice this size: measured at this one"})
        B.reset_accelerate()
        data = recipe_dict(ctx, micro=micro, accum=accum, steps=steps, run_dir=ctx.work / "engine")
        engine = run_engine(ctx, data, ctx.work / "engine")
    ctx.partial.update(accumulation=accum, engine_tokens_per_s=round(engine["tokens_per_s"]),
                       engine_step_s=round(engine["step_s"], 3), engine_peak_gib=engine["peak_allocated_gib"])
    bare = _bare(ctx, data, accum=accum, steps=steps)
    ctx.shared.update(micro=micro, accum=accum, steps=steps, engine_tps=engine["tokens_per_s"], bare=bare,
                      micro_step_s=micro_step_s)
    s = ctx.sizes
    examples = micro * accum * (steps - 1)
    out: dict[str, Any] = {
        "recipe": "xlmk", "recipe_version": shipped.version, "seed": shipped.seed, "precision": s.precision,
        "lengths": {"mlm": s.mlm_length, "knowledge": s.knowledge_length},
        "micro_batch": micro, "micro_batch_search": tried, "accumulation": accum,
        "recipe_accumulation_on_16_gpus": recipe_accum, "timed_steps": steps - 1,
        "engine_tokens_per_s": round(engine["tokens_per_s"]), "bare_tokens_per_s": round(bare["tokens_per_s"]),
        "engine_vs_bare": round(engine["tokens_per_s"] / bare["tokens_per_s"], 3), "goal_engine_vs_bare": 0.9,
        "same_tokens": engine["timed_tokens"] == bare["timed_tokens"],
        "engine_step_s": round(engine["step_s"], 3), "bare_step_s": round(bare["step_s"], 3),
        "tokens_per_example": engine["timed_tokens"] / examples,
        "tokens_per_example_max": s.mlm_length + 4 * s.knowledge_length,
        "recipe_effective_size": shipped.batch.effective_size, "recipe_max_steps": shipped.optim.max_steps,
        "engine_last_losses": {k: round(v, 3) for k, v in engine["last"].items() if k.endswith("_loss")},
        "model_tflop_per_step": _sig(bare["flops"] / (steps - 1) / 1e12),
    }
    if ctx.peak_tflops:
        achieved = {"bare": bare["flops"] / (bare["step_s"] * (steps - 1)),
                    "engine": bare["flops"] / (engine["step_s"] * (steps - 1))}
        out.update({f"mfu_{k}": _sig(v / (ctx.peak_tflops * 1e12)) for k, v in achieved.items()},
                   goal_mfu_bare=0.4, peak_bf16_tflops=ctx.peak_tflops)
    else:
        out["mfu"] = None
        out["mfu_reason"] = "peak unknown: pass --peak-tflops"
    out["memory"] = {"engine_peak_gib": engine["peak_allocated_gib"], "bare_peak_gib": bare["peak_allocated_gib"],
                     "engine_reserved_gib": engine["peak_reserved_gib"]}
    share = _queue_heads_bytes(data, ctx.shared["hidden"], relations=1304)  # Wikidata's 1304 relations, as the paper's data
    out["memory"].update({k: round(v, 3) for k, v in share.items()})
    if engine["peak_allocated_gib"]:
        out["memory"]["queues_and_heads_share_of_engine_peak"] = round(
            sum(share.values()) / engine["peak_allocated_gib"], 4)
    else:
        out["memory"]["peak_reason"] = "no CUDA device: peak memory not measured"
    return out


def compiled(ctx: Ctx, box: float) -> dict[str, Any]:
    if "engine_tps" not in ctx.shared:
        raise Skip("needs the pretrain section's micro-batch and eager figures")
    micro, accum, steps = ctx.shared["micro"], ctx.shared["accum"], ctx.shared["steps"]
    steps = max(2, min(steps, 1 + int(0.5 * box / max(accum * ctx.shared["micro_step_s"], 1e-3))))
    data = recipe_dict(ctx, micro=micro, accum=accum, steps=steps, run_dir=ctx.work / "compile")
    eager = ctx.shared["bare"]
    comp = _bare(ctx, data, accum=accum, steps=steps, compile_backend=ctx.sizes.compile_backend)
    return {"backend": ctx.sizes.compile_backend, "dynamic": True, "scope": "the encoder of the bare step (the engine's "
            "loop has no compile switch)", "compiled_tokens_per_s": round(comp["tokens_per_s"]),
            "eager_tokens_per_s": round(eager["tokens_per_s"]),
            "compiled_vs_eager": round(comp["tokens_per_s"] / eager["tokens_per_s"], 3),
            "first_step_with_compile_s": round(comp["first_step_s"], 1), "compiled_peak_gib": comp["peak_allocated_gib"]}


SDPA_OPS = {"flash": "flash", "efficient": "memory-efficient", "cudnn": "cudnn", "math": "math"}


def sdpa(ctx: Ctx, box: float) -> dict[str, Any]:
    """Profile one forward on a padded engine micro-batch and on an unpadded one; name the aten kernels."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.profiler import ProfilerActivity, profile

    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    torch = _torch()
    recipe = PretrainRecipe.model_validate(recipe_dict(ctx, micro=ctx.shared.get("micro", ctx.sizes.micro_start),
                                                       accum=1, steps=1, run_dir=ctx.work / "sdpa"))
    encoder, tok = recipe.encoder.build()
    dev = torch.device(ctx.device)
    encoder.to(dev).eval()
    b = PretrainStream(recipe, prepare_sources(recipe, tok), tok, len(tok)).next()["mlm"]
    ids, full = b["input_ids"].to(dev), torch.ones_like(b["attention_mask"]).to(dev)
    padded = full.clone()
    padded[0, ids.shape[1] // 2:] = 0  # padding, as every bucketed batch but the longest sequence has

    def kernels(m: Any, restrict: Any = None) -> list[str]:
        import contextlib

        limit = sdpa_kernel([restrict]) if restrict is not None else contextlib.nullcontext()
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16), limit, \
                profile(activities=[ProfilerActivity.CPU]) as prof:
            encoder.base_model(input_ids=ids, attention_mask=m)
        names = {e.key for e in prof.key_averages()
                 if "scaled_dot_product" in e.key and e.key != "aten::scaled_dot_product_attention"}  # the dispatcher
        return sorted({label for key, label in SDPA_OPS.items() for n in names if key in n}) or sorted(names) or ["none"]

    out = {"attn_implementation": encoder.config._attn_implementation, "batch": list(ids.shape),
           "padded_batch": kernels(padded), "unpadded_batch": kernels(full)}
    try:
        kernels(padded, SDPBackend.FLASH_ATTENTION)
        out["flash_with_padding_mask"] = "runs"
    except RuntimeError as exc:
        out["flash_with_padding_mask"] = f"refused: {str(exc).splitlines()[0][:160]}"
    return out


def ddp(ctx: Ctx, box: float) -> dict[str, Any]:
    n = ctx.ddp_procs
    if n < 2:
        raise Skip(f"{'1 GPU' if _cuda() else 'no GPU'}: 2-process DDP on one device measures nothing")
    if _cuda() and _torch().cuda.device_count() < n:
        raise Skip(f"{n} processes asked, {_torch().cuda.device_count()} GPUs present")
    if "engine_tps" not in ctx.shared:
        raise Skip("needs the pretrain section's one-GPU engine figures")
    micro, accum, steps = ctx.shared["micro"], ctx.shared["accum"], ctx.shared["steps"]
    run_dir = ctx.work / "ddp"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    (run_dir.parent / "ddp-recipe.json").write_text(json.dumps(
        recipe_dict(ctx, micro=micro, accum=accum, steps=steps, run_dir=run_dir, procs=n)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", str(DDP_WORKER),
           str(run_dir.parent / "ddp-recipe.json"), str(run_dir)]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    # a session of its own: a time-out (or the section's alarm) ends torchrun and every worker together
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=max(box, 30))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode:
        raise RuntimeError(f"torchrun exited {proc.returncode}: {log[-1500:]}")
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    shutil.rmtree(run_dir, ignore_errors=True)
    r = _rates(lines)
    one = ctx.shared["engine_tps"]
    return {"processes": n, "backend": "nccl" if _cuda() else "gloo (CPU)", "micro_batch_per_process": micro,
            "accumulation": accum, "tokens_per_s": round(r["tokens_per_s"]), "one_process_tokens_per_s": round(one),
            "speedup": round(r["tokens_per_s"] / one, 3), "scaling_efficiency": round(r["tokens_per_s"] / (n * one), 3)}


def small(ctx: Ctx, box: float) -> dict[str, Any]:
    """The `xlmk-tiny` recipe with a `small` encoder from random weights, steps fitted to the box; losses
    at the start and the end, and the held-out in-batch XEP/XOR of the final model against the initial one."""
    from xlmk.config import load_recipe
    from xlmk.modeling import cached_init_model, load_masked_lm
    from xlmk.pretrain.evaluate import heldout_accuracy
    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.run import pretrain
    from xlmk.pretrain.stream import prepare_sources

    s = ctx.sizes
    data = load_recipe("pretrain", "xlmk-tiny").model_dump(mode="json")
    data["encoder"].update(size=s.small_size, tokenizer="sample")
    data["data"]["knowledge"]["languages"] = data["data"]["corpus"]["languages"] = s.languages
    data["batch"].update(effective_size=s.small_batch, micro_size=s.small_batch)
    data["tasks"]["mlm"]["max_length"] = min(data["tasks"]["mlm"]["max_length"], s.mlm_length)
    data["run"].update(precision=s.precision, log_every=1 if s.small_steps else 10, save_every=10**9,
                       heldout_max=s.small_heldout)
    steps = s.small_steps
    t0 = time.monotonic()
    if steps is None:  # calibrate: 10 steps, then as many as 75% of the box holds
        cal = dict(data, optim={**data["optim"], "max_steps": 10}, run={**data["run"], "log_every": 1})
        rate = run_engine(ctx, cal, ctx.work / "small-calibrate")
        left = box - (time.monotonic() - t0)
        steps = max(20, int(0.75 * left / rate["step_s"]))
        data["optim"].update(warmup_steps=min(data["optim"]["warmup_steps"], steps // 10))
    data["optim"]["max_steps"] = steps
    run_dir = ctx.work / "small"
    shutil.rmtree(run_dir, ignore_errors=True)
    recipe = PretrainRecipe.model_validate(data)
    t1 = time.monotonic()
    result = pretrain(recipe, output_dir=run_dir)
    train_s = time.monotonic() - t1
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    k = max(1, len(lines) // 10)
    losses = {}
    for name in ("mlm", "mep", "oe"):
        key = f"{name}_loss"
        first = sum(x[key] for x in lines[:k]) / k
        last = sum(x[key] for x in lines[-k:]) / k
        losses[name] = {"first": round(first, 3), "last": round(last, 3), "falling": last < first}
    init_dir = cached_init_model(s.small_size, "sample", int(data["encoder"]["seed"]))
    kp = prepare_sources(recipe, load_masked_lm(str(init_dir))[1]).knowledge
    before = heldout_accuracy(init_dir, kp, batch_size=recipe.run.heldout_batch, limit=recipe.run.heldout_max,
                              max_length=min(256, recipe.tasks.mep.max_length))
    heldout = {name: {"accuracy": round(r["accuracy"], 3), "initial_model": round(before[name]["accuracy"], 3),
                      "chance": round(r["chance"], 3), "n": r["n"]} for name, r in result.heldout.items()}
    return {"recipe": "xlmk-tiny", "recipe_version": recipe.version, "seed": recipe.seed,
            "encoder": f"init {s.small_size} (random weights), sample-world tokenizer",
            "steps": steps, "train_s": round(train_s, 1), "steps_per_s": round(steps / train_s, 2),
            "tokens_per_s": round(lines[-1]["tokens_per_s"]), "losses": losses,
            "all_losses_falling": all(v["falling"] for v in losses.values()), "heldout_inbatch": heldout}
