"""The one train/evaluate loop every fine-tuning task shares, on accelerate.

`fit` trains one seed top to bottom: load the checkpoint into the task's AutoModelFor* class, encode
the training set, then per epoch train on length-grouped batches (dynamic padding) and score dev in
every language; the checkpoint is kept in memory whenever an epoch becomes the best of a selection
protocol, and at the end test is scored with each protocol's checkpoint, so XGLUE's and XTREME's
numbers come from one run. `predict` is the shared inference step (also used for dev and test).
"""
from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, Callable

from xlmk.downstream.base import EvalData, Features, Task
from xlmk.downstream.selection import choose_epochs
from xlmk.errors import TrainingError

IGNORE = -100


# ---------------------------------------------------------------- batching
class LengthGroupedBatches:
    """Random batches of similar-length features: shuffle, cut into groups of `group` batches, sort each
    group by length, cut into batches, shuffle the batches. A fresh order every pass, from `seed`."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, *, group: int = 50, by_length: bool = True):
        self.lengths, self.batch_size, self.seed, self.group, self.by_length = lengths, batch_size, seed, group, by_length
        self.passes = 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        rng = random.Random(self.seed * 1_000_003 + self.passes)
        self.passes += 1
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        if self.by_length:
            span = self.batch_size * self.group
            order = [i for g in range(0, len(order), span)
                     for i in sorted(order[g:g + span], key=lambda i: -self.lengths[i])]
        batches = [order[b:b + self.batch_size] for b in range(0, len(order), self.batch_size)]
        rng.shuffle(batches)
        return iter(batches)


def pad_value(key: str, pad_id: int) -> int:
    """What pads a sequence column: the pad token for input ids, the ignored label for labels, else 0."""
    return pad_id if key == "input_ids" else IGNORE if key == "labels" else 0


class Collate:
    """Pads a list of features to the longest in the batch (dynamic padding)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict]) -> dict:
        import torch

        out = {}
        for key in items[0]:
            values = [it[key] for it in items]
            if isinstance(values[0], list):
                width = max(len(v) for v in values)
                fill = pad_value(key, self.pad_id)
                values = [v + [fill] * (width - len(v)) for v in values]
            out[key] = torch.tensor(values)
        return out


class PaddedFeatures:
    """Feature columns padded once into one tensor each, so a batch is an index and a slice: no Python
    lists turned into tensors at every step. Sequence columns are cut to the batch's longest (as
    `Collate`), other columns are taken as they are. Map-style: item i is i, `collate` builds the batch."""

    def __init__(self, columns: dict[str, list], pad_id: int):
        import torch

        self.tensors: dict[str, Any] = {}
        self.lengths: dict[str, Any] = {}
        self.n = len(next(iter(columns.values()), []))
        for key, values in columns.items():
            if values and isinstance(values[0], list):
                lengths = torch.tensor([len(v) for v in values], dtype=torch.long)
                flat = torch.tensor([x for v in values for x in v])
                padded = torch.full((len(values), int(lengths.max())), pad_value(key, pad_id), dtype=flat.dtype)
                padded[torch.arange(padded.shape[1]) < lengths.unsqueeze(1)] = flat
                self.tensors[key], self.lengths[key] = padded, lengths
            else:
                self.tensors[key] = torch.tensor(values)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, indices: list[int]) -> dict:
        import torch

        idx = torch.tensor(indices, dtype=torch.long)
        out = {}
        for key, tensor in self.tensors.items():
            if key in self.lengths:
                out[key] = tensor[idx, :int(self.lengths[key][idx].max())]
            else:
                out[key] = tensor[idx]
        return out


# ---------------------------------------------------------------- inference
def predict(model: Any, features: Features, task: Task, accelerator: Any, batch_size: int, pad_id: int,
            on_batch: Callable[[], None] | None = None) -> dict[str, list]:
    """Model outputs per feature (numpy, trimmed to the feature's length), in feature order.

    Batches are cut from features sorted by length (little padding); under several processes each
    takes every n-th batch and the outputs are gathered, keyed by feature index."""
    import numpy as np
    import torch
    from accelerate.utils import gather_object

    lengths = features.lengths
    order = sorted(range(len(features)), key=lambda i: -lengths[i])
    batches = [order[b:b + batch_size] for b in range(0, len(order), batch_size)]
    mine = batches[accelerator.process_index::accelerator.num_processes]
    padded = PaddedFeatures({k: features.columns[k] for k in ("input_ids", "attention_mask")}, pad_id)
    per_token = task.per_token
    got: list[tuple[int, dict]] = []
    # the bare module: a DDP wrapper would sync buffers on every forward, and processes run unequal
    # numbers of batches here
    model = accelerator.unwrap_model(model)
    model.eval()
    with torch.no_grad():
        for batch_ids in mine:
            batch = {k: v.to(accelerator.device) for k, v in padded.collate(batch_ids).items()}
            with accelerator.autocast():
                out = model(**batch)
            arrays = {name: out[name].float().cpu().numpy() for name in task.output_names}
            for j, i in enumerate(batch_ids):
                got.append((i, {name: (a[j][: lengths[i]] if per_token else a[j]) for name, a in arrays.items()}))
            if on_batch:
                on_batch()
    if accelerator.num_processes > 1:
        got = gather_object(got)
    result: dict[str, list] = {name: [None] * len(features) for name in task.output_names}
    for i, arrays in got:
        for name, a in arrays.items():
            result[name][i] = np.asarray(a)
    return result


