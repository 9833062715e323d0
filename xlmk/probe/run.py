"""`probe(recipe)`: run one probe on one model and write its run directory. The CLI and the Python API
both come through here.

A run directory holds `results.jsonl` (one `ResultRow` per relation/language and aggregate, appended, so
several models can share one directory), `predictions-<model>.jsonl` (every fact or query with its rank
and top predictions), `coverage-<model>.json` (facts read, kept and dropped by reason) and
`recipe-<model>.yaml` (the resolved recipe).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from xlmk.components import HFMaskedLM, InitEncoder
from xlmk.config import load_recipe, read_yaml, recipe_to_yaml
from xlmk.contracts import safe_names
from xlmk.errors import ConfigError, DataError
from xlmk.io import atomic_write_json, atomic_write_text, sha256_file
from xlmk.probe.lama import Coverage
from xlmk.probe.metrics import Score
from xlmk.probe.recipe import ProbeRecipe
from xlmk.probe.specs import CustomProbe, DataDir, LamaProbe, MLamaProbe, ProbeKnowledgeDir, XepProbe, XorProbe, probe_version
from xlmk.results import ResultRow, append_rows, provenance
from xlmk.rundir import model_label as default_label  # a checkpoint's short name: runs/A/final -> A/final
from xlmk.rundir import safe_name


@dataclass
class ProbeResult:
    recipe: ProbeRecipe
    out_dir: Path
    model_name: str
    rows: list[ResultRow]
    coverage: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


# ---------------------------------------------------------------- recipe from command-line style options
def build_recipe(name_or_path: str, *, model: str | None = None, data: str | None = None,
                 languages: Sequence[str] | None = None, overrides: Iterable[str] = ()) -> ProbeRecipe:
    """Load a probe recipe and apply `--set` overrides, then `--model`, `--data` and `--languages`."""
    recipe: ProbeRecipe = load_recipe("probe", name_or_path, list(overrides))
    spec = recipe.probe
    if model is not None:
        # keep the recipe's other encoder settings (tokenizer, attention) when it already is a checkpoint
        recipe.encoder = (recipe.encoder.model_copy(update={"path": model}) if isinstance(recipe.encoder, HFMaskedLM)
                          else HFMaskedLM(path=model))
    if data is not None:
        if isinstance(spec, (LamaProbe, MLamaProbe)):
            spec.data = DataDir(path=data)
        elif isinstance(spec, (XepProbe, XorProbe)):
            spec.knowledge = ProbeKnowledgeDir(path=data)
        else:
            raise ConfigError("--data: a custom probe takes its data from probe.options")
    if languages:
        langs = safe_names([x.strip() for item in languages for x in item.split(",") if x.strip()], "--languages")
        if isinstance(spec, LamaProbe):
            if langs != ["en"]:
                raise ConfigError("--languages: LAMA is English only; `xlmk probe mlama` probes other languages")
        elif isinstance(spec, (MLamaProbe, XepProbe, XorProbe)):
            spec.languages = langs
        else:
            raise ConfigError("--languages: a custom probe takes its languages from probe.options")
    return recipe


# ---------------------------------------------------------------- utilities
def encoder_path(encoder: Any) -> str | None:
    if isinstance(encoder, HFMaskedLM):
        return encoder.path
    if isinstance(encoder, InitEncoder):
        from xlmk.modeling import cached_init_model

        return str(cached_init_model(encoder.size, encoder.tokenizer, encoder.seed, encoder.cache_dir))
    return None


def files_hash(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted({Path(p) for p in paths if Path(p).is_file()}):
        h.update(p.name.encode())
        h.update(sha256_file(p).encode())
    return h.hexdigest()


def probe_split(spec: Any, path: str | None) -> Any:
    """The rows XEP/XOR may draw queries from, with the held-out shares the checkpoint was trained with."""
    from xlmk.probe.queries import Split

    f = Path(path) / "recipe.yaml" if path else None
    data = read_yaml(f) if f is not None and f.is_file() else None
    trained = (data.get("data") or {}) if isinstance(data, dict) else {}
    rows = spec.heldout if spec.heldout is not None else trained.get("heldout", 0.02)
    entities = spec.heldout_entities if spec.heldout_entities is not None else trained.get("heldout_entities", 0.02)
    return Split(spec.split, float(rows), float(entities))


def training_recipe(path: str | None) -> tuple[str | None, int | None]:
    """(name, version) from a checkpoint's recipe.yaml, when it was trained by xlmk."""
    f = Path(path) / "recipe.yaml" if path else None
    if f is None or not f.is_file():
        return None, None
    data = read_yaml(f)
    if not isinstance(data, dict):
        return None, None
    version = data.get("version")
    return data.get("name"), version if isinstance(version, int) else None


