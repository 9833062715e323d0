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
             output_dir: str | Path | None = None) -> PretrainResult:
    """Pre-train as the recipe says. `resume`: a run directory (its newest complete checkpoint) or one
    checkpoint; with `recipe_or_name=None` the checkpoint's own recipe is used."""
    from xlmk.config import recipe_to_yaml
    from xlmk.io import atomic_write_text
    from xlmk.pretrain.checkpoint import CHECKPOINTS, latest_checkpoint
    from xlmk.pretrain.loop import train
    from xlmk.progress import make_progress

    ckpt = None
    if resume is not None:
        ckpt = latest_checkpoint(resume)
        if ckpt is None:
            raise TrainingError(f"--resume {resume}: no complete checkpoint there (looked for "
                                f"{CHECKPOINTS}/step-*/trainer_state/state.json)")
    recipe = resolve_recipe(recipe_or_name, overrides, ckpt)
    if output_dir is not None:
        run_dir = Path(output_dir)
    elif ckpt is not None:
        run_dir = ckpt.parent.parent if ckpt.parent.name == CHECKPOINTS else ckpt
    else:
        run_dir = Path(recipe.run.output_dir)
    recipe_yaml = recipe_to_yaml(recipe)
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "recipe.yaml", recipe_yaml)

    with make_progress() as progress:
        result = train(recipe, run_dir, recipe_yaml, resume=ckpt, progress=progress)
    out = PretrainResult(run_dir=run_dir, model_dir=result.model_dir, step=result.step, metrics=result.last)
    if main:
        from xlmk.modelcard import write_card

        out.heldout = _heldout_rows(recipe, result)
        write_card(result.model_dir)  # again, now with the run's result rows and data hash
    return out


def _heldout_rows(recipe: PretrainRecipe, result: Any) -> dict:
    """Score the held-out check and write it, and the final training numbers, as result rows."""
    from xlmk.modeling import model_hash
    from xlmk.pretrain.evaluate import EVAL_VERSION, heldout_accuracy
    from xlmk.results import ResultRow, append_rows, provenance

    sources, run = result.sources, recipe.run
    common = dict(stage="pretrain", model=str(result.model_dir), model_name=recipe.name,
                  model_hash=model_hash(result.model_dir), recipe=recipe.name, recipe_version=recipe.version,
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
