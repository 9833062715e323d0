"""The pre-training loop: one plain function on accelerate, readable top to bottom.

Per optimizer step: `accum` micro-batches (gradient accumulation to `batch.effective_size` over all
processes; DDP synchronises only on the last), clipping, Adam(W), the warm-up + decay schedule, the queue
update when it is once per step, a metrics line every `run.log_every` steps, a checkpoint every
`run.save_every`. A non-finite loss stops every process at once and leaves the last good checkpoint.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xlmk import tracking
from xlmk.errors import ConfigError, TrainingError
from xlmk.io import append_text, atomic_dir, atomic_write_text
from xlmk.pretrain import checkpoint as ckpt_io
from xlmk.pretrain.model import KnowledgeModel, build_heads, build_queues
from xlmk.pretrain.recipe import Optim, PretrainRecipe
from xlmk.pretrain.stream import PretrainStream, Sources, check_sizes, loss_names, prepare_sources

PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


@dataclass
class TrainResult:
    run_dir: Path
    model_dir: Path
    step: int
    last: dict = field(default_factory=dict)  # the last metrics line
    sources: Sources | None = None


def make_optimizer(model: torch.nn.Module, o: Optim) -> torch.optim.Optimizer:
    """Adam or AdamW; no weight decay on biases and normalisation weights (as BERT/RoBERTa); the knowledge
    heads at lr x `head_lr_scale`."""
    parts: dict[tuple[bool, bool], list] = {(h, d): [] for h in (False, True) for d in (True, False)}
    for name, p in model.named_parameters():
        if p.requires_grad:
            # one lr: the two groups of earlier versions, so their checkpoints resume
            head = o.head_lr_scale != 1.0 and name.startswith("heads.")
            parts[(head, not (p.ndim < 2 or "norm" in name.lower()))].append(p)
    groups = [{"params": ps, "weight_decay": o.weight_decay if decay else 0.0, "lr": o.lr * (o.head_lr_scale if head else 1.0)}
              for (head, decay), ps in parts.items() if ps]
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    return cls(groups, lr=o.lr, betas=tuple(o.betas), eps=o.eps)


def lr_factor(step: int, o: Optim) -> float:
    """Linear warm-up to the peak, then linear/cosine decay to 0 at max_steps (or constant)."""
    if step < o.warmup_steps:
        return (step + 1) / (o.warmup_steps + 1)
    if o.schedule == "constant":
        return 1.0
    frac = min(1.0, (step - o.warmup_steps) / max(1, o.max_steps - o.warmup_steps))
    return 1.0 - frac if o.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))


def _to(batch: dict, device: Any) -> dict:
    return {t: {k: v.to(device, non_blocking=True) for k, v in b.items()} for t, b in batch.items()}


def _tokens(batch: dict) -> int:
    return int(sum(v.sum() for b in batch.values() for k, v in b.items() if k.endswith("mask")))


def _gather_rng(acc: Any) -> dict[str, torch.Tensor]:
    """Every process's generator states, so that dropout resumes exactly on each of them."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state()
    out = {}
    for name, s in states.items():
        gathered = acc.gather(s.to(acc.device).unsqueeze(0)).cpu()
        for r in range(gathered.shape[0]):
            out[f"{name}.rank{r}"] = gathered[r]
    return out


def _set_rng(rng: dict[str, torch.Tensor], rank: int) -> None:
    if f"cpu.rank{rank}" in rng:
        torch.set_rng_state(rng[f"cpu.rank{rank}"])
    if torch.cuda.is_available() and f"cuda.rank{rank}" in rng:
        torch.cuda.set_rng_state(rng[f"cuda.rank{rank}"])


def _queue_dim(heads: Any, hidden: int) -> int:
    for name in ("mep_key", "oe_key"):
        head = heads.get(name) if heads is not None else None
        if head is not None:
            was = head.training
            head.eval()
            with torch.no_grad():
                dim = head(torch.zeros(2, hidden)).shape[-1]
            head.train(was)
            return dim
    return hidden


def _live(line: dict, names: list[str]) -> str:
    parts = [f"{n} {line[f'{n}_loss']:.3f}" + (f" acc {line[f'{n}_acc']:.2f}" if "mlm" not in n else "")
             for n in names if f"{n}_loss" in line]
    return " · ".join(parts) + f" · {line['tokens_per_s']:.0f} tok/s"


