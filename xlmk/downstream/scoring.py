"""Scoring prediction files in the data sets' own layouts (`xlmk score`), with the same metric code
fine-tuning uses, so outputs of other systems can be scored too.

- mlqa: gold in SQuAD layout, predictions `{qid: answer}` JSON; the answer language is `lang`, or the
  context language in the gold file's name (`…-context-{lang}-question-…`).
- xnli: predictions one label per line; gold any XNLI layout (one label per line, XGLUE's three
  columns, or the original tsv/jsonl, where `lang` picks the language).
- ner / panx: predictions one tag per line with a blank line between sentences (or `token tag` lines);
  gold `token tag`, `lang:token<TAB>tag`, CoNLL columns or one tag per line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from xlmk.errors import ConfigError, DataError

TASKS = ("xnli", "mlqa", "ner", "panx")


def score(task: str, gold: str | Path, predictions: str | Path, *, lang: str | None = None) -> dict[str, Any]:
    """{"task", "language", "gold", "predictions", "scores": {metric: value}} for one gold/prediction pair."""
    gold, predictions = Path(gold), Path(predictions)
    for p in (gold, predictions):
        if not p.is_file():
            raise DataError("file not found", path=p)
    if task == "mlqa":
        lang, scores = _mlqa(gold, predictions, lang)
    elif task == "xnli":
        scores = _xnli(gold, predictions, lang)
    elif task in ("ner", "panx"):
        scores = _ner(gold, predictions)
    else:
        from xlmk.config import _suggest

        raise ConfigError(f"unknown task {task!r}{_suggest(task, TASKS)} (one of: {', '.join(TASKS)})")
    return {"task": task, "language": lang, "gold": str(gold), "predictions": str(predictions), "scores": scores}


def _mlqa(gold: Path, predictions: Path, lang: str | None) -> tuple[str, dict]:
    from xlmk.downstream.metrics import mlqa_scores, squad_golds
    from xlmk.downstream.readers import load_json, read_squad

    if lang is None:
        found = re.search(r"context-([A-Za-z-]+?)-question", gold.name)
        if not found:
            raise ConfigError(f"{gold}: cannot tell the answer language from the file name; pass --lang")
        lang = found.group(1)
    squad = read_squad(gold)
    preds = load_json(predictions)
    if not isinstance(preds, dict) or not all(isinstance(v, str) for v in preds.values()):
        raise DataError("expected a JSON object {question id: answer text}", path=predictions)
    golds = squad_golds(load_json(gold))
    out = mlqa_scores(golds, preds, lang)
    out["unknown_ids"] = len(set(preds) - set(golds))
    if squad.misaligned:
        out["answer_not_at_answer_start"] = len(squad.misaligned)
    return lang, out


def _xnli(gold: Path, predictions: Path, lang: str | None) -> dict:
    from xlmk.config import load_table
    from xlmk.downstream.metrics import accuracy, class_report
    from xlmk.downstream.readers import read_nli

    table = load_table("finetune_languages")["xnli"]
    labels, aliases = list(table["labels"]), dict(table.get("label_aliases", {}))
    by_lang = read_nli(gold, labels, aliases, language=lang)
    if lang is not None and lang in by_lang:
        rows = by_lang[lang]
    elif None in by_lang and len(by_lang) == 1:
        rows = by_lang[None]
    elif len(by_lang) == 1:
        rows = next(iter(by_lang.values()))
    else:
        raise ConfigError(f"{gold} holds several languages ({', '.join(sorted(map(str, by_lang)))}); pass --lang")
    pred_rows = read_nli(predictions, labels, aliases)
    if list(pred_rows) != [None]:
        raise DataError("expected one label per line", path=predictions)
    if len(pred_rows[None]) != len(rows):
        raise DataError(f"{len(pred_rows[None])} predictions for {len(rows)} gold examples in {gold}", path=predictions)
    gold_labels, predicted = [r.label for r in rows], [r.label for r in pred_rows[None]]
    return {**accuracy(gold_labels, predicted), **class_report(gold_labels, predicted, labels)}


def _ner(gold: Path, predictions: Path) -> dict:
    from xlmk.downstream.metrics import ner_scores, seqeval_scores
    from xlmk.downstream.readers import read_ner

    g = [s.tags or [] for s in read_ner(gold)]
    p = [s.tags or [] for s in read_ner(predictions)]
    if len(g) != len(p):
        raise DataError(f"{len(g)} gold sentences in {gold} but {len(p)} in the predictions", path=predictions)
    for i, (a, b) in enumerate(zip(g, p), 1):
        if len(a) != len(b):
            raise DataError(f"sentence {i}: {len(a)} gold tags but {len(b)} predicted", path=predictions)
    # seqeval gives the numbers; the own chunker (tested to agree with it) counts the entities
    ours, reference = ner_scores(g, p), seqeval_scores(g, p)
    return {k: float(reference[k]) for k in ("precision", "recall", "f1", "accuracy")} | {
        "n": len(g), "gold_entities": ours["gold_entities"], "predicted_entities": ours["predicted_entities"]}
