"""`pretrain(...)`: the one entry point of the pre-training stage (the CLI and the Python API call it).

Loads and resolves the recipe, trains (`loop.train`), scores the held-out XEP/XOR check on the final model
and writes its numbers, with the final training losses, as result rows to `RUN/results.jsonl`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from xlmk.errors import TrainingError
from xlmk.pretrain.recipe import PretrainRecipe


@dataclass
class PretrainResult:
    run_dir: Path                 # metrics.jsonl, recipe.yaml, results.jsonl, checkpoints/
    model_dir: Path               # the final model: load with AutoModel* / load_knowledge_heads
    step: int
    metrics: dict = field(default_factory=dict)   # the last metrics line
    heldout: dict = field(default_factory=dict)   # {"xep": {...}, "xor": {...}}
    finished_before: bool = False                 # resumed a finished run: nothing was trained or written


def resolve_recipe(recipe_or_name: Any, overrides: Iterable[str] = (), checkpoint: Path | None = None) -> PretrainRecipe:
    """A recipe object, a name or path in the registry, or (None) the recipe saved in `checkpoint`."""
    from xlmk.config import apply_overrides, load_recipe, read_yaml, validate

    overrides = list(overrides)
    if isinstance(recipe_or_name, PretrainRecipe):
        data, source = recipe_or_name.model_dump(mode="json"), "<recipe object>"
    elif recipe_or_name is None:
        if checkpoint is None:
            raise TrainingError("pretrain: give a recipe, or --resume a run that has one")
        source = str(checkpoint / "recipe.yaml")
        data = read_yaml(checkpoint / "recipe.yaml")
    else:
        return load_recipe("pretrain", recipe_or_name, overrides)
    origins: dict = {}
    data = apply_overrides(data, origins, overrides, PretrainRecipe)
    return validate(PretrainRecipe, data, origins, source=source)


def pretrain(recipe_or_name: Any = "xlmk", overrides: Iterable[str] = (), resume: str | Path | None = None,
             output_dir: str | Path | None = None, *, overwrite: bool = False, trust_custom_code: bool = False,
             user_modules: Iterable[str | Path] = ()) -> PretrainResult:
    """Pre-train as the recipe says. `resume`: a run directory (its newest complete checkpoint) or one
    checkpoint; with `recipe_or_name=None` the checkpoint's own recipe is used. The run directory's rules
    (`xlmk/rundir.py`): an existing run is continued only with `resume` and the same recipe, replaced
    only with `overwrite`; a finished run resumed returns what it wrote. Custom code needs
    `trust_custom_code` or `user_modules` (`xlmk/trust.py`)."""
    from xlmk import rundir, trust
    from xlmk.config import read_yaml, recipe_to_yaml
    from xlmk.io import atomic_write_text
    from xlmk.pretrain.checkpoint import CHECKPOINTS, latest_checkpoint
    from xlmk.pretrain.loop import train
    from xlmk.progress import make_progress

    mode = rundir.mode_of(resume is not None, overwrite)
    ckpt = source = None
    if resume is not None:
        resume = Path(resume)
        ckpt = latest_checkpoint(resume)
        # a run killed before its first checkpoint restarts from step 0 with its own recipe
        source = ckpt if ckpt is not None else resume if (resume / "recipe.yaml").is_file() else None
        if source is None and (recipe_or_name is None or not rundir.holds_run(resume)):
            raise TrainingError(f"--resume {resume}: no complete checkpoint there (looked for "
                                f"{CHECKPOINTS}/step-*/trainer_state/state.json)")
    recipe = resolve_recipe(recipe_or_name, overrides, source)
    where = f"the recipe.yaml of {source}" if recipe_or_name is None else f"recipe {recipe.name!r}"
    policy = trust.check(recipe, trust_custom_code=trust_custom_code, user_modules=user_modules, source=where)
    identity = recipe.model_dump(mode="json")
    if source is not None:
        rundir.refuse_differences(rundir.differences(read_yaml(source / "recipe.yaml"), identity, ignore=IGNORED),
                                  f"--resume {source}: the recipe (checkpoint's value -> this run's)",
                                  "A resumed run keeps its recipe: drop the --recipe/--set that change it, or start "
                                  "a new run with another --out")
    if output_dir is not None:
        run_dir = Path(output_dir)
    elif ckpt is not None:
        run_dir = ckpt.parent.parent if ckpt.parent.name == CHECKPOINTS else ckpt
    elif resume is not None:
        run_dir = resume
    else:
        run_dir = Path(recipe.run.output_dir)
    recipe_yaml = recipe_to_yaml(recipe)
    main = int(os.environ.get("RANK", "0")) == 0
    if not main:  # the main process opened (and checked) the run directory
        state = rundir.read_state(run_dir) or {}
        if mode == "resume" and state.get("status") == "finished":
            return _finished(run_dir, state)
        with trust.enforced(policy), make_progress() as progress:
            result = train(recipe, run_dir, recipe_yaml, resume=ckpt, progress=progress)
        return PretrainResult(run_dir=run_dir, model_dir=result.model_dir, step=result.step, metrics=result.last)

    with rundir.open_run(run_dir, stage="pretrain", identity=identity, mode=mode, ignore=IGNORED,
                         legacy=read_yaml(source / "recipe.yaml") if source is not None else None) as run:
        if run.finished_before:
            return _finished(run_dir, run.state)
        atomic_write_text(run_dir / "recipe.yaml", recipe_yaml)
        with trust.enforced(policy), make_progress() as progress:
            result = train(recipe, run_dir, recipe_yaml, resume=ckpt, progress=progress)
        out = PretrainResult(run_dir=run_dir, model_dir=result.model_dir, step=result.step, metrics=result.last)
        out.heldout = _heldout_rows(recipe, result)
        from xlmk.modelcard import write_card

        write_card(result.model_dir)  # again, now with the run's result rows and data hash
        run.finish(step=out.step, metrics=_jsonable(out.metrics), heldout=_jsonable(out.heldout))
    return out


# keys a resumed run may change: where it writes is given by --out / --resume, not by the recipe
IGNORED = ("run.output_dir",)


def _finished(run_dir: Path, state: dict) -> PretrainResult:
    """A finished run, as it finished: nothing is trained or written again."""
    return PretrainResult(run_dir=run_dir, model_dir=run_dir / "final", step=int(state.get("step") or 0),
                          metrics=dict(state.get("metrics") or {}), heldout=dict(state.get("heldout") or {}),
                          finished_before=True)


def _jsonable(data: dict) -> dict:
    import json

    return json.loads(json.dumps(data, default=str))


def _heldout_rows(recipe: PretrainRecipe, result: Any) -> dict:
    """Score the held-out check and write it, and the final training numbers, as result rows."""
    from xlmk.modeling import model_hash
    from xlmk.pretrain.evaluate import EVAL_VERSION, heldout_accuracy
    from xlmk.rundir import model_identity
    from xlmk.results import ResultRow, append_rows, provenance

    sources, run = result.sources, recipe.run
    common = dict(stage="pretrain", model=str(result.model_dir), model_name=recipe.name,
                  model_hash=model_hash(result.model_dir), model_run=model_identity(result.model_dir)["run"],
                  recipe=recipe.name, recipe_version=recipe.version,
                  seed=recipe.seed, data_hash=sources.data_hash if sources else None, run_id=result.run_dir.name,
                  **provenance())
    # accuracies as percentages, as the paper prints them (the ResultRow convention)
    rows = [ResultRow(name=recipe.name, version=recipe.version, split="train", metric=key,
                      value=float(v) * (100.0 if key.endswith("_acc") else 1.0), extra={"step": result.step}, **common)
            for key, v in result.last.items() if key.endswith(("_loss", "_acc")) and v is not None]
    heldout: dict = {}
    if sources is not None and sources.knowledge is not None and run.heldout_max > 0:
        t = recipe.tasks
        lengths = [x.max_length for x in (t.mep, t.oe) if x is not None] or [t.mlm.max_length]
        heldout = heldout_accuracy(result.model_dir, sources.knowledge, batch_size=run.heldout_batch,
                                   limit=run.heldout_max, max_length=min(256, min(lengths)))
        for probe, r in heldout.items():
            if r["n"]:
                rows.append(ResultRow(name=f"{probe}-inbatch", version=EVAL_VERSION, split="heldout",
                                      metric="accuracy", value=100.0 * r["accuracy"], n=r["n"],
                                      protocol=f"in-batch-{r['batch_size']}",
                                      extra={"chance": 100.0 * r["chance"], "heads": r["heads"],
                                             "raw_pooling": r.get("pooling")}, **common))
    if rows:
        append_rows(result.run_dir, rows)
    return heldout
