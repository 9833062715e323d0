"""XQuAD and TyDiQA-GoldP: extractive QA with MLQA's windows and decoding, scored by the SQuAD v1.1
metric as XTREME runs it (`evaluate_squad.py`, not MLQA's per-language normalisation).

XQuAD (11 languages) has no training or dev data of its own: the model trains on SQuAD v1.1 and, as in
XTREME, is selected on English SQuAD dev (`squad/dev-v1.1.json`); test is `xquad.{lang}.json`.

TyDiQA-GoldP (9 languages) trains on the English part of the GoldP train file. XTREME tests on the GoldP
dev set and has no dev set for selection; here every `heldout_every`-th English training question is
held out as the English dev set the epoch is chosen on (none of it is trained on). Layouts: the release
(`tydiqa-goldp-v1.1-train.json` with every language, ids `<language>-…`; `tydiqa-goldp-v1.1-dev/
tydiqa-goldp-dev-<language>.json` or the combined `tydiqa-goldp-v1.1-dev.json`) and XTREME's
(`tydiqa.goldp.<iso>.{train,dev}.json`). XTREME's preprocessed test files have their answers removed;
reading one for scoring is an error that says so.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from xlmk.downstream.base import EvalData, Task, hash_paths
from xlmk.downstream.metrics import squad_scores
from xlmk.downstream.mlqa import TRAIN_CANDIDATES, MlqaTask
from xlmk.downstream.readers import read_squad
from xlmk.errors import DataError

SQUAD_DEV = ("squad/dev-v1.1.json", "squad1.1/dev-v1.1.json", "dev-v1.1.json")


class SquadScoredTask(MlqaTask):
    """MLQA's machinery with the SQuAD v1.1 metric, one question language, English-only dev."""

    def languages(self, splits: tuple[str, ...] = ("dev", "test")) -> list[str]:
        found = Task.languages(self, ("test",))
        if not self.has_data("dev", self.train_language):
            raise DataError(f"no {self.name} dev data for {self.train_language!r} (the epoch is chosen on it): looked "
                            f"for {self._dev_description()} under {', '.join(str(r) for r in self.roots())}")
        return found

    def _dev_description(self) -> str:
        return self.files().get("dev", "?")

    def dev_languages(self, languages: list[str]) -> list[str]:
        return [self.train_language]

    def question_languages(self, split: str, lang: str) -> list[str]:
        return [lang]

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        data = super().read(path, split, lang)
        if split != "train" and data.examples and all(not any(t for t, _ in e.answers) for e in data.examples):
            raise DataError("every answer is empty: this is XTREME's preprocessed copy, whose gold answers are removed; "
                            "use the release file (or score predictions against the leaderboard labels with xlmk score)",
                            path=path)
        return data

    def score(self, data: EvalData, predictions: dict[str, str]) -> dict[str, Any]:
        questions = [(ex.qid, [t for t, _ in ex.answers]) for ex in data.examples]
        return {**squad_scores(questions, predictions), **data.notes}


class XquadTask(SquadScoredTask):
    name = "xquad"
    table_key = "xquad"
    # SQuAD is also looked for where MLQA's bundles (and the sample world) keep it
    search_dirs = ("", "xquad", "XQuAD", "squad", "mlqa")

    def default_files(self) -> dict[str, str]:
        return {"train": TRAIN_CANDIDATES[0], "test": "xquad.{lang}.json", "dev": SQUAD_DEV[0]}

    def path(self, split: str, lang: str, qlang: str | None = None) -> Path | None:
        if split == "dev":
            if lang != self.train_language:
                return None
            explicit = self.spec.files.get("dev")
            for template in [explicit] if explicit else SQUAD_DEV:
                found = self.find(template, lang=lang, split=split)
                if found is not None:
                    return found
            return None
        return super().path(split, lang, qlang)

    def _dev_description(self) -> str:
        return self.spec.files.get("dev") or " or ".join(SQUAD_DEV)

    hf_for = ("test",)  # layout hf: the test sets; training and selection stay on the SQuAD files


