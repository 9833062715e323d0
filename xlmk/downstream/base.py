"""What every fine-tuning task provides to the shared loop, and the parts they share.

A task (xnli.py, pawsx.py, mlqa.py, xtreme_qa.py, ner.py, udpos.py, or your own through `kind: custom`)
finds and reads its data per language and split (files in a layout, or a `datasets` data set: hf.py),
encodes it into model features, decodes model outputs into predictions, scores them and writes them in
the data set's own prediction layout. The loop (loop.py) knows nothing else.
"""
from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlmk.errors import DataError


@dataclass
class EvalData:
    """The examples of one language and split (and, for MLQA's G-XLT pairs, one question language)."""

    lang: str
    split: str
    examples: list
    paths: list[Path]
    data_hash: str
    subset: str | None = None
    notes: dict[str, int] = field(default_factory=dict)  # counted data problems, reported with the scores

    @property
    def label(self) -> str:
        return f"{self.split}-{self.subset or self.lang}"


@dataclass
class Features:
    """Model inputs, one entry per feature (an MLQA example may give several windows)."""

    columns: dict[str, list]
    example_index: list[int]
    meta: dict[str, list] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.example_index)

    @property
    def lengths(self) -> list[int]:
        return [len(x) for x in self.columns["input_ids"]]


def hash_paths(paths: list[Path], extra: str = "") -> str:
    """sha256 over the data files (name and content), so a row says exactly which data it scored."""
    from xlmk.io import sha256_file

    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        h.update(sha256_file(p).encode())
    return h.hexdigest()


