"""PAWS-X: paraphrase identification in 7 languages, trained on English PAWS-Wiki, scored by accuracy.

The XNLI task with PAWS-X's files: the release (`x-final/{lang}/{train,translated_train,dev_2k,test_2k}.tsv`,
read with quoting off), XTREME's preprocessed layout (`{train,dev,test}-{lang}.tsv`, csv-quoted, test
without labels: scoring test needs the release's or the leaderboard's labels) and the `paws-x` data
set (`layout: hf`). Labels are '0' and '1' as in the files; predictions are one label per line.
"""
from __future__ import annotations

from pathlib import Path
from xlmk.downstream.base import EvalData
from xlmk.downstream.xnli import XnliTask
from xlmk.downstream.xtreme_readers import read_pawsx
from xlmk.errors import DataError

LAYOUT_FILES = {
    "original": {"train": "x-final/{lang}/train.tsv", "translate-train": "x-final/{lang}/translated_train.tsv",
                 "dev": "x-final/{lang}/dev_2k.tsv", "test": "x-final/{lang}/test_2k.tsv"},
    "xtreme": {"train": "train-{lang}.tsv", "dev": "dev-{lang}.tsv", "test": "test-{lang}.tsv"},
}


class PawsxTask(XnliTask):
    name = "paws-x"
    table_key = "paws-x"
    search_dirs = ("", "pawsx", "paws-x", "PAWS-X")
    layout_files = LAYOUT_FILES
    hf_columns = {"premise": "sentence1", "hypothesis": "sentence2", "label": "label"}

    def translate_train_template(self) -> str | None:
        return LAYOUT_FILES["original"]["translate-train"] if self.layout() == "original" else None

    def layout(self) -> str:
        if self._layout == "auto":
            langs = self.table["languages"]
            if any(self.find(LAYOUT_FILES["original"]["dev"], lang=lang) for lang in langs):
                self._layout = "original"
            elif any(self.find(LAYOUT_FILES["xtreme"]["dev"], lang=lang) for lang in langs):
                self._layout = "xtreme"
            else:
                raise DataError(f"no PAWS-X data under {', '.join(str(r) for r in self.roots())}: expected "
                                "x-final/{lang}/dev_2k.tsv (release layout) or dev-{lang}.tsv (XTREME's layout); "
                                "set task.layout=hf for the Hugging Face data set")
        return self._layout

    def path(self, split: str, lang: str) -> Path | None:
        return super(XnliTask, self).path(split, lang)

    def has_data(self, split: str, lang: str) -> bool:
        if self.layout() == "hf":
            return super().has_data(split, lang)
        path = self.path(split, lang)
        if path is None:
            return False
        if split != "train" and any(e.label is None for e in self._examples(path)):
            self.why_missing[(split, lang)] = f"{path} has no labels (XTREME strips them from test)"
            return False
        return True

    def _examples(self, path: Path) -> list:
        if path not in self._cache:
            self._cache[path] = {None: read_pawsx(path, self.labels)}
        return self._cache[path][None]

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        if not self._examples(path):
            raise DataError("no sentence pairs", path=path)
        return super().read(path, split, lang)