def evaluate(model: Any, task: Task, sets: list[tuple[EvalData, Features]], accelerator: Any, batch_size: int,
             pad_id: int, progress: Any = None, description: str = "eval") -> tuple[dict, dict]:
    """Scores {label: {metric: value}} and predictions {label: predictions} of every set.

    The features of all sets go through the model together (full batches across languages, one
    gather), then are split back per set for decoding and scoring."""
    inputs = ("input_ids", "attention_mask")
    merged = Features({k: [row for _, f in sets for row in f.columns[k]] for k in inputs},
                      list(range(sum(len(f) for _, f in sets))))
    bar = progress.add_task(description, total=math.ceil(len(merged) / batch_size)) if progress is not None else None
    outputs = predict(model, merged, task, accelerator, batch_size, pad_id,
                      on_batch=(lambda: progress.advance(bar)) if bar is not None else None)
    scores, predictions = {}, {}
    start = 0
    for data, feats in sets:
        part = {name: values[start:start + len(feats)] for name, values in outputs.items()}
        start += len(feats)
        predictions[data.label] = task.decode(data, feats, part)
        scores[data.label] = task.score(data, predictions[data.label])
    if bar is not None:
        progress.remove_task(bar)
    return scores, predictions


# ---------------------------------------------------------------- training
def _snapshot(model: Any) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def fit(task: Task, recipe: Any, model_path: str, tokenizer: Any, seed: int, accelerator: Any, *, train: tuple[EvalData, Features],
        dev: list[tuple[EvalData, Features]], languages: list[str], load_test: Callable[[Any], list],
        progress: Any = None, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Fine-tune one seed. Returns the history, each protocol's chosen epoch with its dev and test scores,
    the test predictions per protocol, and the primary protocol's model (unwrapped, best weights)."""
    import torch
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader
    from transformers import AutoConfig

    from xlmk.modeling import quiet_transformers

    quiet_transformers()
    optim, run, sel = recipe.optim, recipe.run, recipe.selection
    set_seed(seed)  # the new head's initialisation and dropout depend on it
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        raise TrainingError(f"{model_path}: the tokenizer defines no padding token; batches cannot be padded")
    kwargs = task.model_kwargs()
    if getattr(AutoConfig.from_pretrained(model_path), "pad_token_id", None) is None:
        # RoBERTa-style position ids need the padding id; take the tokenizer's when the config lacks it
        kwargs["pad_token_id"] = pad_id
    model = task.model_class().from_pretrained(model_path, **kwargs)

    micro = micro_batch_size(optim, accelerator.num_processes)
    train_data, train_feats = train
    batches = LengthGroupedBatches(train_feats.lengths, micro, seed, by_length=run.group_by_length)
    padded = PaddedFeatures(train_feats.columns, pad_id)
    loader = DataLoader(padded, batch_sampler=batches, collate_fn=padded.collate)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": optim.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = make_optimizer(optim, groups, accelerator.device)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    steps_per_epoch = math.ceil(len(loader) / accelerator.gradient_accumulation_steps)
    total_steps = steps_per_epoch * optim.epochs
    warmup = int(optim.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer,
                                                  _schedule(optim.schedule, warmup, total_steps))

    history: list[dict] = []
    dev_history: list[dict] = []
    snapshots: dict[str, dict] = {}
    chosen_dev: dict[str, tuple[dict, dict]] = {}
    bar = progress.add_task(f"seed {seed} train", total=total_steps * accelerator.gradient_accumulation_steps) \
        if progress is not None else None
    step = 0
    for epoch in range(1, optim.epochs + 1):
        model.train()
        # the loss stays on the device; reading it back every batch would stall a GPU
        loss_sum, loss_n = torch.zeros((), device=accelerator.device), 0
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and optim.clip_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), optim.clip_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
            loss_sum += loss.detach()
            loss_n += 1
            if accelerator.sync_gradients:
                scheduler.step()
                step += 1
                if step % run.log_every == 0:
                    _check_finite(loss_sum, loss_n, seed, epoch, step)
                    if bar is not None:
                        mean_loss = loss_sum.item() / loss_n
                        progress.update(bar, info=f"epoch {epoch} loss {mean_loss:.4f}",
                                        metrics={"epoch": epoch, "step": step, "train_loss": mean_loss})
            if bar is not None:
                progress.advance(bar)
        _check_finite(loss_sum, loss_n, seed, epoch, step)
        scores, preds = evaluate(model, task, dev, accelerator, run.eval_batch_size, pad_id, progress,
                                 f"seed {seed} dev (epoch {epoch})")
        record = {"epoch": epoch, "step": step, "train_loss": loss_sum.item() / max(loss_n, 1), "dev": scores}
        history.append(record)
        dev_history.append({lang: scores[f"dev-{lang}"] for lang in languages})
        chosen = choose_epochs(dev_history, sel.protocols, task.main_metric, languages=languages,
                               train_language=task.train_language)
        # keep weights only when this epoch is (newly) the best of a protocol
        snap = None
        for protocol, (best_epoch, _) in chosen.items():
            if best_epoch == epoch:
                snap = snap or _snapshot(accelerator.unwrap_model(model))
                snapshots[protocol] = snap
                chosen_dev[protocol] = (scores, preds)
        if on_epoch:
            on_epoch(record)
    if bar is not None:
        progress.remove_task(bar)

    unwrapped = accelerator.unwrap_model(model)
    test_sets = load_test(tokenizer)
    outcome: dict = {"seed": seed, "history": history, "protocols": {}, "predictions": {}}
    done: dict[int, tuple[dict, dict]] = {}
    for protocol in sel.protocols:
        best_epoch, value = chosen[protocol]
        if best_epoch not in done:
            unwrapped.load_state_dict(snapshots[protocol])
            done[best_epoch] = evaluate(unwrapped, task, test_sets, accelerator, run.eval_batch_size, pad_id,
                                        progress, f"seed {seed} test ({protocol})")
        test_scores, test_preds = done[best_epoch]
        dev_scores, dev_preds = chosen_dev[protocol]
        outcome["protocols"][protocol] = {"epoch": best_epoch, "selection_value": value,
                                          "dev": dev_scores, "test": test_scores}
        outcome["predictions"][protocol] = {"dev": dev_preds, "test": test_preds}
    outcome["data"] = {d.label: {"lang": d.lang, "split": d.split, "subset": d.subset, "hash": d.data_hash,
                                 "paths": [str(p) for p in d.paths]} for d, _ in dev + test_sets}
    outcome["train"] = {"n": len(train_data.examples), "features": len(train_feats), "hash": train_data.data_hash,
                        "notes": train_data.notes, "steps": step}
    unwrapped.load_state_dict(snapshots[sel.primary])
    outcome["model"], outcome["tokenizer"] = unwrapped, tokenizer
    outcome["test_sets"] = test_sets
    _release(accelerator, model, optimizer, loader)
    return outcome


