"""XNLI: sentence-pair classification in 15 languages, trained on English MultiNLI, scored by accuracy.

Layouts: the original release (`XNLI-1.0/xnli.{dev,test}.tsv|jsonl`, every language in one file, with
`XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv` for training), XGLUE's (`{lang}.{dev,test}`,
`multinli.train.en.tsv`) and the Hugging Face `xnli` data set. Predictions are written one label per
line, the layout of XGLUE's and XTREME's prediction files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.downstream.base import EvalData, Features, Task, hash_paths
from xlmk.downstream.metrics import accuracy
from xlmk.downstream.readers import NliExample, read_nli
from xlmk.errors import DataError

LAYOUT_FILES = {
    "original": {"train": "XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv",
                 "dev": "XNLI-1.0/xnli.dev.tsv", "test": "XNLI-1.0/xnli.test.tsv"},
    "xglue": {"train": "multinli.train.{lang}.tsv", "dev": "{lang}.dev", "test": "{lang}.test"},
    "xtreme": {"train": "train-{lang}.tsv", "dev": "dev-{lang}.tsv", "test": "test-{lang}.tsv"},
}
HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


class XnliTask(Task):
    name = "xnli"
    table_key = "xnli"
    main_metric = "accuracy"
    metrics = ("accuracy",)
    output_names = ("logits",)
    prediction_suffix = ".tsv"
    search_dirs = ("", "xnli", "XNLI")

    layout_files = LAYOUT_FILES
    hf_columns = {"premise": "premise", "hypothesis": "hypothesis", "label": "label"}

    def __init__(self, spec: Any):
        super().__init__(spec)
        self.labels: list[str] = [str(x) for x in self.table["labels"]]
        self.aliases: dict[str, str] = dict(self.table.get("label_aliases", {}))
        self._cache: dict[Path, dict] = {}
        self._layout = spec.layout

    # ---------------------------------------------------------------- data
    def layout(self) -> str:
        if self._layout == "auto":
            if any(self.find(t) for t in ("XNLI-1.0/xnli.dev.tsv", "XNLI-1.0/xnli.dev.jsonl")):
                self._layout = "original"
            elif any(self.find("{lang}.dev", lang=lang) for lang in self.table["languages"]):
                self._layout = "xglue"
            elif any(self.find("dev-{lang}.tsv", lang=lang) for lang in self.table["languages"]):
                self._layout = "xtreme"
            else:
                raise DataError(f"no XNLI data under {', '.join(str(r) for r in self.roots())}: expected "
                                "XNLI-1.0/xnli.dev.tsv (original layout), {lang}.dev files (XGLUE layout) or "
                                "dev-{lang}.tsv (XTREME's layout); "
                                "set task.layout=hf for the Hugging Face data set")
        return self._layout

    def roots(self) -> list[Path]:
        return [] if self._layout == "hf" else super().roots()

    def translate_train_template(self) -> str | None:
        # XNLI-MT's and XGLUE's training files are per language: the translations sit beside English
        return None if self.layout() == "hf" else self.files()["train"]

    def _templates(self, splits: tuple[str, ...]) -> str:
        return f"the data set {self.spec.hf_name}" if self._layout == "hf" else super()._templates(splits)

    def default_files(self) -> dict[str, str]:
        return dict(self.layout_files.get(self.layout(), {}))

    def path(self, split: str, lang: str) -> Path | None:
        path = super().path(split, lang)
        if path is None and self.layout() == "original" and split != "train":
            # the release ships each split as .tsv and .jsonl; either will do
            path = self.find(self.files()[split].replace(".tsv", ".jsonl"), lang=lang)
        return path

    def has_data(self, split: str, lang: str) -> bool:
        if self.layout() == "hf":
            try:
                self._hf(split, lang)
                return True
            except Exception as exc:  # noqa: BLE001 - any failure to load means "no data"; the reason is kept
                self.why_missing[(split, lang)] = f"load_dataset({self.spec.hf_name!r}, {lang!r}): {exc}"
                return False
        path = self.path(split, lang)
        if path is None:
            return False
        if self.layout() == "xtreme" and split != "train" and any(e.label is None for e in self._read(path)[None]):
            self.why_missing[(split, lang)] = f"{path} has no labels (XTREME strips them from test)"
            return False
        return self.layout() != "original" or split == "train" or lang in self._read(path)

    def _read(self, path: Path) -> dict:
        if path not in self._cache:
            if self.layout() == "xtreme":  # csv-written by XTREME (quoted fields); its test rows lack labels
                from xlmk.downstream.xtreme_readers import read_pawsx

                self._cache[path] = {None: read_pawsx(path, self.labels)}
            else:
                self._cache[path] = read_nli(path, self.labels, self.aliases)
        return self._cache[path]

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        by_lang = self._read(path)
        key = lang if lang in by_lang else None
        if key not in by_lang:
            raise DataError(f"no {lang!r} rows (languages in the file: {', '.join(sorted(map(str, by_lang)))})", path=path)
        unlabelled = sum(e.label is None for e in by_lang[key])
        if unlabelled:
            raise DataError(f"{unlabelled} of {len(by_lang[key])} pairs have no label (XTREME's test files lose them); "
                            "use the release files or point task.files at labelled data", path=path)
        return EvalData(lang, split, by_lang[key], [path], hash_paths([path], extra=f"{lang}"))

    def load(self, split: str, lang: str) -> list[EvalData]:
        if self.layout() == "hf":
            ds = self._hf(split, lang)
            cols = {**self.hf_columns, **self.spec.hf_columns}
            missing = [c for c in cols.values() if c not in ds.column_names]
            if missing:
                raise DataError(f"{self.spec.hf_name} ({lang}, {split}) has no column {', '.join(missing)} (it has: "
                                f"{', '.join(ds.column_names)}); map them with task.hf_columns")
            feature = ds.features[cols["label"]]
            names = feature.names if hasattr(feature, "names") else self.labels
            examples = [NliExample(r[cols["premise"]], r[cols["hypothesis"]], str(names[r[cols["label"]]]), i + 1)
                        for i, r in enumerate(ds)]
            return [EvalData(lang, split, examples, [], ds._fingerprint)]
        return super().load(split, lang)

    def load_train(self) -> EvalData:
        if self.layout() == "hf":
            data = self.load("train", self.train_language)[0]
            if self.spec.max_train_examples:
                data.examples = data.examples[: self.spec.max_train_examples]
            return data
        return super().load_train()

    def check_train(self) -> Path:
        if self.layout() == "hf":
            self._hf("train", self.train_language)
            return Path(self.spec.hf_name)
        return super().check_train()

    def _hf(self, split: str, lang: str) -> Any:
        import datasets

        datasets.disable_progress_bars()
        local = Path(self.spec.hf_name).expanduser()
        if (local / lang / "dataset_dict.json").is_file():  # save_to_disk of a DatasetDict per language
            return datasets.load_from_disk(str(local / lang))[HF_SPLITS[split]]
        return datasets.load_dataset(self.spec.hf_name, lang, split=HF_SPLITS[split])

    # ---------------------------------------------------------------- model
    def model_class(self) -> Any:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self) -> dict[str, Any]:
        return {"num_labels": len(self.labels), "id2label": dict(enumerate(self.labels)),
                "label2id": {label: i for i, label in enumerate(self.labels)}}

    def encode(self, data: EvalData, tokenizer: Any, *, train: bool) -> Features:
        ids, masks = [], []
        examples = data.examples
        for start in range(0, len(examples), 2048):
            chunk = examples[start:start + 2048]
            enc = tokenizer([e.premise for e in chunk], [e.hypothesis for e in chunk], truncation=True,
                            max_length=self.spec.max_length)
            ids += enc["input_ids"]
            masks += enc["attention_mask"]
        label_id = {label: i for i, label in enumerate(self.labels)}
        columns: dict[str, list] = {"input_ids": ids, "attention_mask": masks}
        if train:
            columns["labels"] = [label_id[e.label] for e in examples]
        return Features(columns, list(range(len(examples))))

    def decode(self, data: EvalData, features: Features, outputs: dict[str, list]) -> list[str]:
        return [self.labels[int(row.argmax())] for row in outputs["logits"]]

    def score(self, data: EvalData, predictions: list[str]) -> dict[str, Any]:
        return accuracy([e.label for e in data.examples], predictions)

    def write_predictions(self, path: Path, data: EvalData, predictions: list[str]) -> None:
        from xlmk.io import atomic_write_text

        atomic_write_text(path, "".join(p + "\n" for p in predictions))
