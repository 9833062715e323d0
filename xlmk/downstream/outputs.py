"""What every fine-tuning path writes and reads: the run directory, its summary, the result, the model.

Shared by `run.finetune` (training), `retrieve` (BUCC, Tatoeba: nothing trained) and `reuse` (QA scored
with an earlier run's models), so that those two need not import the training entry point.
"""
from __future__ import annotations

import datetime as _dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlmk.results import ResultRow

SUMMARY = "summary.json"


@dataclass
class FinetuneResult:
    run_dir: Path
    summary: dict
    rows: list[ResultRow] = field(default_factory=list)


def model_location(recipe: Any) -> str:
    enc = recipe.encoder
    if enc.kind == "init":
        from xlmk.modeling import cached_init_model

        return str(cached_init_model(enc.size, enc.tokenizer, enc.seed, enc.cache_dir))
    return enc.path


def _run_dir(out: str | Path | None, recipe: Any, state: Any) -> Path:
    """--out, or a new timestamped folder; under several processes the main process's name for all."""
    if out is not None:
        return Path(out)
    names = [str(Path(recipe.run.output_dir) / f"{recipe.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}")]
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(names, from_process=0)
    return Path(names[0])


def load_tokenizer(model_path: str) -> Any:
    """AutoTokenizer of a checkpoint, kept for the process: several tasks or sweeps fine-tuning one
    checkpoint load its (250k-piece) tokenizer once. Keyed by the files' modification times."""
    files = sorted(Path(model_path).glob("*token*")) if Path(model_path).is_dir() else []
    return _load_tokenizer(str(model_path), tuple((f.name, f.stat().st_mtime_ns) for f in files))


@functools.lru_cache(maxsize=4)
def _load_tokenizer(model_path: str, _stamp: tuple) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_path)
    except OSError as exc:
        from xlmk.modeling import _not_loadable

        raise _not_loadable(model_path, exc, "the tokenizer of model") from None


def summary_over_seeds(task: Any, recipe: Any, model: str, languages: list[str], per_seed: dict[int, dict],
                       protocol: str, **extra: Any) -> dict:
    """The layout of `finetune`'s summary.json for runs that train nothing: test scores only, no epochs."""
    from xlmk.downstream.selection import seed_statistics, with_average

    out = {"task": task.name, "version": task.version, "recipe": recipe.name, "model": model, "languages": languages,
           "main_metric": task.main_metric, "seeds": list(per_seed), **extra, "protocols": {}}
    if per_seed and languages:
        values = {seed: {m: with_average({lang: scores[lang][m] for lang in languages}, languages) for m in task.metrics}
                  for seed, scores in per_seed.items()}
        stats = seed_statistics(values, task.main_metric, ddof=recipe.selection.std_ddof)
        stats["epochs"] = {seed: 0 for seed in per_seed}
        out["protocols"][protocol] = {"test": stats}
    return out


class SingleProcess:
    num_processes = 1
