"""BUCC 2018 and Tatoeba through `xlmk finetune bucc|tatoeba`: sentence retrieval with no fine-tuning.

Each sentence is encoded once by the checkpoint's encoder: the states of one layer (XTREME: layer 7 of
a 12-layer model; by default here the same share of the model's depth, `round(7/12 * layers)`),
mean-pooled over the sentence's tokens (special tokens included, padding not, as XTREME's
`extract_embeddings`). Then `retrieval.py` does the rest: BUCC mines pairs, chooses the threshold
on the dev (`sample`) gold and applies it to test (`training`, XTREME's test); Tatoeba takes each
English sentence's nearest neighbour. Rows, predictions (XTREME's layout: `test-{lang}.tsv`) and
summary.json go to the run directory as for the fine-tuned tasks.

Layouts. BUCC: the release (`{l}-en/{l}-en.{training,sample}.{l,en,gold}`) or XTREME's
(`{l}-en.{test,dev}.{l,en}` + `{l}-en.dev.gold`; test gold deleted, so test is predicted, not scored).
Tatoeba: LASER's release (`tatoeba.{xxx}-eng.{xxx,eng}`, line i of one side translates line i of the
other) or XTREME's (`{l}-en.{l}` + `{l}-en.en`, English sorted, gold `test-{l}.labels.tsv`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.downstream.base import hash_paths
from xlmk.downstream.outputs import SingleProcess
from xlmk.errors import ConfigError, DataError

XTREME_LAYERS = (7, 12)  # XTREME reads layer 7 of XLM-R base's 12


def default_layer(num_layers: int) -> int:
    return max(1, round(XTREME_LAYERS[0] / XTREME_LAYERS[1] * num_layers))


class _RetrievalTask:
    """Finds a task's files per language; subclasses read and score them."""

    name = "retrieval"
    retrieval = True
    search_dirs: tuple[str, ...] = ("",)
    layouts: dict[str, dict[str, str]] = {}

    def __init__(self, spec: Any):
        from xlmk.config import load_table

        self.spec = spec
        self.version = spec.version
        self.table = load_table("finetune_languages")[self.name]
        self._layout = spec.layout

    def roots(self) -> list[Path]:
        base = self.spec.root()
        return [base / sub if sub else base for sub in self.search_dirs]

    def find(self, key: str, lang: str) -> Path | None:
        template = self.spec.files.get(key) or self.layouts[self.layout()].get(key)
        return self._find(template, lang) if template else None

    def _find(self, template: str, lang: str) -> Path | None:
        rel = template.format(lang=lang, iso3=self.table.get("iso3", {}).get(lang, lang))
        for root in self.roots():
            if (root / rel).is_file():
                return root / rel
        return None

    def layout(self) -> str:
        if self._layout == "auto":
            for name, files in self.layouts.items():
                if any(self._find(files[self.probe], lang) for lang in self.table["languages"]):
                    self._layout = name
                    break
            else:
                looked = "; ".join(f"{name}: {files[self.probe]}" for name, files in self.layouts.items())
                raise DataError(f"no {self.name} data under {', '.join(str(r) for r in self.roots())} "
                                f"(looked for {looked})")
        return self._layout

    def search(self) -> str:
        """The neighbour search `task.search` means here (embeddings are scored on the CPU)."""
        import torch

        from xlmk.downstream.neighbours import resolve

        return resolve(self.spec.search, torch.device("cpu"))

    probe = "src"
    required: tuple[str, ...] = ("src", "trg")

    def languages(self) -> list[str]:
        wanted = self.spec.languages
        candidates = list(wanted) if wanted is not None else list(self.table["languages"])
        have = [lang for lang in candidates if all(self.find(k, lang) for k in self.required)]
        if wanted is not None and len(have) < len(wanted):
            missing = [lang for lang in wanted if lang not in have]
            files = ", ".join(self.layouts[self.layout()][k] for k in self.required)
            raise DataError(f"no {self.name} data for: {', '.join(missing)}; looked in "
                            f"{', '.join(str(r) for r in self.roots())} for {files}")
        if not have:
            raise DataError(f"no {self.name} data in any language under {', '.join(str(r) for r in self.roots())}")
        return have