class Task(abc.ABC):
    """Base of the stock tasks: languages from the table, file templates, the checks before training.

    Subclasses set `name`, `table_key`, `main_metric`, `metrics`, `output_names` (the model outputs
    `decode` reads), `per_token` (whether those outputs have a sequence axis), `prediction_suffix` and
    implement `default_files`, `read`, `model_class`, `encode`, `decode`, `score` and
    `write_predictions`; `model_kwargs` passes labels to `from_pretrained`."""

    name = "task"
    table_key: str | None = None  # the task's entry in registry/tables/finetune_languages.yaml
    main_metric = "accuracy"
    metrics: tuple[str, ...] = ("accuracy",)
    output_names: tuple[str, ...] = ("logits",)
    per_token = False
    prediction_suffix = ".tsv"
    search_dirs: tuple[str, ...] = ("",)

    def __init__(self, spec: Any):
        from xlmk.config import load_table

        self.spec = spec
        self.version = spec.version
        if self.table_key is None:  # a task of one's own: its languages come from the spec
            self.table = {"train": spec.train_language or "en", "languages": list(spec.languages or [])}
        else:
            table = load_table("finetune_languages")
            if self.table_key not in table:
                raise DataError(f"registry/tables/finetune_languages.yaml has no entry {self.table_key!r}")
            self.table = table[self.table_key]
        self.train_language: str = spec.train_language or self.table["train"]
        self.why_missing: dict[tuple[str, str], str] = {}  # (split, lang) -> reason, where a loader gives one
        self._hf_cache: dict[tuple[str, str], EvalData] = {}  # layout hf: each split and language read once

    # ---------------------------------------------------------------- finding files
    def files(self) -> dict[str, str]:
        return {**self.default_files(), **self.spec.files}

    @abc.abstractmethod
    def default_files(self) -> dict[str, str]:
        """{split: file template} of the task's original layout, e.g. 'dev/dev-context-{lang}-question-{lang}.json'."""

    def roots(self) -> list[Path]:
        """The data folder and the task's usual sub-folders of it (so a bundle root also works)."""
        base = self.spec.root()
        return [base / sub if sub else base for sub in self.search_dirs]

    def find(self, template: str, **fields: str) -> Path | None:
        rel = template.format(**fields)
        if Path(rel).is_absolute():
            return Path(rel) if Path(rel).is_file() else None
        for root in self.roots():
            if (root / rel).is_file():
                return root / rel
        return None

    def path(self, split: str, lang: str) -> Path | None:
        files = self.files()
        if split not in files:
            raise DataError(f"task.files has no template for split {split!r} (it has: {', '.join(files)})")
        return self.find(files[split], lang=lang, split=split)

    def has_data(self, split: str, lang: str) -> bool:
        if self.uses_hf():
            return self.has_hf(split, lang)
        return self.path(split, lang) is not None

    def has_hf(self, split: str, lang: str) -> bool:
        try:
            self.load_hf(split, lang)
            return True
        except Exception as exc:  # noqa: BLE001 - any failure to load means "no data"; the reason is kept
            self.why_missing[(split, lang)] = f"{self.spec.hf_name} ({lang}, {split}): {exc}"
            return False

    def languages(self, splits: tuple[str, ...] = ("dev", "test")) -> list[str]:
        """The evaluation languages. Asked-for languages without data are an error now, before any
        training; by default the table's languages that have data are used."""
        wanted = self.spec.languages
        if wanted is not None:
            missing = [f"{lang} ({split})" for lang in wanted for split in splits if not self.has_data(split, lang)]
            if missing:
                reasons = "".join(f"; {why}" for why in dict.fromkeys(self.why_missing.values()))
                raise DataError(f"no {self.name} data for: {', '.join(missing)}; looked in "
                                f"{', '.join(str(r) for r in self.roots())} for {self._templates(splits)}{reasons}")
            return list(wanted)
        found = [lang for lang in self.table["languages"] if all(self.has_data(s, lang) for s in splits)]
        if not found:
            raise DataError(f"no {self.name} data in any language under {', '.join(str(r) for r in self.roots())} "
                            f"(looked for {self._templates(splits)})")
        return found

    def dev_languages(self, languages: list[str]) -> list[str]:
        """The languages whose dev sets are scored after every epoch (all evaluated ones by default)."""
        return list(languages)

    def _templates(self, splits: tuple[str, ...]) -> str:
        if self.uses_hf():
            return f"the data set {self.spec.hf_name}"
        files = self.files()
        return ", ".join(files.get(s, "?") for s in splits)

    def check_train(self) -> Path:
        if self.uses_hf():
            self.load_hf("train", self.train_language)
            return Path(self.spec.hf_name)
        path = self.path("train", self.train_language)
        if path is None:
            raise DataError(f"no {self.name} training data for {self.train_language!r}: looked for "
                            f"{self.files().get('train')} under {', '.join(str(r) for r in self.roots())}")
        return path

    # ---------------------------------------------------------------- loading
    def load(self, split: str, lang: str) -> list[EvalData]:
        """The data of one language and split (a list: MLQA's G-XLT pairs give several)."""
        if self.uses_hf():
            return [self.load_hf(split, lang)]
        path = self.path(split, lang)
        if path is None:
            raise DataError(f"no {self.name} {split} data for {lang!r}")
        return [self.read(path, split, lang)]

    def load_train(self) -> EvalData:
        if self.uses_hf():
            data = self.load_hf("train", self.train_language)
            data.examples = list(data.examples)
        else:
            data = self.read(self.check_train(), "train", self.train_language)
        limit = getattr(self.spec, "max_train_examples", None)
        if limit is not None:
            data.examples = data.examples[:limit]
        return data

    # ---------------------------------------------------------------- layout: hf
    hf_defaults: dict[str, str] = {}  # field -> column of the usual Hugging Face data set

    def uses_hf(self) -> bool:
        return getattr(self.spec, "layout", None) == "hf"

    def load_hf(self, split: str, lang: str) -> EvalData:
        """One split and language of the spec's Hugging Face data set (read once, then kept)."""
        from xlmk.downstream.hf import fingerprint, load_split

        cache = self._hf_cache
        if (split, lang) not in cache:
            ds = load_split(self.spec, split, lang)
            examples = self.hf_examples(ds, split, lang)
            if not examples:
                raise DataError(f"{self.spec.hf_name} ({lang}, {split}): no examples")
            cache[(split, lang)] = EvalData(lang, split, examples, [], fingerprint(ds))
        data = cache[(split, lang)]
        return EvalData(data.lang, data.split, list(data.examples), [], data.data_hash, notes=dict(data.notes))

    def hf_examples(self, ds: Any, split: str, lang: str) -> list:
        """The task's examples from a `datasets.Dataset` (columns mapped by `hf_columns`)."""
        raise DataError(f"{self.name} cannot read layout hf")

    translate_train: str | None = None  # file template of the translated training sets, with {lang}

    def translated_train(self, languages: list[str]) -> tuple[list[EvalData], list[str]]:
        """(the machine-translated training sets of `languages`, the languages without one)."""
        template = self.spec.files.get("translate-train") or self.translate_train_template()
        if template is None:
            raise DataError(f"{self.name} has no translated training data (task.transfer=translate-train is for "
                            "PAWS-X, XNLI, XQuAD/MLQA and TyDiQA; or set task.files.translate-train)")
        found, missing = [], []
        for lang in languages:
            if lang == self.train_language:
                continue
            path = self.find(template, lang=lang, split="train", name=lang)
            if path is None:
                missing.append(lang)
                continue
            data = self.read(path, "train", lang)
            limit = getattr(self.spec, "max_train_examples", None)
            data.examples = data.examples[:limit] if limit is not None else data.examples
            found.append(data)
        if not found:
            raise DataError(f"no translated {self.name} training data for any of {', '.join(languages)} (looked for "
                            f"{template} under {', '.join(str(r) for r in self.roots())})")
        return found, missing

    def translate_train_template(self) -> str | None:
        return self.translate_train

    @abc.abstractmethod
    def read(self, path: Path, split: str, lang: str) -> EvalData:
        """Examples of one file in the task's original layout."""

    def model_kwargs(self) -> dict[str, Any]:
        return {}