def _progress_factory(progress: Any) -> Callable[[str, int], Callable[[int], None]]:
    def factory(description: str, total: int) -> Callable[[int], None]:
        task = progress.add_task(description, total=total)
        return lambda n: progress.advance(task, n)
    return factory


def _read_words(path: str) -> list[str]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("common vocabulary file not found", path=p)
    return [w.strip() for w in p.read_text(encoding="utf-8").splitlines() if w.strip()]


# ---------------------------------------------------------------- the probes
def _run_lama(spec: LamaProbe, data_dir: Path, scorer: Any, coverage: Coverage, track) -> tuple[list[Score], list[dict], dict]:
    from xlmk.probe.cloze import run_lama
    from xlmk.probe.lama import read_lama

    facts, infos = read_lama(data_dir, list(spec.corpora), coverage, relations_file=spec.relations_file,
                             relations=spec.relations, lowercase=spec.lowercase, max_sentence_words=spec.max_sentence_words)
    words = _read_words(spec.common_vocab) if spec.common_vocab else None
    scores, preds = run_lama(facts, infos, coverage, scorer, common_words=words, exclude_special=spec.exclude_special_tokens,
                             dedupe=spec.dedupe, top_k=spec.top_k, mrr_cutoff=spec.mrr_cutoff,
                             max_facts_per_relation=spec.max_facts_per_relation, track=track)
    files = {f.source.rsplit(":", 1)[0] for f in facts}
    files |= {str(p) for c in spec.corpora for p in (data_dir / c).glob("*.jsonl")}
    if "TREx" in spec.corpora:
        files.add(str(Path(spec.relations_file) if Path(spec.relations_file).is_absolute() else data_dir / spec.relations_file))
    if spec.common_vocab:
        files.add(spec.common_vocab)
    ranking = f"common vocabulary ({len(words)} words)" if words is not None else (
        "full vocabulary without special tokens" if spec.exclude_special_tokens else "full vocabulary")
    return scores, preds, {"protocol": "lama-single-token", "ranking": ranking, "data_hash": files_hash(Path(f) for f in files),
                           "infos": infos}


def _run_mlama(spec: MLamaProbe, data_dir: Path, scorer: Any, coverage: Coverage, track) -> tuple[list[Score], list[dict], dict]:
    from xlmk.probe.cloze import run_mlama
    from xlmk.probe.lama import read_candidates, read_mlama

    facts, _ = read_mlama(data_dir, spec.languages, coverage, relations=spec.relations)
    langs = sorted({f.language for f in facts})
    candidates = {lang: read_candidates(spec.candidates, data_dir, lang) for lang in langs} if spec.candidates else {}
    scores, preds = run_mlama(facts, coverage, scorer, candidates=candidates, dedupe=spec.dedupe, top_k=spec.top_k,
                              max_candidate_tokens=spec.max_candidate_tokens, max_facts_per_relation=spec.max_facts_per_relation,
                              track=track)
    files = {p for lang in langs for p in (data_dir / lang).glob("*.jsonl")}
    for pattern in spec.candidates:
        for lang in langs:
            p = Path(pattern.format(lang=lang)).expanduser()
            files.add(p if p.is_absolute() else data_dir / p)
    return scores, preds, {"protocol": "mlama-multi-token-mean-log-prob",
                           "ranking": "candidate objects" + (" from files" if spec.candidates else " of the relation's facts"),
                           "data_hash": files_hash(files)}