class BuccTask(_RetrievalTask):
    name = "bucc"
    search_dirs = ("", "bucc2018", "bucc")
    layouts = {
        "original": {"src": "{lang}-en/{lang}-en.training.{lang}", "trg": "{lang}-en/{lang}-en.training.en",
                     "gold": "{lang}-en/{lang}-en.training.gold", "dev_src": "{lang}-en/{lang}-en.sample.{lang}",
                     "dev_trg": "{lang}-en/{lang}-en.sample.en", "dev_gold": "{lang}-en/{lang}-en.sample.gold"},
        "xtreme": {"src": "{lang}-en.test.{lang}", "trg": "{lang}-en.test.en", "dev_src": "{lang}-en.dev.{lang}",
                   "dev_trg": "{lang}-en.dev.en", "dev_gold": "{lang}-en.dev.gold"},
    }
    required = ("src", "trg", "dev_src", "dev_trg", "dev_gold")
    metrics = ("f1", "precision", "recall")
    main_metric = "f1"

    def evaluate(self, lang: str, encode: Any) -> tuple[dict, dict, list[str], list[Path]]:
        """({split: scores}, notes, prediction lines, files read) of one language."""
        from xlmk.downstream.retrieval import bucc_extract, bucc_f1, bucc_optimize
        from xlmk.downstream.xtreme_readers import read_bucc_pairs

        spec = self.spec
        dev = self._candidates(self.find("dev_src", lang), self.find("dev_trg", lang), encode)
        dev_gold = read_bucc_pairs(self.find("dev_gold", lang))
        threshold, _ = bucc_optimize(dev, dev_gold)
        test = self._candidates(self.find("src", lang), self.find("trg", lang), encode)
        predicted = bucc_extract(test, threshold)
        scores = {"dev": bucc_f1(dev_gold, bucc_extract(dev, threshold))}
        paths = [self.find(k, lang) for k in ("src", "trg", "dev_src", "dev_trg", "dev_gold")]
        gold_path = self.find("gold", lang)
        if gold_path is not None:
            scores["test"] = bucc_f1(read_bucc_pairs(gold_path), predicted)
            paths.append(gold_path)
        notes = {"threshold": threshold, "scoring": spec.scoring, "search": self.search(), "dev_candidates": len(dev),
                 "test_candidates": len(test)}
        return scores, notes, [f"{s}\t{t}" for s, t in predicted], paths

    def _candidates(self, src_path: Path, trg_path: Path, encode: Any) -> list[tuple[str, str, float]]:
        from xlmk.downstream.retrieval import mine_pairs
        from xlmk.downstream.xtreme_readers import read_bucc_sentences

        src, trg = read_bucc_sentences(src_path), read_bucc_sentences(trg_path)
        pairs = mine_pairs(encode(src.sentences), encode(trg.sentences), scoring=self.spec.scoring, k=self.spec.k,
                           block=self.spec.block, search=self.spec.search)
        return [(src.ids[s], trg.ids[t], score) for s, t, score in pairs]


class TatoebaTask(_RetrievalTask):
    name = "tatoeba"
    search_dirs = ("", "tatoeba", "tatoeba/v1", "LASER/data/tatoeba/v1")
    layouts = {
        "original": {"src": "tatoeba.{iso3}-eng.{iso3}", "trg": "tatoeba.{iso3}-eng.eng"},
        "xtreme": {"src": "{lang}-en.{lang}", "trg": "{lang}-en.en", "gold": "test-{lang}.labels.tsv"},
    }
    metrics = ("accuracy",)
    main_metric = "accuracy"

    def evaluate(self, lang: str, encode: Any) -> tuple[dict, dict, list[str], list[Path]]:
        from xlmk.downstream.retrieval import best_matches, tatoeba_accuracy
        from xlmk.downstream.xtreme_readers import read_indices, read_plain

        src_path, trg_path = self.find("src", lang), self.find("trg", lang)
        src, trg = read_plain(src_path), read_plain(trg_path)
        if self.layout() == "original" and len(src) != len(trg):
            raise DataError(f"{len(src)} lines but {len(trg)} in {trg_path}: the release's sides are line-aligned",
                            path=src_path)
        # XTREME's direction: every English sentence looks for its translation among the others
        best, _ = best_matches(encode(trg), encode(src), scoring=self.spec.scoring, k=self.spec.k, block=self.spec.block,
                               search=self.spec.search)
        predicted = [str(i) for i in best.tolist()]
        paths = [src_path, trg_path]
        gold_path = self.find("gold", lang)
        scores = {}
        if self.layout() == "original":
            scores["test"] = tatoeba_accuracy([str(i) for i in range(len(trg))], predicted)
        elif gold_path is not None:
            scores["test"] = tatoeba_accuracy(read_indices(gold_path), predicted)
            paths.append(gold_path)
        return scores, {"scoring": self.spec.scoring, "search": self.search()}, predicted, paths