def _release(accelerator: Any, *objects: Any) -> None:
    """Drop the accelerator's references to one seed's prepared model, optimizer and loader, so a run of
    several seeds on one accelerator holds one seed's weights and optimizer state at a time.

    `accelerator.free_memory()` would also run a full garbage collection: it finds nothing here (the
    objects are freed by reference counting; measured: 0 unreachable objects) and costs ~0.3 s a seed
    even in a small process, more the more features are held."""
    for name in ("_models", "_optimizers", "_dataloaders", "_schedulers"):
        held = getattr(accelerator, name, None)
        if isinstance(held, list):
            held[:] = [o for o in held if not any(o is x for x in objects)]


def make_optimizer(optim: Any, groups: list[dict], device: Any) -> Any:
    """Adam(W) with the fused kernel where the device has one (CUDA, and CPU in recent torch), else foreach."""
    import torch

    cls = torch.optim.AdamW if optim.name == "adamw" else torch.optim.Adam
    try:
        return cls(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps, fused=device.type in ("cuda", "cpu"))
    except (RuntimeError, TypeError):  # no fused kernel for this device or dtype
        return cls(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps, foreach=True)


def _check_finite(loss_sum: Any, n: int, seed: int, epoch: int, step: int) -> None:
    value = loss_sum.item() / max(n, 1)
    if not math.isfinite(value):
        raise TrainingError(f"seed {seed}, epoch {epoch}, step {step}: the training loss is {value}; "
                            "lower optim.lr or use run.precision=fp32")


def micro_batch_size(optim: Any, processes: int) -> int:
    if optim.micro_batch_size is not None:
        return optim.micro_batch_size
    return max(1, optim.batch_size // processes)


def accumulation_steps(optim: Any, processes: int) -> int:
    micro = micro_batch_size(optim, processes)
    steps = optim.batch_size // (micro * processes)
    if steps < 1 or steps * micro * processes != optim.batch_size:
        raise TrainingError(f"optim.batch_size {optim.batch_size} is not micro_batch_size {micro} x {processes} "
                            "processes x a whole number of accumulation steps")
    return steps


def _schedule(kind: str, warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return step / warmup
        if kind == "constant":
            return 1.0
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def save_model(model: Any, tokenizer: Any, out: Path) -> None:
    """save_pretrained of the fine-tuned model and its tokenizer, atomically."""
    from xlmk.io import atomic_dir

    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