def probe(recipe: ProbeRecipe, *, out_dir: str | Path | None = None, model: Any = None, tokenizer: Any = None,
          model_label: str | None = None, resume: bool = False, overwrite: bool = False,
          trust_custom_code: bool = False, user_modules: Iterable[str | Path] = ()) -> ProbeResult:
    """Run `recipe` and write its run directory; `model`/`tokenizer` skip loading the recipe's encoder.

    The run directory is `out_dir`, else `<run.output_dir>/<recipe name>/<model label>`. Several models
    may share one; a model's earlier run there is continued only with `resume` (a finished one is read
    back, not probed again) and replaced only with `overwrite` (`xlmk/rundir.py`). A custom probe needs
    `trust_custom_code` or `user_modules` (`xlmk/trust.py`).
    """
    from xlmk import rundir, trust

    policy = trust.check(recipe, trust_custom_code=trust_custom_code, user_modules=user_modules,
                         source=f"probe recipe {recipe.name!r}")
    if model is not None and tokenizer is None:
        raise ConfigError("probe(): pass the tokenizer along with the model")
    spec = recipe.probe
    # data first: a wrong path should not wait for a model to load
    data_dir = spec.data.build() if isinstance(spec, (LamaProbe, MLamaProbe)) else None
    kdir = spec.knowledge.build() if isinstance(spec, (XepProbe, XorProbe)) else None
    check_probe_inputs(spec, kdir, data_dir)
    path = encoder_path(recipe.encoder) if model is None else None
    if path is not None:
        from xlmk.contracts import check_model_location

        check_model_location(path, where="model")  # before the run directory is claimed
    if model is None and path is None:  # a custom encoder: its label comes from the model it builds
        with trust.enforced(policy):
            model, tokenizer = recipe.encoder.build()
    label = model_label or recipe.run.model_name or (default_label(path) if path else type(model).__name__)
    out = Path(out_dir) if out_dir is not None else Path(recipe.run.output_dir) / recipe.name / label
    safe = safe_name(label)
    identity = {"recipe": recipe.model_dump(mode="json"), "model_hash": _model_hash(path, model)}
    with rundir.open_run(out, stage="probe", identity=identity, mode=rundir.mode_of(resume, overwrite), name=label,
                         markers=(f"recipe-{safe}.yaml", f"coverage-{safe}.json", f"predictions-{safe}.jsonl")) as run:
        if run.finished_before:
            return _read_back(recipe, out, label, safe)
        from xlmk.results import remove_rows

        remove_rows(out, lambda r: r.model_name == label)  # an unfinished or replaced run of this model
        with trust.enforced(policy):
            result = _probe(recipe, spec, out, label, path, model, tokenizer, data_dir, kdir)
        run.finish(rows=len(result.rows))
    return result


def _model_hash(path: str | None, model: Any) -> str | None:
    from xlmk.modeling import model_hash

    if path is not None:
        return model_hash(path)
    from xlmk.probe.dense import model_fingerprint

    return model_fingerprint(model, None)


def _read_back(recipe: ProbeRecipe, out: Path, label: str, safe: str) -> ProbeResult:
    """A finished run of this model in `out`, as it was written."""
    from xlmk.results import read_rows

    rows = [r for r in read_rows([out / "results.jsonl"]) if r.model_name == label]
    coverage = out / f"coverage-{safe}.json"
    files = {"results": out / "results.jsonl", "coverage": coverage, "recipe": out / f"recipe-{safe}.yaml"}
    if (out / f"predictions-{safe}.jsonl").is_file():
        files["predictions"] = out / f"predictions-{safe}.jsonl"
    info = {k: v for k, v in (rows[0].extra if rows else {}).items() if k in ("ranking", "representation")}
    return ProbeResult(recipe, out, label, rows, json.loads(coverage.read_text(encoding="utf-8")), info, files)