# ---------------------------------------------------------------- the run
def run(recipe: Any, task: Any, out: str | Path | None) -> Any:
    """Encode, retrieve and score every language; rows, predictions and summary as `finetune` writes them."""
    from xlmk.config import recipe_to_yaml
    from xlmk.downstream.outputs import SUMMARY, FinetuneResult, _run_dir, load_tokenizer, model_location, summary_over_seeds
    from xlmk.io import atomic_write_json, atomic_write_text
    from xlmk.modeling import model_hash, quiet_transformers
    from xlmk.results import ResultRow, append_rows, provenance
    from xlmk.rundir import locked, model_identity, model_label

    if recipe.task.transfer != "zero-shot":
        raise ConfigError(f"{task.name} trains nothing: task.transfer={recipe.task.transfer} does not apply")
    languages = task.languages()
    model_path = model_location(recipe)
    if Path(model_path).exists() and not (Path(model_path) / "config.json").is_file():
        raise ConfigError(f"model {model_path}: not a checkpoint directory (no config.json)")
    run_dir = _run_dir(out, recipe, SingleProcess())
    if (run_dir / SUMMARY).exists():
        raise ConfigError(f"{run_dir} already holds a finished run ({SUMMARY}); choose another --out")
    with locked(run_dir, what=f"finetune {task.name}"):  # one writer at a time (xlmk/rundir.py)
        quiet_transformers()
        encoder = Encoder(model_path, load_tokenizer(model_path), recipe)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "recipe.yaml", recipe_to_yaml(recipe))
        seed = recipe.seeds[0]
        rows: list[ResultRow] = []
        per_lang: dict[str, dict] = {}
        base = dict(stage="finetune", name=task.name, version=task.version, model=model_path,
                    model_name=model_label(model_path), model_run=model_identity(model_path)["run"],
                model_hash=model_hash(model_path), run_id=run_dir.name,
                    seed=seed, **provenance())
        for lang in languages:
            scores, notes, predicted, paths = task.evaluate(lang, encoder)
            atomic_write_text(run_dir / "predictions" / f"test-{lang}.tsv", "".join(p + "\n" for p in predicted))
            data_hash = hash_paths(paths)
            extra = {"finetune_recipe": recipe.name, "finetune_recipe_version": recipe.version, "transfer": "zero-shot",
                     "layer": encoder.layer,
                     "pooling": recipe.task.pooling, **notes}
            for split, values in scores.items():
                for metric in task.metrics:
                    rows.append(ResultRow(language=lang, split=split, metric=metric, value=values[metric],
                                          n=values.get("n"), data_hash=data_hash, extra=extra, **base))
            per_lang[lang] = {"scores": scores, "notes": notes}
        append_rows(run_dir, rows)
        scored = [lang for lang in languages if "test" in per_lang[lang]["scores"]]
        summary = summary_over_seeds(task, recipe, model_path, scored,
                                     {seed: {lang: per_lang[lang]["scores"]["test"] for lang in scored}}, "no-training",
                                     layer=encoder.layer, per_language=per_lang)
        atomic_write_json(run_dir / SUMMARY, summary)
        return FinetuneResult(run_dir, summary, rows)


class Encoder:
    """Mean-pooled (or first-token) states of one layer, sentences batched by length."""

    def __init__(self, model_path: str, tokenizer: Any, recipe: Any):
        import torch
        from transformers import AutoModel

        self.spec, self.tokenizer = recipe.task, tokenizer
        self.batch_size = recipe.run.eval_batch_size
        self.device = torch.device("cuda" if torch.cuda.is_available() and not recipe.run.cpu else "cpu")
        self.model = AutoModel.from_pretrained(model_path, add_pooling_layer=False).to(self.device).eval()
        layers = self.model.config.num_hidden_layers
        self.layer = self.spec.layer if self.spec.layer is not None else default_layer(layers)
        if not 0 <= self.layer <= layers:
            raise ConfigError(f"task.layer {self.layer}: the model has layers 0 (embeddings) to {layers}")

    def __call__(self, sentences: list[str]) -> Any:
        import torch

        enc = self.tokenizer(sentences, truncation=True, max_length=self.spec.max_length)
        ids = enc["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        width = self.model.config.hidden_size
        out = torch.zeros((len(ids), width), dtype=torch.float32)
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                longest = max(len(ids[i]) for i in batch)
                input_ids = torch.full((len(batch), longest), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), longest), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
                    mask[row, :len(ids[i])] = 1
                states = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                    output_hidden_states=True).hidden_states[self.layer].float()
                if self.spec.pooling == "cls":
                    pooled = states[:, 0]
                else:
                    m = mask.to(self.device).unsqueeze(-1).float()
                    pooled = (states * m).sum(1) / m.sum(1)
                out[torch.tensor(batch)] = pooled.cpu()
        return out
