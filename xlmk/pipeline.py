"""Chains of stages used by `xlmk sweep` and `xlmk demo`: pre-train, then probe and fine-tune the result.

Each finished step leaves a `DONE.json` marker in its directory, so a chain that is interrupted (or
re-run) skips what is finished and resumes what is not: pre-training from its newest checkpoint,
fine-tuning from its finished seeds. Every step opens its directory with `resume`, so a step of other
settings already there is refused with what differs (`xlmk/rundir.py`), never mixed in.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from xlmk.errors import ConfigError
from xlmk.io import atomic_write_json

DONE = "DONE.json"


@dataclass(frozen=True)
class Evaluation:
    stage: str  # "finetune" or "probe"
    name: str   # a recipe name of that stage


def parse_then(items: Iterable[str]) -> list[Evaluation]:
    """`["finetune xnli,ner", "probe xep"]` -> evaluations, in order."""
    out: list[Evaluation] = []
    for item in items:
        parts = item.replace(":", " ").split(None, 1)
        if len(parts) != 2 or parts[0] not in ("finetune", "probe"):
            raise ConfigError(f"--then {item!r}: expected 'finetune TASK[,TASK…]' or 'probe PROBE[,PROBE…]'")
        out += [Evaluation(parts[0], n.strip()) for n in parts[1].split(",") if n.strip()]
    return out


def recipe_for(stage: str, name: str, *, tiny: bool) -> str:
    """A task or probe name -> the recipe to run: its `-tiny` twin when the model is a tiny one."""
    from xlmk.config import available_recipes

    shipped = set(available_recipes(stage))
    aliases = {"ner": "ner-xglue"} if stage == "finetune" else {}
    name = aliases.get(name, name)
    if tiny and not name.endswith("-tiny") and f"{name}-tiny" in shipped:
        return f"{name}-tiny"
    return name


def done(directory: Path) -> dict | None:
    marker = directory / DONE
    return json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None


def run_step(directory: Path, fn: Callable[[], dict], *, log: Callable[[str], None] = print, label: str = "") -> dict:
    """Run `fn` unless `directory` is marked done; mark it done with what `fn` returned."""
    info = done(directory)
    if info is not None:
        log(f"[skip] {label or directory} (finished earlier)")
        return info
    started = time.time()
    info = {**fn(), "seconds": round(time.time() - started, 1)}
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_json(directory / DONE, info)
    log(f"[done] {label or directory} in {info['seconds']} s")
    return info


def pretrain_step(directory: Path, recipe: str, overrides: list[str], *, log=print, label: str = "",
                  trust_custom_code: bool = False) -> Path:
    """Pre-train into `directory` (resuming a partial run of the same recipe) and return the final model directory."""
    def go() -> dict:
        from xlmk.pretrain.run import pretrain
        from xlmk.rundir import holds_run

        resume = directory if directory.is_dir() and holds_run(directory) else None
        result = pretrain(recipe, overrides, resume=resume, output_dir=directory, trust_custom_code=trust_custom_code)
        return {"model_dir": str(result.model_dir), "step": result.step, "heldout": result.heldout}

    return Path(run_step(directory, go, log=log, label=label or f"pretrain {recipe}")["model_dir"])


def evaluation_step(directory: Path, ev: Evaluation, model: Path, *, tiny: bool, model_label: str,
                    knowledge: Path | None = None, log=print) -> dict:
    """Fine-tune or probe `model` with the recipe for `ev`, writing rows into `directory`."""
    recipe = recipe_for(ev.stage, ev.name, tiny=tiny)

    def go() -> dict:
        if ev.stage == "finetune":
            from xlmk.downstream.run import finetune

            result = finetune(recipe, model=str(model), out=directory, resume=True)
            return {"recipe": recipe, "rows": len(result.rows)}
        from xlmk.probe.recipe import ProbeRecipe  # noqa: F401 - fail early if probing is absent
        from xlmk.probe.run import build_recipe, probe

        needs_knowledge = ev.name.split("-")[0] in ("xep", "xor")
        r = build_recipe(recipe, model=str(model), data=str(knowledge) if (knowledge and needs_knowledge) else None)
        result = probe(r, out_dir=directory, model_label=model_label, resume=True)
        return {"recipe": recipe, "rows": len(result.rows)}

    return run_step(directory, go, log=log, label=f"{ev.stage} {recipe} on {model_label}")


def link_model(model_dir: Path, named: Path) -> Path:
    """`named` -> `model_dir` (a symlink), so rows carry a readable model name instead of 'final'."""
    named.parent.mkdir(parents=True, exist_ok=True)
    if named.is_symlink() or named.exists():
        if named.resolve() == model_dir.resolve():
            return named
        named.unlink()
    named.symlink_to(model_dir.resolve(), target_is_directory=True)
    return named


def evaluate_all(root: Path, model: Path, label: str, evaluations: list[Evaluation], *, tiny: bool,
                 knowledge: Path | None, log=print) -> list[Any]:
    return [evaluation_step(root / f"{ev.stage}-{ev.name}", ev, model, tiny=tiny, model_label=label,
                            knowledge=knowledge, log=log) for ev in evaluations]
