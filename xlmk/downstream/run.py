"""`finetune` and `score`: the library functions behind `xlmk finetune` and `xlmk score`.

finetune: check everything that can be checked before training (languages with data, training file,
protocols), encode train and dev once, run one `loop.fit` per seed, write each seed's predictions,
history and (optionally) model, and one row per seed, protocol, split, language and metric into
RUN/results.jsonl: measurements only, so that tools aggregating rows never count a derived number
twice. The derived numbers (the average over languages, and mean, max and std over seeds) go to
RUN/summary.json and the printed table. A run directory whose seeds are partly done resumes with the
missing seeds when asked to (`resume`); a seed's outcome.json is its commit, from which its rows are
(re)written.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from xlmk import tracking
from xlmk.downstream.outputs import (  # noqa: F401 - re-exported: callers import them from here
    SUMMARY, FinetuneResult, _run_dir, load_tokenizer, model_location)
from xlmk.downstream.recipe import FinetuneRecipe
from xlmk.downstream.scoring import score  # noqa: F401 - `xlmk score` and the Python API call it from here
from xlmk.downstream.selection import AVG, check_protocols, seed_statistics, with_average
from xlmk.errors import ConfigError, DataError
from xlmk.results import ResultRow, append_rows, provenance

# task names accepted where a recipe is expected -> the recipe carrying the paper's settings
TASK_RECIPES = {"xnli": "xnli", "mlqa": "mlqa", "ner": "ner-xglue", "panx": "panx", "paws-x": "paws-x",
                "pawsx": "paws-x", "xquad": "xquad", "tydiqa": "tydiqa", "udpos": "udpos", "bucc": "bucc",
                "tatoeba": "tatoeba"}


def resolve_recipe(recipe: str | Path | FinetuneRecipe, *, model: str | None = None, data: str | None = None,
                   languages: list[str] | None = None, seeds: list[int] | None = None,
                   overrides: tuple[str, ...] | list[str] = (), transfer: str | None = None) -> FinetuneRecipe:
    """A recipe by name, path or object, with the command-line choices applied (validated)."""
    from xlmk.components import HFMaskedLM
    from xlmk.config import load_recipe

    if not isinstance(recipe, FinetuneRecipe):
        recipe = load_recipe("finetune", TASK_RECIPES.get(str(recipe), recipe), overrides)
    elif overrides:
        raise ConfigError("overrides apply to a recipe name or path; change the recipe object directly")
    recipe = recipe.model_copy(deep=True)
    if model is not None:
        recipe.encoder = HFMaskedLM(path=str(model))
    if data is not None:
        recipe.task.data_dir = str(data)
    if languages is not None:
        recipe.task.languages = list(languages)
    if seeds is not None:
        recipe.seeds = list(seeds)
    from xlmk.contracts import safe_name, safe_names

    # languages become parts of prediction file names: nothing that could climb out of the run directory
    safe_names(getattr(recipe.task, "languages", None), "--languages" if languages is not None else "task.languages")
    if getattr(recipe.task, "train_language", None):
        safe_name(recipe.task.train_language, "task.train_language")
    if transfer is not None:
        recipe.task.transfer = transfer
    return FinetuneRecipe.model_validate(recipe.model_dump())


def finetune(recipe: str | Path | FinetuneRecipe, *, out: str | Path | None = None, resume: bool = False,
             overwrite: bool = False, trust_custom_code: bool = False, user_modules: Any = (),
             **choices: Any) -> FinetuneResult:
    """Fine-tune on the training language, select epochs, score every language, for every seed.

    An existing run directory is continued only with `resume` (same recipe and model; more seeds may be
    added), replaced only with `overwrite` (`xlmk/rundir.py`); custom tasks need `trust_custom_code`
    or `user_modules` (`xlmk/trust.py`)."""
    from xlmk import trust

    recipe = resolve_recipe(recipe, **choices)
    policy = trust.check(recipe, trust_custom_code=trust_custom_code, user_modules=user_modules,
                         source=f"finetune recipe {recipe.name!r}")
    with trust.enforced(policy):
        return _finetune(recipe, out, resume, overwrite)


def _finetune(recipe: FinetuneRecipe, out: str | Path | None, resume: bool, overwrite: bool) -> FinetuneResult:
    from accelerate import PartialState

    from xlmk import rundir
    from xlmk.config import recipe_to_yaml
    from xlmk.io import atomic_write_text
    from xlmk.modeling import model_hash

    mode = rundir.mode_of(resume, overwrite)
    task = recipe.task.build()
    if getattr(task, "retrieval", False):  # BUCC, Tatoeba: nothing to train
        from xlmk.downstream.retrieve import run as retrieve

        return retrieve(recipe, task, out)
    if getattr(recipe.task, "from_run", None):  # XQuAD scored with an earlier SQuAD/MLQA run's models
        from xlmk.downstream.reuse import run as reuse

        return reuse(recipe, task, out)
    # everything a user can get wrong is checked before the first step
    languages = task.languages()
    check_protocols(recipe.selection.protocols, languages, task.train_language)
    task.check_train()
    tracking.check_available(recipe.run.report_to)
    model_path = model_location(recipe)
    _check_model(model_path, recipe)
    state = PartialState(cpu=recipe.run.cpu)  # a singleton: the Accelerator below shares it
    run_dir = _run_dir(out, recipe, state)
    identity = {"recipe": recipe.model_dump(mode="json"), "model_hash": model_hash(model_path)}
    run = None
    if state.is_main_process:
        run = rundir.open_run(run_dir, stage="finetune", identity=identity, mode=mode, ignore=("recipe.seeds",),
                              legacy=_legacy_identity(run_dir, identity))
    try:
        done = _finished(run_dir, recipe) if mode == "resume" else None
        if done is not None:  # resumed, nothing left to do: nothing is trained or written
            return done
        if run is not None:
            run.reopen()
            atomic_write_text(run_dir / "recipe.yaml", recipe_to_yaml(recipe))
        result = _train_seeds(recipe, task, model_path, languages, run_dir, state)
        if run is not None:
            run.finish(seeds=list(result.summary["seeds"]))
        return result
    finally:
        if run is not None:
            run.close()


def _train_seeds(recipe: FinetuneRecipe, task: Any, model_path: str, languages: list[str], run_dir: Path,
                 state: Any) -> FinetuneResult:
    from accelerate import Accelerator

    from xlmk.downstream.loop import accumulation_steps
    from xlmk.progress import make_progress

    accelerator = Accelerator(cpu=recipe.run.cpu, mixed_precision=_precision(recipe.run.precision),
                              gradient_accumulation_steps=accumulation_steps(recipe.optim, state.num_processes),
                              **tracking.accelerator_kwargs(recipe.run.report_to, run_dir))
    tracking.start(accelerator, recipe.run.report_to, recipe.name, run_dir, recipe.model_dump(mode="json"))
    context = _Context(task, recipe, model_path, languages, run_dir, accelerator)
    rows: list[ResultRow] = []
    outcomes: dict[int, dict] = {}
    with make_progress() as progress:
        for seed in recipe.seeds:
            seed_dir = run_dir / f"seed-{seed}"
            if (seed_dir / "outcome.json").is_file():  # finished earlier: resume after it
                outcomes[seed] = json.loads((seed_dir / "outcome.json").read_text(encoding="utf-8"))
            else:
                outcomes[seed] = context.run_seed(seed, seed_dir, progress)
            if accelerator.is_main_process:
                # outcome.json is the seed's commit: its rows are derived from it, so rows that a kill
                # kept from reaching results.jsonl are written now (rows already there are not repeated)
                seed_rows = context.seed_rows(outcomes[seed])
                append_rows(run_dir, seed_rows)
                rows += seed_rows
                if (seed_dir / "model" / "config.json").is_file():
                    from xlmk.modelcard import write_card

                    write_card(seed_dir / "model", base_model=model_path, rows=seed_rows)
    summary = context.summary(outcomes)
    if accelerator.is_main_process:
        from xlmk.io import atomic_write_json

        atomic_write_json(run_dir / SUMMARY, summary)
    if accelerator.num_processes > 1 or recipe.run.report_to != "none":
        # avoids the gloo/NCCL abort at interpreter exit, and closes the tracker's files
        accelerator.wait_for_everyone()
        accelerator.end_training()
    return FinetuneResult(run_dir, summary, rows)


def _check_model(model_path: str, recipe: FinetuneRecipe) -> None:
    """The checkpoint exists, is whole, and has positions for the task's sequences."""
    import types

    from xlmk.contracts import check_lengths, check_model_dir

    folder = check_model_dir(model_path, "--model")
    if folder is not None and hasattr(recipe.task, "max_length"):
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        check_lengths({"task.max_length": recipe.task.max_length}, types.SimpleNamespace(**config))
def _finished(run_dir: Path, recipe: FinetuneRecipe) -> FinetuneResult | None:
    """The run as it finished, when every requested seed is done and the summary written."""
    from xlmk.rundir import read_state

    summary = run_dir / SUMMARY
    if (read_state(run_dir) or {}).get("status") != "finished" or not summary.is_file():
        return None
    if not all((run_dir / f"seed-{s}" / "outcome.json").is_file() for s in recipe.seeds):
        return None
    data = json.loads(summary.read_text(encoding="utf-8"))
    return FinetuneResult(run_dir, data) if sorted(data.get("seeds", [])) == sorted(recipe.seeds) else None


