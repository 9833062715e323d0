"""Scoring the models of a finished QA fine-tuning run on another QA task's test sets, without training.

XTREME evaluates XQuAD with the model fine-tuned on SQuAD; `task.from_run: RUN` (or
`xlmk finetune xquad --set task.from_run=RUN`) takes the saved `RUN/seed-N/model` of every seed of an
`mlqa`, `xquad` or `tydiqa` run (the checkpoint its primary selection protocol kept) and scores it on
this task's test sets in every language. Rows carry the source run's protocol and seed and
`extra.from_run`; summary.json and the printed table have the layout of a fine-tuning run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.errors import ConfigError

QA_KINDS = ("mlqa", "xquad", "tydiqa")


def run(recipe: Any, task: Any, out: str | Path | None) -> Any:
    import types

    import yaml
    from accelerate import Accelerator
    from pydantic import TypeAdapter

    from xlmk.components import Encoder
    from xlmk.config import recipe_to_yaml
    from xlmk.downstream.base import Task
    from xlmk.downstream.loop import evaluate
    from xlmk.downstream.outputs import (SUMMARY, FinetuneResult, SingleProcess, _run_dir, load_tokenizer, model_location,
                                         summary_over_seeds)
    from xlmk.io import atomic_write_json, atomic_write_text
    from xlmk.modeling import model_hash, quiet_transformers
    from xlmk.results import ResultRow, append_rows, provenance
    from xlmk.rundir import locked, model_identity, model_label

    source = Path(recipe.task.from_run).expanduser()
    models = sorted(source.glob("seed-*/model/config.json"), key=lambda p: int(p.parent.parent.name[5:]))
    if not (source / "recipe.yaml").is_file() or not models:
        raise ConfigError(f"task.from_run {source}: not a fine-tuning run with saved models (needs recipe.yaml and "
                          "seed-N/model/; runs made with run.save_model=false keep no model)")
    earlier = yaml.safe_load((source / "recipe.yaml").read_text(encoding="utf-8")) or {}
    kind = (earlier.get("task") or {}).get("kind")
    if kind not in QA_KINDS:
        raise ConfigError(f"task.from_run {source}: a {kind!r} run; only QA runs ({', '.join(QA_KINDS)}) can be scored "
                          f"on {task.name}")
    protocol = (earlier.get("selection") or {}).get("primary", "xglue-avg-dev")
    pretrained = model_location(types.SimpleNamespace(encoder=TypeAdapter(Encoder).validate_python(earlier.get("encoder"))))
    languages = Task.languages(task, ("test",))
    test_data = [d for lang in languages for d in task.load("test", lang)]
    run_dir = _run_dir(out, recipe, SingleProcess())
    if (run_dir / SUMMARY).exists():
        raise ConfigError(f"{run_dir} already holds a finished run ({SUMMARY}); choose another --out")
    with locked(run_dir, what=f"finetune {task.name}"):  # one writer at a time (xlmk/rundir.py)
        atomic_write_text(run_dir / "recipe.yaml", recipe_to_yaml(recipe))
        quiet_transformers()
        accelerator = Accelerator(cpu=recipe.run.cpu)
        rows: list[ResultRow] = []
        per_seed: dict[int, dict] = {}
        for config in models:
            model_dir = config.parent
            seed = int(model_dir.parent.name[5:])
            tokenizer = load_tokenizer(str(model_dir))
            model = task.model_class().from_pretrained(model_dir).to(accelerator.device)
            sets = [(d, task.encode(d, tokenizer, train=False)) for d in test_data]
            scores, predictions = evaluate(model, task, sets, accelerator, recipe.run.eval_batch_size, tokenizer.pad_token_id)
            base = dict(stage="finetune", name=task.name, version=task.version, model=str(model_dir),
                        model_name=source.name, model_hash=model_hash(str(model_dir)), run_id=run_dir.name, seed=seed,
                        protocol=protocol, split="test", **provenance())
            seed_rows = []
            for d, _ in sets:
                task.write_predictions(run_dir / f"seed-{seed}" / "predictions" / protocol / f"{d.label}{task.prediction_suffix}",
                                       d, predictions[d.label])
                extra = {"finetune_recipe": recipe.name, "finetune_recipe_version": recipe.version, "transfer": "zero-shot",
                         "from_run": str(source), "from_task": kind}
                for metric in task.metrics:
                    seed_rows.append(ResultRow(language=d.lang, metric=metric, value=scores[d.label][metric],
                                               n=scores[d.label].get("n"), data_hash=d.data_hash, extra=extra, **base))
            append_rows(run_dir, seed_rows)
            rows += seed_rows
            per_seed[seed] = {d.lang: scores[d.label] for d in test_data}
        summary = summary_over_seeds(task, recipe, str(source), languages, per_seed, protocol, from_run=str(source))
        atomic_write_json(run_dir / SUMMARY, summary)
        return FinetuneResult(run_dir, summary, rows)
