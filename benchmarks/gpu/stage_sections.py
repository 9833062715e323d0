"""The GPU check's fine-tuning and probing sections, on the same encoder as the pre-training sections
(XLM-R base, real vocabulary, random weights): the code paths of `benchmarks/test_finetune_bench.py` and
`benchmarks/test_probe_bench.py` (`benchmarks/baselines.py`), at the GPU's sizes and precision.

Rounds alternate between xlmk and the baseline after one untimed round of each (imports, kernel
warm-up); each side keeps its fastest round, so a change of load during the run favours neither.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import baselines as B
from gpu_context import Ctx, Skip


def _model_dir(ctx: Ctx):
    if "model_dir" not in ctx.shared:
        raise Skip("needs the setup section's model")
    return ctx.shared["model_dir"]


def finetune(ctx: Ctx, box: float) -> dict[str, Any]:
    s = ctx.sizes
    world = B.finetune_world(ctx.work / "finetune", n_train=s.ft_train, model_dir=_model_dir(ctx), max_length=s.ft_length)
    import torch

    # transformers' Trainer refuses bf16 without a GPU
    precision = "bf16" if s.precision == "bf16" and torch.cuda.is_available() else "no"
    ours, theirs = [], []
    deadline = time.monotonic() + box
    logging.disable(logging.INFO)  # the Trainer logs every step; neither side pays for records nobody reads
    try:
        for r in range(1 + s.rounds):  # round 0 is the untimed warm-up
            t = time.monotonic()
            ours.append(B.time_xlmk_finetune(world, batch=s.ft_batch, precision=precision))
            theirs.append(B.time_trainer_finetune(world, ctx.work / f"trainer-{r}", batch=s.ft_batch, precision=precision))
            ctx.partial.update(xlmk_s=ours, trainer_s=theirs, pairs=world.n_train)
            if r >= 1 and time.monotonic() + (time.monotonic() - t) > deadline:
                break
    finally:
        logging.disable(logging.NOTSET)
    timed_ours, timed_theirs = (ours[1:] or ours), (theirs[1:] or theirs)
    ours_sps, theirs_sps = world.n_train / min(timed_ours), world.n_train / min(timed_theirs)
    return {"task": "XNLI-shaped pairs (3 labels), one epoch", "pairs": world.n_train, "batch": s.ft_batch,
            "max_length": s.ft_length, "precision": precision, "timed_rounds": len(timed_ours),
            "xlmk_samples_per_s": round(ours_sps, 1), "trainer_samples_per_s": round(theirs_sps, 1),
            "xlmk_vs_trainer": round(ours_sps / theirs_sps, 3), "goal_xlmk_vs_trainer": 1.0,
            "note": "both include loading the model; xlmk also scores a dev and a test set of 8 pairs"}


def lama(ctx: Ctx, box: float) -> dict[str, Any]:
    import torch

    from xlmk.modeling import load_masked_lm

    s = ctx.sizes
    model, tok = load_masked_lm(str(_model_dir(ctx)))
    data, sentences = B.lama_world(ctx.work / "lama", tok, s.lama_facts)
    precision = "bf16" if s.precision == "bf16" else "fp32"
    recipe = B.lama_recipe(data, device=ctx.device, batch_size=s.lama_batch, precision=precision)
    B.time_lama_probe(model, tok, recipe, ctx.work / "lama-run")  # warm-up; also casts and moves the model
    pipe = B.fill_mask(model, tok, device=torch.device(ctx.device))
    B.time_fill_mask(pipe, sentences[: s.lama_batch], batch_size=s.lama_batch)
    best = {"xlmk": float("inf"), "pipeline_default_batch": float("inf"), "pipeline_batched": float("inf")}
    deadline = time.monotonic() + box
    for _ in range(max(1, s.rounds)):
        t = time.monotonic()
        secs, result = B.time_lama_probe(model, tok, recipe, ctx.work / "lama-run")
        best["xlmk"] = min(best["xlmk"], secs)
        best["pipeline_default_batch"] = min(best["pipeline_default_batch"], B.time_fill_mask(pipe, sentences)[0])
        best["pipeline_batched"] = min(best["pipeline_batched"],
                                       B.time_fill_mask(pipe, sentences, batch_size=s.lama_batch)[0])
        if time.monotonic() + (time.monotonic() - t) > deadline:
            break
    kept = result.coverage["total"]["kept"]
    rate = {k: s.lama_facts / v for k, v in best.items()}
    return {"facts": s.lama_facts, "kept": kept, "batch": s.lama_batch, "precision": precision, "top_k": 10,
            "xlmk_facts_per_s": round(rate["xlmk"]), "pipeline_facts_per_s": round(rate["pipeline_default_batch"]),
            "pipeline_batched_facts_per_s": round(rate["pipeline_batched"]),
            "xlmk_vs_pipeline": round(rate["xlmk"] / rate["pipeline_default_batch"], 2),
            "xlmk_vs_pipeline_batched": round(rate["xlmk"] / rate["pipeline_batched"], 2)}