def _probe(recipe: ProbeRecipe, spec: Any, out: Path, label: str, path: str | None, model: Any, tokenizer: Any,
           data_dir: Path | None, kdir: Any) -> ProbeResult:
    import torch

    from xlmk.probe.scoring import MaskedLMScorer, prepare_model, resolve_device
    from xlmk.progress import make_progress

    if model is None:
        model, tokenizer = recipe.encoder.build()
    device = resolve_device(recipe.run.device)
    model = prepare_model(model, device, recipe.run.precision)
    torch.manual_seed(recipe.seed)
    coverage = Coverage()
    cache_dir = Path(recipe.run.cache_dir).expanduser() if recipe.run.cache_dir else None
    if cache_dir is None:
        from xlmk.modeling import cache_root

        cache_dir = cache_root()

    with make_progress(transient=True) as progress:
        track = _progress_factory(progress)
        if isinstance(spec, (LamaProbe, MLamaProbe)):
            scorer = MaskedLMScorer(model, tokenizer, device=device, batch_size=recipe.run.batch_size)
            runner = _run_lama if isinstance(spec, LamaProbe) else _run_mlama
            scores, preds, info = runner(spec, data_dir, scorer, coverage, track)
        elif isinstance(spec, (XepProbe, XorProbe)):
            from xlmk.pretrain.heads import load_knowledge_heads
            from xlmk.probe.dense import model_fingerprint
            from xlmk.probe.xep import run_xep
            from xlmk.probe.xor import run_xor

            heads = load_knowledge_heads(path) if path and Path(path).is_dir() else None
            runner = run_xep if isinstance(spec, XepProbe) else run_xor
            scores, preds, info = runner(spec, model, tokenizer, kdir=kdir, heads=heads, seed=recipe.seed,
                                         split=probe_split(spec, path),
                                         device=device, batch_size=recipe.run.batch_size, cache_dir=cache_dir,
                                         model_id=model_fingerprint(model, path), precision=recipe.run.precision,
                                         coverage=coverage, advance_factory=track)
        else:
            scores, preds, info = _run_custom(spec, model, tokenizer, device, recipe, out)

    infos = info.pop("infos", {})
    rows = _rows(recipe, scores, coverage, info, model=path or label, label=label, path=path, run_id=out.name)
    files = _write(out, recipe, rows, preds, coverage, label)
    return ProbeResult(recipe, out, label, rows, coverage.to_dict(), {**info, "infos": infos}, files)


def check_probe_inputs(spec: Any, kdir: Path | None, data_dir: Path | None = None) -> None:
    """What a probe reads is there before the model loads: languages that can be file names, LAMA's
    corpus folders or mLAMA's language folders, and for XEP/XOR the knowledge tables its queries and
    candidates come from, in every language asked for."""
    from xlmk.contracts import check_knowledge

    safe_names(getattr(spec, "languages", None), "probe.languages")
    safe_names(getattr(spec, "candidate_languages", None), "probe.candidate_languages")
    if isinstance(spec, LamaProbe) and data_dir is not None:
        missing = [c for c in spec.corpora if not (data_dir / c).is_dir()]
        if missing:
            raise DataError(f"no {', '.join(c + '/' for c in missing)} folder; set probe.corpora to the corpora you "
                            "have", path=data_dir)
    if isinstance(spec, MLamaProbe) and data_dir is not None and spec.languages:
        from xlmk.probe.lama import mlama_languages

        available = mlama_languages(data_dir)
        missing = [lang for lang in spec.languages if lang not in available]
        if missing:
            raise DataError(f"no mLAMA data for {', '.join(missing)} (no {{lang}}/templates.jsonl; available: "
                            f"{', '.join(available) or 'none'})", path=data_dir)
    if kdir is None:
        return
    if isinstance(spec, XepProbe):  # queries are mentions in the query language
        needs = {"mentions": "probe xep (queries)", "descriptions": "probe xep (candidates)"}
        per_language: tuple[str, ...] = ("mentions",)
    else:  # queries are subject descriptions in the query language
        needs = {"triples": "probe xor (queries)", "descriptions": "probe xor (subjects and candidates)"}
        per_language = ("descriptions",)
    check_knowledge(kdir, needs, languages=spec.languages, per_language=per_language)


