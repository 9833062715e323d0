"""The Python API: the same functions the CLI calls, taking recipe objects or names.

    from xlmk import api
    recipe = api.load_recipe("xlmk-tiny", ["queue.size=256"])         # a validated PretrainRecipe
    run = api.pretrain(recipe)                                         # PretrainResult (model_dir, metrics)
    probed = api.probe("xep-tiny", model=run.model_dir)                # ProbeResult (rows, coverage)
    tuned = api.finetune("xnli-tiny", model=run.model_dir, seeds=[1, 2])  # FinetuneResult (rows, summary)
    for table in api.results([probed.out_dir, tuned.run_dir]):         # Tables 1-5, 7 as data
        print(table.title, table.columns, table.rows)

These are plain functions. `xlmk.pretrain`, `xlmk.probe` and `xlmk.results` are the subpackages and
module of those names, so the API is reached as `xlmk.api.*` (or `from xlmk.api import pretrain`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence


def load_recipe(name_or_path: Any, overrides: Iterable[str] = (), *, stage: str = "pretrain") -> Any:
    """A recipe of `stage` by name or path, with `--set`-style overrides, validated."""
    from xlmk.config import load_recipe as _load

    return _load(stage, name_or_path, list(overrides))


def pretrain(recipe: Any = "xlmk", overrides: Iterable[str] = (), *, resume: str | Path | None = None,
             output_dir: str | Path | None = None, overwrite: bool = False, trust_custom_code: bool = False,
             user_modules: Iterable[str | Path] = ()) -> Any:
    """Pre-train (see `xlmk pretrain`); returns a PretrainResult."""
    from xlmk.pretrain.run import pretrain as _pretrain

    return _pretrain(recipe, overrides, resume=resume, output_dir=output_dir, overwrite=overwrite,
                     trust_custom_code=trust_custom_code, user_modules=user_modules)


def probe(recipe: Any, *, model: str | Path | None = None, data: str | Path | None = None,
          languages: Sequence[str] | None = None, overrides: Iterable[str] = (),
          out_dir: str | Path | None = None, model_label: str | None = None, resume: bool = False,
          overwrite: bool = False, trust_custom_code: bool = False, user_modules: Iterable[str | Path] = ()) -> Any:
    """Probe a model (see `xlmk probe`); `recipe` is a ProbeRecipe or a probe recipe name/path."""
    from xlmk.probe.recipe import ProbeRecipe
    from xlmk.probe.run import build_recipe, probe as _probe

    if not isinstance(recipe, ProbeRecipe):
        recipe = build_recipe(str(recipe), model=None if model is None else str(model),
                              data=None if data is None else str(data), languages=languages, overrides=overrides)
    elif model is not None or data is not None or languages or overrides:
        raise TypeError("model/data/languages/overrides apply to a recipe name; change the recipe object directly")
    return _probe(recipe, out_dir=out_dir, model_label=model_label, resume=resume, overwrite=overwrite,
                  trust_custom_code=trust_custom_code, user_modules=user_modules)


def finetune(recipe: Any, *, model: str | Path | None = None, data: str | Path | None = None,
             languages: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
             overrides: Iterable[str] = (), out: str | Path | None = None, resume: bool = False,
             overwrite: bool = False, trust_custom_code: bool = False, user_modules: Iterable[str | Path] = ()) -> Any:
    """Fine-tune zero-shot (see `xlmk finetune`); `recipe` is a FinetuneRecipe, a task or a recipe name."""
    from xlmk.downstream.run import finetune as _finetune

    choices: dict[str, Any] = {}
    if model is not None:
        choices["model"] = str(model)
    if data is not None:
        choices["data"] = str(data)
    if languages is not None:
        choices["languages"] = list(languages)
    if seeds is not None:
        choices["seeds"] = list(seeds)
    if overrides:
        choices["overrides"] = list(overrides)
    return _finetune(recipe, out=out, resume=resume, overwrite=overwrite, trust_custom_code=trust_custom_code,
                     user_modules=list(user_modules), **choices)


def results(runs: Sequence[str | Path], tasks: Iterable[str] | None = None, *, split: str = "test") -> list:
    """Every table the runs' rows allow (list of xlmk.tables.Table: title, columns, rows, notes)."""
    from xlmk.report import build_tables
    from xlmk.results import read_rows

    return build_tables(read_rows(runs), tasks, split=split)
