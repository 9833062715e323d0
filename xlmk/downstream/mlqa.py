"""MLQA: extractive question answering in 7 languages, trained on SQuAD v1.1, scored by the official
MLQA metric with the answer language = the context language.

Long contexts become sliding windows (max length 384, stride 128) whose tokens map back to the context
through the tokenizer's offsets; decoding takes the n best starts and ends of every window, keeps valid
spans up to `max_answer_length` tokens and cuts the answer text from the original context. Files:
`{split}/{split}-context-{lang}-question-{qlang}.json`; G-XLT pairs (question in another language) are
read with `question_languages`. Predictions are written as `{qid: answer}` JSON, the layout the
official script reads.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.downstream.base import EvalData, Features, Task, hash_paths
from xlmk.downstream.metrics import mlqa_scores
from xlmk.downstream.readers import read_squad
from xlmk.errors import DataError

TRAIN_CANDIDATES = ("squad/train-v1.1.json", "squad1.1/train-v1.1.json", "train-v1.1.json")


class MlqaTask(Task):
    name = "mlqa"
    table_key = "mlqa"
    main_metric = "f1"
    metrics = ("f1", "exact_match")
    output_names = ("start_logits", "end_logits")
    per_token = True
    prediction_suffix = ".json"
    search_dirs = ("", "mlqa", "MLQA", "MLQA_V1", "MLQA/MLQA_V1")

    # XTREME's translate-train download: SQuAD machine-translated into each language
    translate_train = "squad/translate-train/squad.translate.train.en-{lang}.json"

    def default_files(self) -> dict[str, str]:
        return {"dev": "dev/dev-context-{lang}-question-{qlang}.json",
                "test": "test/test-context-{lang}-question-{qlang}.json"}

    # ---------------------------------------------------------------- data
    def path(self, split: str, lang: str, qlang: str | None = None) -> Path | None:
        if split == "train":
            return self.train_path()
        files = self.files()
        if split not in files:
            raise DataError(f"task.files has no template for split {split!r} (it has: {', '.join(files)})")
        return self.find(files[split], lang=lang, split=split, qlang=qlang or lang)

    def train_path(self) -> Path | None:
        explicit = self.spec.train_file or self.spec.files.get("train")
        for template in ([explicit] if explicit else TRAIN_CANDIDATES):
            found = self.find(template, lang=self.train_language, split="train")
            if found is not None:
                return found
        return None

    def languages(self, splits: tuple[str, ...] = ("dev", "test")) -> list[str]:
        from xlmk.downstream.metrics import mlqa_normalize

        found = super().languages(splits)
        for lang in found:  # the metric needs the language's rules; better said now than after training
            mlqa_normalize("", lang)
        return found

    def question_languages(self, split: str, lang: str) -> list[str]:
        choice = self.spec.question_languages
        if choice == "same":
            return [lang]
        if choice == "all":
            others = [q for q in self.table["languages"] if q != lang and self.path(split, lang, q) is not None]
            return [lang] + others
        missing = [q for q in choice if self.path(split, lang, q) is None]
        if missing:
            raise DataError(f"no MLQA {split} data for context {lang!r} with questions in: {', '.join(missing)}")
        return list(choice)

    hf_defaults = {"id": "id", "question": "question", "context": "context", "answers": "answers"}
    hf_for = ("dev", "test")  # layout hf: the evaluation sets; training stays on the SQuAD file

    def uses_hf(self) -> bool:
        return False

    def has_data(self, split: str, lang: str) -> bool:
        if self.spec.layout == "hf" and split in self.hf_for:
            return self.has_hf(split, lang)
        return super().has_data(split, lang)

    def hf_examples(self, ds: Any, split: str, lang: str) -> list:
        from xlmk.downstream.hf import columns
        from xlmk.downstream.readers import QaExample

        cols = columns(ds, self.hf_defaults, self.spec, f"{self.spec.hf_name} ({lang}, {split})")
        out = []
        for row in ds:
            answers = row[cols["answers"]]
            pairs = list(zip(answers["text"], answers["answer_start"])) if isinstance(answers, dict) else \
                [(a["text"], a["answer_start"]) for a in answers]
            out.append(QaExample(str(row[cols["id"]]), row[cols["question"]], row[cols["context"]],
                                 [(t, int(s)) for t, s in pairs], row.get("title", "") or ""))
        if split == "train":
            out = [e for e in out if e.answers]
        return out

    def load(self, split: str, lang: str) -> list[EvalData]:
        if self.spec.layout == "hf" and split in self.hf_for:
            return [self.load_hf(split, lang)]
        out = []
        for q in self.question_languages(split, lang):
            path = self.path(split, lang, q)
            if path is None:
                raise DataError(f"no MLQA {split} data for context {lang!r}, questions {q!r}")
            data = self.read(path, split, lang)
            data.subset = None if q == lang else f"context-{lang}-question-{q}"
            out.append(data)
        return out

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        squad = read_squad(path)
        notes = {"answer_not_at_answer_start": len(squad.misaligned)} if squad.misaligned else {}
        examples = squad.examples
        if not examples:
            raise DataError(f"no questions in this MLQA {split} file (data[].paragraphs[].qas is empty)", path=path)
        if split != "train":
            # gold without an answer could only be scored after training, and then wrongly
            bare = [e.qid for e in examples if not e.answers]
            if bare:
                raise DataError(f"{len(bare)} question(s) without gold `answers`, first id {bare[0]!r}", path=path)
        if split == "train":
            # a window is labelled from answer_start; a misaligned answer would teach the wrong span
            bad = set(squad.misaligned)
            kept = [e for e in examples if e.answers and e.qid not in bad]
            if len(kept) < len(examples):
                notes["train_examples_skipped"] = len(examples) - len(kept)
            examples = kept
        return EvalData(lang, split, examples, [path], hash_paths([path]), notes=notes)

    # ---------------------------------------------------------------- model
    def model_class(self) -> Any:
        from transformers import AutoModelForQuestionAnswering

        return AutoModelForQuestionAnswering

    def _cut_questions(self, questions: list[str], tokenizer: Any) -> list[str]:
        limit = self.spec.max_query_length
        enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for q, offsets in zip(questions, enc["offset_mapping"]):
            out.append(q[: offsets[limit - 1][1]] if len(offsets) > limit else q)
        return out

    def encode(self, data: EvalData, tokenizer: Any, *, train: bool) -> Features:
        spec = self.spec
        columns: dict[str, list] = {"input_ids": [], "attention_mask": []}
        if train:
            columns["start_positions"], columns["end_positions"] = [], []
        example_index: list[int] = []
        offsets_out: list[list] = []
        examples = data.examples
        for start in range(0, len(examples), 1000):
            chunk = examples[start:start + 1000]
            questions = self._cut_questions([e.question.lstrip() for e in chunk], tokenizer)
            enc = tokenizer(questions, [e.context for e in chunk], truncation="only_second",
                            max_length=spec.max_length, stride=spec.doc_stride, return_overflowing_tokens=True,
                            return_offsets_mapping=True)
            for i, ids in enumerate(enc["input_ids"]):
                k = enc["overflow_to_sample_mapping"][i]
                seq = enc.sequence_ids(i)
                offsets = [o if s == 1 else None for o, s in zip(enc["offset_mapping"][i], seq)]
                columns["input_ids"].append(ids)
                columns["attention_mask"].append(enc["attention_mask"][i])
                example_index.append(start + k)
                if train:
                    s, e = _answer_tokens(chunk[k].answers[0], offsets)
                    columns["start_positions"].append(s)
                    columns["end_positions"].append(e)
                else:
                    offsets_out.append(offsets)
        return Features(columns, example_index, {"offsets": offsets_out} if not train else {})

    def decode(self, data: EvalData, features: Features, outputs: dict[str, list]) -> dict[str, str]:
        import numpy as np

        n_best, max_len = self.spec.n_best, self.spec.max_answer_length
        best: dict[int, tuple[float, str]] = {}
        for f, k in enumerate(features.example_index):
            starts, ends = np.asarray(outputs["start_logits"][f]), np.asarray(outputs["end_logits"][f])
            offsets = features.meta["offsets"][f][: len(starts)]
            valid = np.array([o is not None for o in offsets] + [False] * (len(starts) - len(offsets)))
            # the n best starts x the n best ends, in descending order, so the first maximum wins ties
            si = np.argsort(-starts, kind="stable")[:n_best]
            ei = np.argsort(-ends, kind="stable")[:n_best]
            s_grid, e_grid = np.meshgrid(si, ei, indexing="ij")
            ok = valid[s_grid] & valid[e_grid] & (e_grid >= s_grid) & (e_grid - s_grid + 1 <= max_len)
            if not ok.any():
                continue
            scores = np.where(ok, starts[s_grid] + ends[e_grid], -np.inf)
            flat = int(np.argmax(scores))
            s, e = int(s_grid.flat[flat]), int(e_grid.flat[flat])
            score = float(scores.flat[flat])
            if k not in best or score > best[k][0]:
                best[k] = (score, data.examples[k].context[offsets[s][0]:offsets[e][1]].strip())
        # a question whose windows hold no valid span gets the empty answer (scores 0, as unanswered)
        return {ex.qid: best.get(k, (0.0, ""))[1] for k, ex in enumerate(data.examples)}

    def score(self, data: EvalData, predictions: dict[str, str]) -> dict[str, Any]:
        golds = {ex.qid: [t for t, _ in ex.answers] for ex in data.examples}
        out = mlqa_scores(golds, predictions, data.lang)
        return {**out, **data.notes}

    def write_predictions(self, path: Path, data: EvalData, predictions: dict[str, str]) -> None:
        from xlmk.io import atomic_write_json

        atomic_write_json(path, predictions)


def _answer_tokens(answer: tuple[str, int], offsets: list) -> tuple[int, int]:
    """Token span of the answer inside one window, or (0, 0) (the <s> token) when it is not inside."""
    text, start_char = answer
    end_char = start_char + len(text)
    ctx = [i for i, o in enumerate(offsets) if o is not None]
    if not ctx or offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
        return 0, 0
    s = ctx[0]
    while s <= ctx[-1] and offsets[s][0] <= start_char:
        s += 1
    e = ctx[-1]
    while e >= ctx[0] and offsets[e][1] >= end_char:
        e -= 1
    return s - 1, e + 1