def _run_custom(spec: CustomProbe, model: Any, tokenizer: Any, device: Any, recipe: ProbeRecipe, out: Path):
    fn = spec.load()
    scores = []
    for i, item in enumerate(fn(model=model, tokenizer=tokenizer, device=device, recipe=recipe, out_dir=out, **spec.options)):
        if not isinstance(item, dict) or "metric" not in item or "value" not in item:
            raise DataError(f"custom probe {spec.target}: item {i} must be a dict with 'metric' and 'value', got {item!r}")
        scores.append(Score(item.get("subset") or recipe.name, item["metric"], float(item["value"]), int(item.get("n") or 0),
                            item.get("language"), dict(item.get("extra") or {})))
    return scores, [], {"protocol": f"custom:{spec.target}", "data_hash": None}


def _coverage_key(spec: Any, s: Score) -> tuple | None:
    level = s.extra.get("level")
    if isinstance(spec, LamaProbe) and level == "relation":
        return (s.extra["corpus"], s.extra["relation"], "en")
    if isinstance(spec, MLamaProbe) and level == "relation":
        return ("mLAMA", s.extra["relation"], s.language)
    if isinstance(spec, (XepProbe, XorProbe)) and level == "language":
        return ("XEP", "mentions", s.language) if isinstance(spec, XepProbe) else ("XOR", "triples", s.language)
    return None


def _rows(recipe: ProbeRecipe, scores: list[Score], coverage: Coverage, info: dict, *, model: str, label: str,
          path: str | None, run_id: str) -> list[ResultRow]:
    from xlmk.modeling import model_hash

    spec = recipe.probe
    from xlmk.rundir import model_identity

    train_name, train_version = training_recipe(path)
    mhash = model_hash(path) if path else None
    model_run = model_identity(path)["run"] if path else None
    shared = {k: v for k, v in info.items() if k not in ("protocol", "data_hash")}
    rows = []
    for s in scores:
        extra = {**s.extra, **shared, "probe_recipe": recipe.name, "probe_recipe_version": recipe.version}
        key = _coverage_key(spec, s)
        if key is not None:
            extra["coverage"] = coverage.entry(key)
        rows.append(ResultRow(stage="probe", name=recipe.name if isinstance(spec, CustomProbe) else spec.kind,
                              version=probe_version(spec), model=model, model_name=label, model_hash=mhash, model_run=model_run,
                              recipe=train_name, recipe_version=train_version, language=s.language, subset=s.subset,
                              split=info.get("split", "test"), metric=s.metric, value=s.value, n=s.n, seed=recipe.seed,
                              protocol=info.get("protocol"), data_hash=info.get("data_hash"), run_id=run_id,
                              extra=extra, **provenance()))
    return rows


def _write(out: Path, recipe: ProbeRecipe, rows: list[ResultRow], preds: list[dict], coverage: Coverage, label: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    safe = safe_name(label)
    files = {"results": append_rows(out, rows)}
    files["coverage"] = out / f"coverage-{safe}.json"
    atomic_write_json(files["coverage"], coverage.to_dict())
    files["recipe"] = out / f"recipe-{safe}.yaml"
    atomic_write_text(files["recipe"], recipe_to_yaml(recipe))
    if recipe.run.save_predictions and preds:
        files["predictions"] = out / f"predictions-{safe}.jsonl"
        atomic_write_text(files["predictions"], "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds))
    return files
