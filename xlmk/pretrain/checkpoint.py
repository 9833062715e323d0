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
        checksums.json          sha256 of every other file of the checkpoint
    RUN/final/                  the same model directory without trainer_state, written at the end

Each checkpoint directory is written beside its final name and renamed into place (`atomic_dir`), so a
kill at any moment leaves the previous checkpoint whole; `latest_checkpoint` only sees complete ones,
and of those the newest whose files match their checksums: a checkpoint damaged later (a bad disk, a
partial copy) is skipped with a warning in favour of the one before it. A file that cannot be read is
an error naming it, never a suggestion to unpickle it.
"""
from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from xlmk.errors import TrainingError, XlmkWarning
from xlmk.io import atomic_dir, atomic_write_json, atomic_write_text, sha256_file

STATE_DIR = "trainer_state"
STATE_FORMAT = 1
CHECKPOINTS = "checkpoints"
CHECKSUMS = "checksums.json"


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


def write_checksums(directory: Path) -> None:
    files = {str(f.relative_to(directory)): sha256_file(f) for f in sorted(directory.rglob("*"))
             if f.is_file() and f.name != CHECKSUMS}
    atomic_write_json(directory / CHECKSUMS, {"algorithm": "sha256", "files": files})


def verify_checkpoint(ckpt: Path) -> str | None:
    """None when every file of `ckpt` matches its checksum, else what is wrong (one line).

    A checkpoint written before checksums existed has none and is taken as it is."""
    listing = ckpt / CHECKSUMS
    if not listing.is_file():
        return None
    try:
        files = json.loads(listing.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{CHECKSUMS} is unreadable"
    for name, digest in files.items():
        f = ckpt / name
        if not f.is_file():
            return f"{name} is missing"
        if sha256_file(f) != digest:
            return f"{name} does not match its checksum (damaged or changed after it was written)"
    return None


def latest_checkpoint(path: str | Path, *, verify: bool = True) -> Path | None:
    """`path` itself when it is a checkpoint, else the newest complete checkpoint of the run `path`.

    With `verify`, a checkpoint whose files do not match their checksums is refused (when named) or
    skipped with a warning for the one before it (in a run directory); none left is an error."""
    path = Path(path)
    if (path / STATE_DIR / "state.json").is_file():
        problem = verify_checkpoint(path) if verify else None
        if problem:
            raise TrainingError(f"{path}: damaged checkpoint: {problem}; resume from the run directory to fall "
                                "back to an earlier checkpoint")
        return path
    found = sorted(p for p in (path / CHECKPOINTS).glob("step-*") if (p / STATE_DIR / "state.json").is_file())
    if not verify:
        return found[-1] if found else None
    damaged: list[str] = []
    for ckpt in reversed(found):
        problem = verify_checkpoint(ckpt)
        if problem is None:
            if damaged:
                warnings.warn(f"skipped damaged checkpoint(s) {'; '.join(damaged)}; resuming from {ckpt}",
                              XlmkWarning, stacklevel=2)
            return ckpt
        damaged.append(f"{ckpt.name} ({problem})")
    if damaged:
        raise TrainingError(f"{path}: no usable checkpoint: every one is damaged: {'; '.join(damaged)}")
    return None


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
        write_checksums(tmp)
    for old in sorted(p for p in (Path(run_dir) / CHECKPOINTS).glob("step-*") if p.is_dir())[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _read(path: Path, load: Callable[[Path], Any]) -> Any:
    """`load(path)`; a missing or unreadable file is a TrainingError naming it (torch's own message would
    suggest weights_only=False, i.e. running whatever a damaged or foreign file contains)."""
    if not path.is_file():
        raise TrainingError(f"{path}: checkpoint file missing; resume from an earlier checkpoint")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            out = load(path)
        except Exception as exc:  # noqa: BLE001 - safetensors, pickle and zip errors alike
            raise TrainingError(f"{path}: unreadable checkpoint file ({type(exc).__name__}); it is damaged or "
                                "not written by xlmk: resume from an earlier checkpoint") from None
    for w in said:  # a file that loaded keeps its loader's warnings; a damaged one says only the error above
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


def load_state(ckpt: Path) -> dict:
    path = ckpt / STATE_DIR / "state.json"
    state = _read(path, lambda p: json.loads(p.read_text(encoding="utf-8")))
    if state.get("format") != STATE_FORMAT:
        raise TrainingError(f"{path}: training-state format {state.get('format')!r}, expected {STATE_FORMAT}")
    return state


def restore(ckpt: Path, *, model: Any, optimizer: Any, scheduler: Any, device: Any) -> dict:
    """Load weights, heads, queues, momentum encoder, optimizer and scheduler from `ckpt` into the
    (not yet wrapped) KnowledgeModel; returns state.json. The fp16 scaler is restored by the loop."""
    from xlmk.pretrain.heads import load_knowledge_heads

    encoder, heads, queues = model.encoder, model.heads, model.queues
    state = load_state(ckpt)
    weights = _read(ckpt / "model.safetensors", _safetensors)
    result = encoder.load_state_dict(weights, strict=False)
    loaded = {p.data_ptr() for n, p in encoder.named_parameters(remove_duplicate=False) if n in weights}
    untied = [k for k in result.missing_keys if encoder.get_parameter(k).data_ptr() not in loaded] \
        if result.missing_keys else []
    if untied or result.unexpected_keys:
        raise TrainingError(f"{ckpt}: weights do not fit the recipe's encoder (missing {untied[:3]}, "
                            f"unexpected {result.unexpected_keys[:3]})")
    if heads is not None:
        saved = _read(ckpt / "xlmk_heads.safetensors", lambda _: load_knowledge_heads(ckpt, map_location="cpu")) \
            if (ckpt / "xlmk_heads.safetensors").is_file() else None
        if saved is None:
            raise TrainingError(f"{ckpt}: the recipe has knowledge heads but the checkpoint has none")
        heads.load_state_dict(saved.state_dict())
        heads.train()
    qstate = _read(ckpt / STATE_DIR / "queues.safetensors", _safetensors)
    for name, q in queues.items():
        q.load_state_dict({k.split(".", 1)[1]: v for k, v in qstate.items() if k.split(".", 1)[0] == name})
    model.load_extra_state(_read(ckpt / STATE_DIR / "model_extra.safetensors", _safetensors))
    optimizer.load_state_dict(_read(ckpt / STATE_DIR / "optimizer.pt",
                                    lambda p: torch.load(p, map_location=device, weights_only=True)))
    scheduler.load_state_dict({**scheduler.state_dict(), **state["scheduler"]})
    return state


def load_rng(ckpt: Path) -> dict[str, torch.Tensor]:
    return _read(ckpt / STATE_DIR / "rng.safetensors", _safetensors)
