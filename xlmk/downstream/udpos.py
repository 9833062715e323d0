"""UD-POS: part-of-speech tagging in XTREME's 33 languages (UD v2.5), trained on English only.

The NER machinery (a tag on the first sub-token of each word) with the 17 UPOS tags. Layouts: the
release (`ud-treebanks-v2.5/UD_<Lang>-<TB>/<code>_<tb>-ud-<split>.conllu`; every treebank of a language
is read and merged, in name order, and converted as XTREME converts them), XTREME's
(`<split>-<lang>.tsv`, `word<TAB>TAG`; its test files have no tags) and `layout: hf` (the
`universal_dependencies` data set converted as the release; a data set without multiword-token rows,
such as XTREME's `udpos` config, as it is, with a warning). The score is XTREME's: seqeval
F1 over the bare tags with seqeval <= 0.0.13 semantics (what `evaluate_test.py` asserts); token
accuracy, precision and recall are reported beside it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.downstream.base import EvalData, hash_paths
from xlmk.downstream.metrics import ner_scores
from xlmk.downstream.ner import NerTask
from xlmk.downstream.readers import check_tags
from xlmk.downstream.xtreme_readers import read_conllu, read_tag_lines, ud_rows_sentence
from xlmk.errors import DataError

RELEASE = "UD_*/{lang}_*-ud-{split}.conllu"
XTREME = "{split}-{lang}.tsv"


class UdposTask(NerTask):
    main_metric = "f1"
    metrics = ("f1", "accuracy", "precision", "recall")
    search_dirs = ("", "udpos", "ud-treebanks-v2.5", "udpos/ud-treebanks-v2.5")

    hf_defaults = {"tokens": "tokens", "tags": "upos"}
    hf_ud_columns = ("head", "deps", "text")  # the universal_dependencies data set's, for multiword tokens
    _warned_no_ranges = False

    def hf_examples(self, ds: Any, split: str, lang: str) -> list:
        """Sentences of a `datasets` data set, converted as the release is. The `universal_dependencies`
        data set (a row for every CoNLL-U line, `head` and `text` columns) gives the release's examples.
        One without multiword-token rows (XTREME's `udpos` config drops the ranges and the words without a
        form) is taken word by word, with a warning: its words are UD's syntactic words where XTREME has
        the tokens' surface forms."""
        import warnings

        from xlmk.downstream.hf import columns, label_names
        from xlmk.errors import XlmkWarning

        where = f"{self.spec.hf_name} ({lang}, {split})"
        cols = columns(ds, self.hf_defaults, self.spec, where)
        names = label_names(ds, cols["tags"])
        extra = {field: self.spec.hf_columns.get(field, field) for field in self.hf_ud_columns}
        extra = {field: col for field, col in extra.items() if col in ds.column_names}
        sentences = []
        for i, row in enumerate(ds):
            forms, tags = list(row[cols["tokens"]]), [names[t] if names else str(t) for t in row[cols["tags"]]]
            heads = [str(h) for h in row[extra["head"]]] if "head" in extra else ["0"] * len(forms)
            sentence = ud_rows_sentence(forms, tags, heads, [str(d) for d in row[extra["deps"]]] if "deps" in extra else None,
                                        row[extra["text"]] if "text" in extra else None, where, i + 1)
            if sentence is not None:
                sentences.append(sentence)
        if "head" not in extra and not self._warned_no_ranges:
            self._warned_no_ranges = True
            warnings.warn(
                f"{self.spec.hf_name}: no multiword-token information (no {self.spec.hf_columns.get('head', 'head')!r} "
                "column), so each row's words are taken as they are. XTREME's conversion of the UD release replaces "
                "the words of a multiword token (a CoNLL-U range such as 3-4) by the token's surface form with the "
                "tag of its head word; XTREME's udpos config in `datasets` keeps the words and drops those without "
                "a form, so in languages with such tokens (ar, de, es, fr, he, it, mr, pt, tr, ...) its examples "
                "and scores differ from XTREME's. For XTREME's examples use the UD release (layout: original) or "
                "the universal_dependencies data set.", XlmkWarning, stacklevel=2)
        check_tags(sentences, self.labels, where)
        return [s for s in sentences if s.tokens]

    def layout(self) -> str:
        if self.spec.layout == "auto":
            langs = self.table["languages"]
            if any(self._release_files("test", lang) for lang in langs):
                return "original"
            if any(self.find(XTREME, lang=lang, split="test") for lang in langs):
                return "xtreme"
            raise DataError(f"no UD-POS data under {', '.join(str(r) for r in self.roots())}: expected "
                            f"{RELEASE} (the UD release) or {XTREME} (XTREME's layout)")
        return self.spec.layout

    def default_files(self) -> dict[str, str]:
        if self.uses_hf():
            return {}
        template = RELEASE if self.layout() == "original" else XTREME
        return {split: template for split in ("train", "dev", "test")}

    def _release_files(self, split: str, lang: str) -> list[Path]:
        for root in self.roots():
            found = sorted(root.glob(RELEASE.format(lang=lang, split=split)))
            if found:
                return found
        return []

    def paths(self, split: str, lang: str) -> list[Path]:
        if split in self.spec.files or self.layout() == "xtreme":
            path = super().path(split, lang)
            return [path] if path is not None else []
        return self._release_files(split, lang)

    def path(self, split: str, lang: str) -> Path | None:
        found = self.paths(split, lang)
        return found[0] if found else None

    def load(self, split: str, lang: str) -> list[EvalData]:
        if self.uses_hf():
            return NerTask.load(self, split, lang)
        paths = self.paths(split, lang)
        if not paths:
            raise DataError(f"no UD-POS {split} data for {lang!r}")
        return [self._read_all(paths, split, lang)]

    def load_train(self) -> EvalData:
        if self.uses_hf():
            return NerTask.load_train(self)
        self.check_train()
        data = self._read_all(self.paths("train", self.train_language), "train", self.train_language)
        if self.spec.max_train_examples is not None:
            data.examples = data.examples[: self.spec.max_train_examples]
        return data

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        return self._read_all([path], split, lang)

    def _read_all(self, paths: list[Path], split: str, lang: str) -> EvalData:
        sentences = []
        for path in paths:
            part = read_conllu(path) if path.suffix == ".conllu" else read_tag_lines(path, single="word")
            part = [s for s in part if s.tokens]
            if part and all(not t for s in part for t in s.tags or []):
                raise DataError("no tags: XTREME's test files keep only the words; use the UD release (or score "
                                "predictions against the leaderboard labels with xlmk score)", path=path)
            check_tags(part, self.labels, path)
            sentences += part
        if not sentences:
            raise DataError("no sentences", path=paths[0])
        return EvalData(lang, split, sentences, list(paths), hash_paths(list(paths)))

    def score(self, data: EvalData, predictions: list[list[str]]) -> dict[str, Any]:
        gold = [s.tags or [] for s in data.examples]
        out = ner_scores(gold, predictions, legacy=True)
        keep = {k: float(out[k]) for k in ("f1", "accuracy", "precision", "recall")}
        return {**keep, "n": len(gold), **{k: v for k, v in data.notes.items() if v}}
