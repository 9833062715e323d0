"""Named entity recognition: XGLUE NER (`ner`, IOB1) and WikiANN / PAN-X (`panx`, IOB2).

Words are split into sub-tokens; the label sits on the first sub-token of each word and the others
are ignored in the loss; the prediction for a word is read at its first sub-token, so predictions are
one tag per original word. Words cut off by `max_length` (or that the tokenizer turns into nothing)
are predicted `O` and counted in the row's notes. Entity F1 is seqeval's default (conlleval) mode;
its agreement with this package's own chunker is a test (tests/downstream/test_metrics.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.downstream.base import EvalData, Features, Task, hash_paths
from xlmk.downstream.metrics import seqeval_scores
from xlmk.downstream.readers import check_tags, read_ner
from xlmk.errors import DataError

LAYOUT_FILES = {
    "xglue": {"train": "{lang}.train", "dev": "{lang}.dev", "test": "{lang}.test"},
    "panx": {"train": "{lang}/train", "dev": "{lang}/dev", "test": "{lang}/test"},
    "conll": {},
    "xtreme": {"train": "train-{lang}.tsv", "dev": "dev-{lang}.tsv", "test": "test-{lang}.tsv"},
    "hf": {},
}
IGNORE = -100  # the label index torch's cross-entropy skips


class NerTask(Task):
    main_metric = "f1"
    metrics = ("f1", "precision", "recall")
    output_names = ("logits",)
    per_token = True
    prediction_suffix = ".tsv"
    search_dirs = ("", "ner", "NER", "ner/wikiann", "wikiann", "panx", "PAN-X")

    def __init__(self, spec: Any):
        self.name = self.table_key = spec.kind
        super().__init__(spec)
        self.labels: list[str] = list(spec.labels or self.table["labels"])

    def default_files(self) -> dict[str, str]:
        if self.spec.layout == "hf":
            return {}
        if self.spec.layout == "conll" and not self.spec.files:
            raise DataError("task.layout=conll needs task.files, e.g. {train: 'train.txt', dev: 'valid.txt', test: 'test.txt'}")
        return dict(LAYOUT_FILES[self.spec.layout])

    hf_defaults = {"tokens": "tokens", "tags": "ner_tags"}

    def hf_examples(self, ds: Any, split: str, lang: str) -> list:
        from xlmk.downstream.hf import columns, label_names
        from xlmk.downstream.readers import NerSentence

        where = f"{self.spec.hf_name} ({lang}, {split})"
        cols = columns(ds, self.hf_defaults, self.spec, where)
        names = label_names(ds, cols["tags"])
        sentences = [NerSentence(list(row[cols["tokens"]]), [names[t] if names else str(t) for t in row[cols["tags"]]], i + 1)
                     for i, row in enumerate(ds)]
        check_tags(sentences, self.labels, where)
        return [s for s in sentences if s.tokens]

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        sentences = read_ner(path, self.spec.layout)
        check_tags(sentences, self.labels, path)
        if not sentences:
            raise DataError("no sentences", path=path)
        return EvalData(lang, split, sentences, [path], hash_paths([path]))

    # ---------------------------------------------------------------- model
    def model_class(self) -> Any:
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    def model_kwargs(self) -> dict[str, Any]:
        return {"num_labels": len(self.labels), "id2label": dict(enumerate(self.labels)),
                "label2id": {label: i for i, label in enumerate(self.labels)}}

    def encode(self, data: EvalData, tokenizer: Any, *, train: bool) -> Features:
        label_id = {label: i for i, label in enumerate(self.labels)}
        columns: dict[str, list] = {"input_ids": [], "attention_mask": []}
        if train:
            columns["labels"] = []
        word_ids_out: list[list] = []
        sentences = data.examples
        for start in range(0, len(sentences), 1000):
            chunk = sentences[start:start + 1000]
            enc = tokenizer([s.tokens for s in chunk], is_split_into_words=True, truncation=True,
                            max_length=self.spec.max_length)
            for i, ids in enumerate(enc["input_ids"]):
                word_ids = enc.word_ids(i)
                columns["input_ids"].append(ids)
                columns["attention_mask"].append(enc["attention_mask"][i])
                if train:
                    tags = chunk[i].tags or []
                    labels, seen = [], set()
                    for w in word_ids:
                        first = w is not None and w not in seen
                        labels.append(label_id[tags[w]] if first else IGNORE)
                        if w is not None:
                            seen.add(w)
                    columns["labels"].append(labels)
                else:
                    word_ids_out.append(word_ids)
        return Features(columns, list(range(len(sentences))), {"word_ids": word_ids_out} if not train else {})

    def decode(self, data: EvalData, features: Features, outputs: dict[str, list]) -> list[list[str]]:
        predictions: list[list[str]] = []
        missing = 0
        for f, k in enumerate(features.example_index):
            n_words = len(data.examples[k].tokens)
            tags: list[str | None] = [None] * n_words
            logits = outputs["logits"][f]
            for pos, w in enumerate(features.meta["word_ids"][f][: len(logits)]):
                if w is not None and tags[w] is None:
                    tags[w] = self.labels[int(logits[pos].argmax())]
            missing += sum(t is None for t in tags)
            predictions.append([t or "O" for t in tags])
        data.notes["words_without_prediction"] = missing
        return predictions

    def score(self, data: EvalData, predictions: list[list[str]]) -> dict[str, Any]:
        gold = [s.tags or [] for s in data.examples]
        reference = seqeval_scores(gold, predictions)
        out = {key: float(reference[key]) for key in ("precision", "recall", "f1", "accuracy")}
        return {**out, "n": len(gold), **{k: v for k, v in data.notes.items() if v}}

    def write_predictions(self, path: Path, data: EvalData, predictions: list[list[str]]) -> None:
        from xlmk.io import atomic_write_text

        atomic_write_text(path, "".join("".join(t + "\n" for t in sent) + "\n" for sent in predictions))
