"""Scoring prediction files in the data sets' own layouts (`xlmk score`), with the same metric code
fine-tuning uses, so outputs of other systems can be scored too.

- mlqa: gold in SQuAD layout, predictions `{qid: answer}` JSON; the answer language is `lang`, or the
  context language in the gold file's name (`…-context-{lang}-question-…`).
- xnli: predictions one label per line; gold any XNLI layout (one label per line, XGLUE's three
  columns, or the original tsv/jsonl, where `lang` picks the language).
- ner / panx: predictions one tag per line with a blank line between sentences (or `token tag` lines);
  gold `token tag`, `lang:token<TAB>tag`, CoNLL columns or one tag per line.
- xquad / tydiqa: gold in SQuAD layout, predictions `{qid: answer}` JSON, the SQuAD v1.1 metric as
  XTREME runs it; `score` is (EM + F1) / 2, XTREME's task score.
- paws-x: predictions one label per line; gold one label per line, the release TSV or XTREME's TSV.
- udpos: predictions one tag per line (or `word<TAB>TAG`); gold the same, or a CoNLL-U file (converted
  as XTREME does). F1 as XTREME (seqeval <= 0.0.13 semantics), seqeval 1.2.2's F1 and token accuracy beside.
- bucc: gold and predictions `src-id<TAB>trg-id` lines; F1 over the sets of pairs.
- tatoeba: gold and predictions one 0-based source index a line; accuracy@1.

Predictions missing ids (QA) score 0 and are counted in `unanswered`; line-aligned files of another
length are an error naming both counts.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from xlmk.errors import ConfigError, DataError

TASKS = ("xnli", "mlqa", "ner", "panx", "paws-x", "xquad", "tydiqa", "udpos", "bucc", "tatoeba")


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
    elif task in ("xquad", "tydiqa"):
        scores = _squad(gold, predictions)
    elif task in ("paws-x", "udpos", "bucc", "tatoeba"):
        scores = {"paws-x": _pawsx, "udpos": _udpos, "bucc": _bucc, "tatoeba": _tatoeba}[task](gold, predictions)
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


def _squad(gold: Path, predictions: Path) -> dict:
    from xlmk.downstream.metrics import squad_questions, squad_scores
    from xlmk.downstream.readers import load_json, read_squad

    read_squad(gold)  # checks the layout, naming the file
    preds = _qa_predictions(predictions)
    questions = squad_questions(load_json(gold))
    out = squad_scores(questions, preds)
    out["score"] = (out["exact_match"] + out["f1"]) / 2
    out["unknown_ids"] = len(set(preds) - {q for q, _ in questions})
    return out


def _qa_predictions(predictions: Path) -> dict[str, str]:
    from xlmk.downstream.readers import load_json

    preds = load_json(predictions)
    if not isinstance(preds, dict) or not all(isinstance(v, str) for v in preds.values()):
        raise DataError("expected a JSON object {question id: answer text}", path=predictions)
    return preds


def _same_length(gold: Path, predictions: Path, n_gold: int, n_pred: int, what: str) -> None:
    if n_gold != n_pred:
        raise DataError(f"{n_pred} {what} in the predictions but {n_gold} in {gold}", path=predictions)


def _pawsx(gold: Path, predictions: Path) -> dict:
    from xlmk.config import load_table
    from xlmk.downstream.metrics import accuracy
    from xlmk.downstream.xtreme_readers import read_pawsx

    labels = [str(x) for x in load_table("finetune_languages")["paws-x"]["labels"]]
    g, p = read_pawsx(gold, labels), read_pawsx(predictions, labels)
    if any(e.label is None for e in g):
        raise DataError("the gold file has no labels (XTREME's test files lose them); use the release's test_2k.tsv "
                        "or the leaderboard labels", path=gold)
    _same_length(gold, predictions, len(g), len(p), "labels")
    return accuracy([e.label for e in g], [e.label for e in p])


def _udpos(gold: Path, predictions: Path) -> dict:
    from xlmk.downstream.metrics import ner_scores, seqeval_scores
    from xlmk.downstream.xtreme_readers import read_conllu, read_tag_lines

    g = [s.tags or [] for s in (read_conllu(gold) if gold.suffix == ".conllu" else read_tag_lines(gold))]
    p = [s.tags or [] for s in read_tag_lines(predictions)]
    _same_length(gold, predictions, len(g), len(p), "sentences")
    for i, (a, b) in enumerate(zip(g, p), 1):
        if len(a) != len(b):
            raise DataError(f"sentence {i}: {len(a)} gold tags but {len(b)} predicted", path=predictions)
    ours = ner_scores(g, p, legacy=True)
    current = seqeval_scores(g, p)
    return {"f1": ours["f1"], "precision": ours["precision"], "recall": ours["recall"], "accuracy": ours["accuracy"],
            "f1_seqeval_1_2": float(current["f1"]), "n": len(g)}


def _bucc(gold: Path, predictions: Path) -> dict:
    from xlmk.downstream.retrieval import bucc_f1
    from xlmk.downstream.xtreme_readers import read_bucc_pairs

    return bucc_f1(read_bucc_pairs(gold), read_bucc_pairs(predictions))


def _tatoeba(gold: Path, predictions: Path) -> dict:
    from xlmk.downstream.retrieval import tatoeba_accuracy
    from xlmk.downstream.xtreme_readers import read_indices

    g, p = read_indices(gold), read_indices(predictions)
    _same_length(gold, predictions, len(g), len(p), "indices")
    return tatoeba_accuracy(g, p)