def _legacy_identity(run_dir: Path, identity: dict) -> dict | None:
    """The identity of a run written before run.json: its recipe.yaml, and (unknown then) this model."""
    import yaml

    earlier = run_dir / "recipe.yaml"
    if not earlier.is_file():
        return None
    return {"recipe": yaml.safe_load(earlier.read_text(encoding="utf-8")) or {}, "model_hash": identity["model_hash"]}


def _precision(p: str) -> str:
    return {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[p]


class _Context:
    """What all seeds of a run share: the task, encoded train/dev data, provenance."""

    def __init__(self, task: Any, recipe: FinetuneRecipe, model_path: str, languages: list[str], run_dir: Path,
                 accelerator: Any):
        from xlmk.modeling import model_hash, quiet_transformers
        from xlmk.rundir import model_identity, model_label

        quiet_transformers()
        self.task, self.recipe, self.model_path, self.languages = task, recipe, model_path, languages
        self.run_dir, self.accelerator = run_dir, accelerator
        self.tokenizer = load_tokenizer(model_path)
        train = task.load_train()
        if recipe.task.transfer == "translate-train":
            train = _with_translations(task, train, languages, accelerator)
        self.train = (train, task.encode(train, self.tokenizer, train=True))
        # tasks without dev data in every language (XQuAD, TyDiQA-GoldP) select on the languages that have it
        self.dev_languages = task.dev_languages(languages)
        self.dev = [(d, task.encode(d, self.tokenizer, train=False)) for lang in self.dev_languages
                    for d in task.load("dev", lang)]
        # test files are read (and so checked) now, before any training; they are encoded when needed
        self.test_data = [d for lang in languages for d in task.load("test", lang)]
        for d in [train] + [d for d, _ in self.dev] + self.test_data:  # an empty file would fail only when scored
            if not d.examples:
                raise DataError(f"no usable {d.split} example for {d.subset or d.lang} (empty, or every example "
                                "skipped)", path=d.paths[0] if d.paths else None)
        self._test: list | None = None
        self.notes = {d.label: dict(d.notes) for d in [train] + [d for d, _ in self.dev] + self.test_data if d.notes}
        if self.notes and accelerator.is_main_process:
            from rich.console import Console

            for label, notes in self.notes.items():
                said = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in notes.items())
                Console(stderr=True).print(f"[yellow]note:[/] {task.name} {label}: {said}", highlight=False)
        self.model_hash = model_hash(model_path)
        self.model_run, self.model_name = model_identity(model_path)["run"], model_label(model_path)
        self.pretrain_recipe = _pretrain_recipe(model_path)
        self.provenance = provenance()

    def load_test(self, tokenizer: Any) -> list:
        if self._test is None:
            self._test = [(d, self.task.encode(d, tokenizer, train=False)) for d in self.test_data]
        return self._test

    def run_seed(self, seed: int, seed_dir: Path, progress: Any) -> dict:
        from xlmk.downstream.loop import fit, save_model
        from xlmk.io import append_text, atomic_write_json

        history_file = seed_dir / "history.jsonl"

        def log_epoch(record: dict) -> None:
            if self.accelerator.is_main_process:
                seed_dir.mkdir(parents=True, exist_ok=True)
                append_text(history_file, json.dumps(record) + "\n")
                scores = {split: {k: v for k, v in s.items() if k != "n"} for split, s in record["dev"].items()}
                tracking.log(self.accelerator, self.recipe.run.report_to,
                             {f"seed-{seed}": {"train_loss": record["train_loss"], **scores}}, step=record["epoch"])

        if history_file.exists():
            history_file.unlink()  # an unfinished earlier attempt at this seed
        result = fit(self.task, self.recipe, self.model_path, self.tokenizer, seed, self.accelerator, train=self.train, dev=self.dev,
                     languages=self.dev_languages, load_test=self.load_test, progress=progress, on_epoch=log_epoch)
        if self.accelerator.is_main_process:
            if self.recipe.run.save_predictions:
                sets = {d.label: d for d, _ in self.dev + result["test_sets"]}
                for protocol, by_split in result["predictions"].items():
                    for split_preds in by_split.values():
                        for label, preds in split_preds.items():
                            path = seed_dir / "predictions" / protocol / f"{label}{self.task.prediction_suffix}"
                            self.task.write_predictions(path, sets[label], preds)
            if self.recipe.run.save_model:
                save_model(result["model"], result["tokenizer"], seed_dir / "model")
        outcome = {k: result[k] for k in ("seed", "history", "protocols", "data", "train")}
        if self.accelerator.is_main_process:
            atomic_write_json(seed_dir / "outcome.json", outcome)
        return outcome

    # ---------------------------------------------------------------- rows
    def _row(self, **kw: Any) -> ResultRow:
        extra = {"finetune_recipe": self.recipe.name, "finetune_recipe_version": self.recipe.version,
                 "transfer": self.recipe.task.transfer, **kw.pop("extra", {})}
        return ResultRow(stage="finetune", name=self.task.name, version=self.task.version, model=self.model_path,
                         model_name=self.model_name, model_hash=self.model_hash, model_run=self.model_run,
                         recipe=self.pretrain_recipe[0], recipe_version=self.pretrain_recipe[1],
                         run_id=self.run_dir.name, extra=extra, **self.provenance, **kw)

    def seed_rows(self, outcome: dict) -> list[ResultRow]:
        rows = []
        seed, data = outcome["seed"], outcome["data"]
        for protocol, chosen in outcome["protocols"].items():
            for split in ("dev", "test"):
                scores = chosen[split]
                for label, values in scores.items():
                    info = data[label]
                    notes = {k: v for k, v in values.items() if k not in self.task.metrics and k != "n"}
                    for metric in self.task.metrics:
                        rows.append(self._row(language=info["lang"], subset=info["subset"], split=split, metric=metric,
                                              value=values[metric], n=values.get("n"), seed=seed, protocol=protocol,
                                              data_hash=info["hash"], extra={"epoch": chosen["epoch"], **notes}))
        return rows

    def _hashes(self, outcome: dict, split: str) -> dict[str, str]:
        """Data hash per language of a split, and for `avg` one hash over all of them."""
        data = outcome["data"]
        languages = self._split_languages(split)
        out = {lang: data[f"{split}-{lang}"]["hash"] for lang in languages}
        out[AVG] = hashlib.sha256("".join(out[lang] for lang in languages).encode()).hexdigest()
        return out

    def _split_languages(self, split: str) -> list[str]:
        return self.dev_languages if split == "dev" else self.languages

    def summary(self, outcomes: dict[int, dict]) -> dict:
        """Statistics over seeds for each protocol and split: mean, max (by the average) and std."""
        out: dict = {"task": self.task.name, "version": self.task.version, "recipe": self.recipe.name,
                     "model": self.model_path, "languages": self.languages, "main_metric": self.task.main_metric,
                     "seeds": list(outcomes), "data_notes": self.notes, "transfer": self.recipe.task.transfer,
                     "protocols": {}}
        for protocol in self.recipe.selection.protocols:
            out["protocols"][protocol] = {}
            for split in ("dev", "test"):
                languages = self._split_languages(split)
                per_seed = {}
                for seed, outcome in outcomes.items():
                    scores = outcome["protocols"][protocol][split]
                    per_seed[seed] = {m: with_average({lang: scores[f"{split}-{lang}"][m] for lang in languages},
                                                      languages) for m in self.task.metrics}
                stats = seed_statistics(per_seed, self.task.main_metric, ddof=self.recipe.selection.std_ddof)
                stats["epochs"] = {seed: o["protocols"][protocol]["epoch"] for seed, o in outcomes.items()}
                first = next(iter(outcomes.values()))
                stats["data_hash"] = self._hashes(first, split)
                n = {lang: first["protocols"][protocol][split][f"{split}-{lang}"].get("n") for lang in languages}
                stats["n"] = {**n, AVG: sum(v or 0 for v in n.values())}
                out["protocols"][protocol][split] = stats
        return out


def _with_translations(task: Any, train: Any, languages: list[str], accelerator: Any) -> Any:
    """The training set plus the translated ones (translate-train); languages without one are said."""
    from xlmk.downstream.base import EvalData

    translated, missing = task.translated_train(languages)
    if missing and accelerator.is_main_process:
        from rich.console import Console

        Console(stderr=True).print(f"[yellow]note:[/] {task.name} translate-train: no translated training set for "
                                   f"{', '.join(missing)}", highlight=False)
    sets = [train] + translated
    notes = dict(train.notes)
    notes["translate_train_languages"] = len(translated)
    return EvalData(train.lang, "train", [e for d in sets for e in d.examples], [p for d in sets for p in d.paths],
                    hashlib.sha256("".join(d.data_hash for d in sets).encode()).hexdigest(), notes=notes)


def _pretrain_recipe(model_path: str) -> tuple[str | None, int | None]:
    """Name and version of the recipe that pre-trained the checkpoint (CKPT/recipe.yaml), when there is one."""
    import yaml

    path = Path(model_path) / "recipe.yaml"
    if not path.is_file():
        return None, None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"invalid YAML: {exc}", path=path) from None
    return data.get("name"), data.get("version")
