"""A user's own task for the `kind: custom` test: sentence classification from `{lang}.{split}.tsv`
files of `text<TAB>label` lines, written against xlmk.downstream.base.Task only."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmk.downstream.base import EvalData, Features, Task, hash_paths
from xlmk.downstream.metrics import accuracy


class SentimentTask(Task):
    name = "sentiment"
    main_metric = "accuracy"
    metrics = ("accuracy",)

    def __init__(self, spec: Any, labels: list[str]):
        super().__init__(spec)
        self.labels = list(labels)

    def default_files(self) -> dict[str, str]:
        return {split: f"{{lang}}.{split}.tsv" for split in ("train", "dev", "test")}

    def read(self, path: Path, split: str, lang: str) -> EvalData:
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return EvalData(lang, split, [(text, label) for text, label in rows], [path], hash_paths([path]))

    def model_class(self) -> Any:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self) -> dict[str, Any]:
        return {"num_labels": len(self.labels)}

    def encode(self, data: EvalData, tokenizer: Any, *, train: bool) -> Features:
        enc = tokenizer([text for text, _ in data.examples], truncation=True, max_length=self.spec.max_length)
        columns = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if train:
            columns["labels"] = [self.labels.index(label) for _, label in data.examples]
        return Features(columns, list(range(len(data.examples))))

    def decode(self, data: EvalData, features: Features, outputs: dict) -> list[str]:
        return [self.labels[int(row.argmax())] for row in outputs["logits"]]

    def score(self, data: EvalData, predictions: list[str]) -> dict:
        return accuracy([label for _, label in data.examples], predictions)

    def write_predictions(self, path: Path, data: EvalData, predictions: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(p + "\n" for p in predictions), encoding="utf-8")


def build(spec: Any, labels: list[str]) -> SentimentTask:
    return SentimentTask(spec, labels)