class TydiqaTask(SquadScoredTask):
    name = "tydiqa"
    table_key = "tydiqa"
    search_dirs = ("", "tydiqa", "TyDiQA", "tydiqa-goldp")

    def __init__(self, spec: Any):
        super().__init__(spec)
        self.names: dict[str, str] = dict(self.table["names"])
        self._layout = spec.layout

    def layout(self) -> str:
        if self._layout == "auto":
            if self.find("tydiqa-goldp-v1.1-train.json") is not None:
                self._layout = "original"
            elif self.find("tydiqa.goldp.{lang}.train.json", lang=self.train_language) is not None:
                self._layout = "xtreme"
            else:
                raise DataError(f"no TyDiQA-GoldP data under {', '.join(str(r) for r in self.roots())}: expected "
                                "tydiqa-goldp-v1.1-train.json (release layout) or tydiqa.goldp.{lang}.train.json "
                                "(XTREME's layout)")
        return self._layout

    def default_files(self) -> dict[str, str]:
        if self.layout() == "original":
            return {"train": "tydiqa-goldp-v1.1-train.json",
                    "test": "tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json"}
        return {"train": "tydiqa.goldp.{lang}.train.json", "test": "tydiqa.goldp.{lang}.dev.json"}

    translate_train = "translate-train/tydiqa.translate.train.en-{lang}.json"  # XTREME's download

    def _name(self, lang: str) -> str:
        if lang not in self.names:
            raise DataError(f"TyDiQA-GoldP has no language {lang!r} (it has: {', '.join(self.names)})")
        return self.names[lang]

    def path(self, split: str, lang: str, qlang: str | None = None) -> Path | None:
        files = self.files()
        if split in ("train", "dev"):
            return self.find(files["train"], lang=self.train_language, name=self._name(self.train_language))
        found = self.find(files["test"], lang=lang, name=self._name(lang))
        if found is None and self.layout() == "original" and "test" not in self.spec.files:
            found = self.find("tydiqa-goldp-v1.1-dev.json")  # the combined dev file, filtered by id below
            if found is not None and not self._of_language(found, lang):
                return None
        return found

    def uses_hf(self) -> bool:
        return self.spec.layout == "hf"  # TyDiQA's own training set comes from the data set too

    def has_data(self, split: str, lang: str) -> bool:
        if split == "dev":
            split = "train"
            if lang != self.train_language:
                return False
        if self.uses_hf():
            return self.has_hf(split, lang)
        return self.path(split, lang) is not None

    def hf_examples(self, ds: Any, split: str, lang: str) -> list:
        prefix = f"{self._name(lang)}-"
        examples = super().hf_examples(ds, split, lang)
        if any(e.qid.startswith(f"{n}-") for e in examples[:50] for n in self.names.values()):
            examples = [e for e in examples if e.qid.startswith(prefix)]  # one data set for every language
        return examples

    def _of_language(self, path: Path, lang: str) -> list:
        """The questions of one language: release files mix languages, ids telling them apart."""
        examples = read_squad(path).examples
        if self.layout() != "original":
            return examples
        prefix = f"{self._name(lang)}-"
        return [e for e in examples if e.qid.startswith(prefix)]

    def train_path(self) -> Path | None:
        return self.path("train", self.train_language)

    def load(self, split: str, lang: str) -> list[EvalData]:
        if split == "dev":
            return [self._heldout(lang, dev=True)]
        if self.uses_hf():
            return Task.load(self, split, lang)
        path = self.path(split, lang)
        if path is None:
            raise DataError(f"no TyDiQA-GoldP {split} data for {lang!r}")
        data = self.read(path, split, lang)
        data.examples = self._of_language(path, lang) if data.examples else data.examples
        if not data.examples:
            raise DataError(f"no {self._name(lang)} questions", path=path)
        return [data]

    def load_train(self) -> EvalData:
        data = self._heldout(self.train_language, dev=False)
        if self.spec.max_train_examples is not None:
            data.examples = data.examples[: self.spec.max_train_examples]
        return data

    def _heldout(self, lang: str, *, dev: bool) -> EvalData:
        path = self.check_train()
        if self.uses_hf():
            data = self.load_hf("train", lang)
        else:
            data = MlqaTask.read(self, path, "train", lang)  # without unanswerable or misaligned questions
        if self.layout() == "original":
            prefix = f"{self._name(lang)}-"
            data.examples = [e for e in data.examples if e.qid.startswith(prefix)]
        every = self.spec.heldout_every
        chosen = [e for i, e in enumerate(data.examples) if (i % every == every - 1) == dev]
        if not chosen:
            raise DataError(f"no {self._name(lang)} {'held-out dev' if dev else 'training'} questions "
                            f"(every {every}th of {len(data.examples)} is held out)", path=path)
        split = "dev" if dev else "train"
        where = f"{lang}/{split}/{every}"
        if self.uses_hf():
            digest = hashlib.sha256(f"{data.data_hash}/{where}".encode()).hexdigest()
            return EvalData(lang, split, chosen, [], digest, notes=dict(data.notes))
        return EvalData(lang, split, chosen, [path], hash_paths([path], extra=where), notes=dict(data.notes))
