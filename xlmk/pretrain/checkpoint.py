"""Checkpoints: a model directory every stage can read, plus the training state for an exact resume.

    RUN/checkpoints/step-00000100/
        config.json, model.safetensors, tokenizer files   HF save_pretrained (loads as XLMRobertaForMaskedLM)
        xlmk_heads.safetensors, xlmk_heads.json           knowledge heads and relation embeddings
        recipe.yaml, metrics.jsonl                        the resolved recipe; metrics up to this step
        trainer_state/
            state.json          step, data position, scheduler, world size
            optimizer.pt        optimizer state (tensors only: loads with torch.load(weights_only=True))
            queues.safetensors  the candidate queues (keys, entity ids, pointer)
            model_extra.safetensors  the momentum key encoder, when the recipe has one
            rng.safetensors     every process's torch (and CUDA) generator state
            scaler.pt           fp16 loss scaler, when used
    RUN/final/                  the same model directory without trainer_state, written at the end

Each checkpoint directory is written beside its final name and renamed into place (`atomic_dir`), so a
kill at any moment leaves the previous checkpoint whole; `latest_checkpoint` only sees complete ones.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from xlmk.errors import TrainingError
from xlmk.io import atomic_dir, atomic_write_json, atomic_write_text

STATE_DIR = "trainer_state"
STATE_FORMAT = 1
CHECKPOINTS = "checkpoints"


def save_model_dir(directory: Path, encoder: Any, tokenizer: Any, heads: Any, recipe_yaml: str,
                   metrics: Path | None) -> None:
    """The model directory of the CONTRIBUTING contract (written into an existing, fresh directory)."""
    encoder.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if heads is not None:
        heads.save(directory)
    atomic_write_text(directory / "recipe.yaml", recipe_yaml)
    if metrics is not None and metrics.is_file():
        shutil.copyfile(metrics, directory / "metrics.jsonl")
    from xlmk.modelcard import write_card

    write_card(directory)


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:08d}"


def clean_partial(run_dir: Path) -> None:
    """Remove checkpoint directories a killed run left half-written (hidden `.step-*` temporaries)."""
    for tmp in (Path(run_dir) / CHECKPOINTS).glob(".step-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def latest_checkpoint(path: str | Path) -> Path | None:
    """`path` itself when it is a checkpoint, else the newest complete checkpoint of the run `path`."""
    path = Path(path)
    if (path / STATE_DIR / "state.json").is_file():
        return path
    found = sorted(p for p in (path / CHECKPOINTS).glob("step-*") if (p / STATE_DIR / "state.json").is_file())
    return found[-1] if found else None


def save_checkpoint(run_dir: Path, step: int, *, model: Any, tokenizer: Any, optimizer: Any, scheduler: Any,
                    scaler: Any, stream_state: dict, rng: dict[str, torch.Tensor], recipe_yaml: str, metrics: Path,
                    world_size: int, keep_last: int) -> Path:
    """`model` is the (unwrapped) KnowledgeModel: encoder, heads, queues and any momentum encoder."""
    from safetensors.torch import save_file

    target = checkpoint_dir(run_dir, step)
    with atomic_dir(target) as tmp:
        save_model_dir(tmp, model.encoder, tokenizer, model.heads, recipe_yaml, metrics)
        state = tmp / STATE_DIR
        state.mkdir()
        torch.save(optimizer.state_dict(), state / "optimizer.pt")
        qstate = {f"{name}.{k}": v.detach().cpu().contiguous() for name, q in model.queues.items()
                  for k, v in q.state_dict().items()}
        save_file(qstate, str(state / "queues.safetensors"))
        save_file(model.extra_state(), str(state / "model_extra.safetensors"))
        save_file({k: v.cpu().contiguous() for k, v in rng.items()}, str(state / "rng.safetensors"))
        if scaler is not None:
            torch.save(scaler.state_dict(), state / "scaler.pt")
        sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
        atomic_write_json(state / "state.json", {"format": STATE_FORMAT, "step": step, "world_size": world_size,
                                                 "stream": stream_state, "scheduler": sched})
    for old in sorted(p for p in (Path(run_dir) / CHECKPOINTS).glob("step-*") if p.is_dir())[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load_state(ckpt: Path) -> dict:
    path = ckpt / STATE_DIR / "state.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("format") != STATE_FORMAT:
        raise TrainingError(f"{path}: training-state format {state.get('format')!r}, expected {STATE_FORMAT}")
    return state


def restore(ckpt: Path, *, model: Any, optimizer: Any, scheduler: Any, device: Any) -> dict:
    """Load weights, heads, queues, momentum encoder, optimizer and scheduler from `ckpt` into the
    (not yet wrapped) KnowledgeModel; returns state.json. The fp16 scaler is restored by the loop."""
    from safetensors.torch import load_file

    from xlmk.pretrain.heads import load_knowledge_heads

    encoder, heads, queues = model.encoder, model.heads, model.queues
    state = load_state(ckpt)
    weights = load_file(str(ckpt / "model.safetensors"), device="cpu")
    result = encoder.load_state_dict(weights, strict=False)
    loaded = {p.data_ptr() for n, p in encoder.named_parameters(remove_duplicate=False) if n in weights}
    untied = [k for k in result.missing_keys if encoder.get_parameter(k).data_ptr() not in loaded] \
        if result.missing_keys else []
    if untied or result.unexpected_keys:
        raise TrainingError(f"{ckpt}: weights do not fit the recipe's encoder (missing {untied[:3]}, "
                            f"unexpected {result.unexpected_keys[:3]})")
    if heads is not None:
        saved = load_knowledge_heads(ckpt, map_location="cpu")
        if saved is None:
            raise TrainingError(f"{ckpt}: the recipe has knowledge heads but the checkpoint has none")
        heads.load_state_dict(saved.state_dict())
        heads.train()
    qfile = ckpt / STATE_DIR / "queues.safetensors"
    qstate = load_file(str(qfile), device="cpu")
    for name, q in queues.items():
        q.load_state_dict({k.split(".", 1)[1]: v for k, v in qstate.items() if k.split(".", 1)[0] == name})
    model.load_extra_state(load_file(str(ckpt / STATE_DIR / "model_extra.safetensors"), device="cpu"))
    optimizer.load_state_dict(torch.load(ckpt / STATE_DIR / "optimizer.pt", map_location=device, weights_only=True))
    scheduler.load_state_dict({**scheduler.state_dict(), **state["scheduler"]})
    return state


def load_rng(ckpt: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(ckpt / STATE_DIR / "rng.safetensors"))