def train(recipe: PretrainRecipe, run_dir: Path, recipe_yaml: str, *, resume: Path | None = None,
          progress: Any = None) -> TrainResult:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DistributedDataParallelKwargs

    from xlmk.modeling import check_vocab

    cuda = torch.cuda.is_available()
    if recipe.run.precision == "fp16" and not cuda:
        raise ConfigError("run.precision: fp16 needs a CUDA device; use fp32 or bf16 on CPU")
    acc = Accelerator(cpu=not cuda, mixed_precision=PRECISION[recipe.run.precision],
                      kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)],
                      **tracking.accelerator_kwargs(recipe.run.report_to, run_dir))
    try:
        return _train(acc, recipe, Path(run_dir), recipe_yaml, resume, progress, check_vocab)
    finally:
        acc.wait_for_everyone()
        acc.end_training()
        # accelerate keeps process-wide singletons; a later run in this process starts clean
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()


def _train(acc: Any, recipe: PretrainRecipe, run_dir: Path, recipe_yaml: str, resume: Path | None,
           progress: Any, check_vocab: Any) -> TrainResult:
    rank, world_size, main = acc.process_index, acc.num_processes, acc.is_main_process
    b = recipe.batch
    if b.effective_size % (b.micro_size * world_size):
        raise ConfigError(f"batch.effective_size ({b.effective_size}) is not a multiple of batch.micro_size "
                          f"({b.micro_size}) x {world_size} processes")
    accum = b.effective_size // (b.micro_size * world_size)

    # ---- model, data, heads, queues (seeded: the same recipe builds the same start on every process)
    torch.manual_seed(recipe.seed)
    encoder, tokenizer = recipe.encoder.build()
    check_vocab(encoder, tokenizer, where="encoder")
    check_sizes(recipe, encoder, acc.device)
    vocab = encoder.get_input_embeddings().weight.shape[0]
    hidden = encoder.config.hidden_size
    with acc.local_main_process_first():  # one process per machine tokenizes; the others read its cache
        sources = prepare_sources(recipe, tokenizer)
    torch.manual_seed(recipe.seed)
    heads = build_heads(recipe, hidden, sources.knowledge.relations if sources.knowledge else [],
                        sources.knowledge.languages if sources.knowledge else [])
    queues = build_queues(recipe, _queue_dim(heads, hidden), torch.Generator().manual_seed(recipe.seed))
    model = KnowledgeModel(encoder, heads, queues, recipe)
    if recipe.run.gradient_checkpointing:
        # non-reentrant: works with DDP and with inputs that need no gradient (transformers >= 5.2 renamed it)
        if hasattr(encoder, "activation_checkpointing_enable"):
            encoder.activation_checkpointing_enable({"use_reentrant": False})
        else:
            encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    optimizer = make_optimizer(model, recipe.optim)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, recipe.optim))
    stream = PretrainStream(recipe, sources, tokenizer, vocab, rank, world_size)

    start = 0
    if resume is not None:
        state = ckpt_io.restore(resume, model=model, optimizer=optimizer, scheduler=scheduler, device="cpu")
        stream.load_state_dict(state["stream"])
        start = int(state["step"])
    with warnings.catch_warnings():
        # torch >= 2.13 renames broadcast_buffers; accelerate still passes the old name, which keeps
        # queues and BatchNorm statistics rank-local (queues are identical on every rank by construction)
        warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
        model, optimizer = acc.prepare(model, optimizer)
    inner: KnowledgeModel = acc.unwrap_model(model)
    if resume is not None:
        if acc.scaler is not None and (resume / ckpt_io.STATE_DIR / "scaler.pt").is_file():
            acc.scaler.load_state_dict(torch.load(resume / ckpt_io.STATE_DIR / "scaler.pt", weights_only=True))
        rng = ckpt_io.load_rng(resume)
        _set_rng(rng, rank if int(state["world_size"]) == world_size else 0)

    metrics = run_dir / "metrics.jsonl"
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_io.clean_partial(run_dir)
        # a resumed run continues the metrics of its checkpoint (lines a killed run wrote later are dropped)
        kept = resume / "metrics.jsonl" if resume is not None else None
        atomic_write_text(metrics, kept.read_text(encoding="utf-8") if kept is not None and kept.is_file() else "")
    names = loss_names(recipe)
    tracking.start(acc, recipe.run.report_to, recipe.name, run_dir, recipe.model_dump(mode="json"))
    bar = progress.add_task(f"pretrain {recipe.name}", total=recipe.optim.max_steps, completed=start) \
        if progress is not None and main else None
    sums = torch.zeros(len(names), 3, dtype=torch.float64)  # per task: loss sum, accuracy sum, items
    tokens, t_last, last, last_good = 0, time.perf_counter(), {}, ckpt_io.latest_checkpoint(run_dir, verify=False)

    for step in range(start + 1, recipe.optim.max_steps + 1):
        for micro in range(accum):
            batch = _to(stream.next(), acc.device)
            tokens += _tokens(batch)
            sync = contextlib.nullcontext() if micro == accum - 1 else acc.no_sync(model)
            with sync:
                out = model(batch)
                loss = out["loss"] / accum
                finite = torch.isfinite(loss.detach()).float().reshape(1)
                if acc.reduce(finite, reduction="sum").item() < world_size:
                    bad = {n: v["loss"] for n, v in out["logs"].items()}
                    raise TrainingError(f"non-finite loss at step {step} (per task: {bad}); training stopped. "
                                        f"Last good checkpoint: {last_good or 'none saved yet'}. Lower optim.lr, "
                                        "use run.precision: bf16/fp32, or check the data")
                acc.backward(loss)
            for i, n in enumerate(names):
                if n in out["logs"]:
                    lg = out["logs"][n]
                    sums[i] += torch.tensor([lg["loss"] * lg["n"], lg["acc"] * lg["n"], lg["n"]], dtype=torch.float64)
        grad_norm = acc.clip_grad_norm_(model.parameters(), recipe.optim.clip_grad_norm) \
            if recipe.optim.clip_grad_norm else None
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        inner.momentum_update()
        inner.flush_queues()

        if step % recipe.run.log_every == 0 or step == recipe.optim.max_steps:
            total = acc.reduce(torch.cat([sums.flatten(), torch.tensor([float(tokens)], dtype=torch.float64)])
                               .to(acc.device), reduction="sum").cpu()
            agg, n_tok = total[:-1].view(len(names), 3), float(total[-1])
            now = time.perf_counter()
            last = {"step": step, "lr": scheduler.get_last_lr()[0],
                    "grad_norm": float(grad_norm) if grad_norm is not None else None,
                    "tokens_per_s": n_tok / max(now - t_last, 1e-9), "tokens": int(n_tok)}
            for i, n in enumerate(names):
                if agg[i, 2] > 0:
                    last[f"{n}_loss"], last[f"{n}_acc"] = float(agg[i, 0] / agg[i, 2]), float(agg[i, 1] / agg[i, 2])
            last["loss"] = sum(inner.weights[n] * last.get(f"{n}_loss", 0.0) for n in names)
            if main:
                append_text(metrics, json.dumps(last) + "\n")  # a full disk is named, no half line left
                tracking.log(acc, recipe.run.report_to, last, step)
                if bar is not None:
                    progress.update(bar, info=_live(last, names), metrics=last)
            sums.zero_()
            tokens, t_last = 0, now
        if bar is not None:
            progress.update(bar, completed=step)

        if step % recipe.run.save_every == 0 or step == recipe.optim.max_steps:
            rng = _gather_rng(acc)
            if main:
                last_good = ckpt_io.save_checkpoint(
                    run_dir, step, model=inner, tokenizer=tokenizer, optimizer=optimizer, scheduler=scheduler,
                    scaler=acc.scaler, stream_state=stream.state_dict(), rng=rng, recipe_yaml=recipe_yaml,
                    metrics=metrics, world_size=world_size, keep_last=recipe.run.keep_last)
            acc.wait_for_everyone()

    final = run_dir / "final"
    if main:
        with atomic_dir(final) as tmp:
            ckpt_io.save_model_dir(tmp, inner.encoder, tokenizer, inner.heads, recipe_yaml, metrics)
    acc.wait_for_everyone()
    del model, inner
    return TrainResult(run_dir=run_dir, model_dir=final, step=recipe.optim.max_steps, last=last, sources=sources)
