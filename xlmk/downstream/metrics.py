"""Metrics of the fine-tuning tasks, written to agree with the official scripts to the last digit.

- MLQA: the official `mlqa_evaluation_v1.py` (lower-case, delete Unicode and ASCII punctuation, drop the
  answer language's articles, whitespace or mixed CJK segmentation; EM and bag-of-tokens F1, each the
  max over the gold answers; unanswered questions score 0; ×100). The per-language rules live in
  `registry/tables/finetune_languages.yaml` (`mlqa_normalization`).
- XQuAD, TyDiQA-GoldP: the SQuAD v1.1 script as XTREME vendors it (`third_party/evaluate_squad.py`:
  lower-case, delete ASCII punctuation, drop English articles, whitespace split; no language rules, so
  it differs from MLQA's on zh, ar and others); every `qas` entry counts, a missing id scores 0.
- XNLI, PAWS-X: accuracy ×100.
- NER: entity-level precision, recall and F1 of conlleval, which is seqeval's default mode; computed
  both by seqeval and by the chunker here (`entity_spans`), and the two are tested to agree.
- UD-POS: what XTREME's `evaluate.py` computes, seqeval F1 over bare UPOS tags (each tag an entity
  type, runs of one tag one chunk, tags starting B/I/E/S read as prefixes) with seqeval <= 0.0.13's
  reading of the type (the whole tag), which reproduces XTREME's `evaluate_test.py`; token accuracy
  beside it. seqeval >= 0.0.15 drops the first letter of the type (`CCONJ` and `SCONJ` both `CONJ`).

All scores are percentages (0-100), as the paper prints them.
"""
from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
from collections import Counter
from typing import Any, Callable, Iterable, Mapping, Sequence

from xlmk.errors import ConfigError, DataError


# ---------------------------------------------------------------- MLQA
@functools.lru_cache(maxsize=1)
def punctuation() -> frozenset[str]:
    """Every character whose Unicode category starts with P, plus ASCII punctuation (as the script)."""
    # the script iterates range(sys.maxunicode), which leaves out U+10FFFF (not punctuation anyway)
    chars = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
    return frozenset(chars | set(string.punctuation))


@functools.lru_cache(maxsize=None)
def _rules(lang: str) -> tuple[re.Pattern | None, str]:
    from xlmk.config import load_table

    table = load_table("finetune_languages").get("mlqa_normalization", {})
    if lang not in table:
        raise ConfigError(f"registry/tables/finetune_languages.yaml: mlqa_normalization has no language {lang!r} "
                          f"(known: {', '.join(sorted(table))}); add its articles and segmentation there")
    rule = table[lang]
    articles = rule.get("articles")
    segmentation = rule.get("segmentation", "whitespace")
    if segmentation not in ("whitespace", "mixed"):
        raise ConfigError(f"registry/tables/finetune_languages.yaml: mlqa_normalization.{lang}.segmentation "
                          f"must be whitespace or mixed, got {segmentation!r}")
    return (re.compile(articles) if articles else None), segmentation


def _mixed_segmentation(text: str) -> list[str]:
    """The script's split for Chinese: each CJK character (U+4E00-U+9FA5) or punctuation mark alone,
    everything between them split on whitespace."""
    punct = punctuation()
    out: list[str] = []
    run = ""
    for ch in text:
        if "\u4e00" <= ch <= "\u9fa5" or ch in punct:
            if run:
                out.extend(run.split())
                run = ""
            out.append(ch)
        else:
            run += ch
    if run:
        out.extend(run.split())
    return out


def mlqa_normalize(text: str, lang: str) -> str:
    """normalize_answer of the official MLQA script, for the answer language `lang`."""
    articles, segmentation = _rules(lang)
    punct = punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punct)
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = text.split() if segmentation == "whitespace" else _mixed_segmentation(text)
    return " ".join(t for t in tokens if t.strip() != "")


def mlqa_f1(prediction: str, gold: str, lang: str) -> float:
    pred_tokens = mlqa_normalize(prediction, lang).split()
    gold_tokens = mlqa_normalize(gold, lang).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(pred_tokens)
    recall = 1.0 * same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def mlqa_exact(prediction: str, gold: str, lang: str) -> bool:
    return mlqa_normalize(prediction, lang) == mlqa_normalize(gold, lang)


def mlqa_scores(golds: Mapping[str, Sequence[str]], predictions: Mapping[str, str], lang: str) -> dict[str, Any]:
    """EM and F1 (×100) of `predictions` {qid: text} against `golds` {qid: [answer texts]}.

    Sums are accumulated in the order of `golds` exactly as the script does, so the floating-point
    result is the script's to the last bit."""
    return _qa_scores(golds.items(), predictions, lambda p, g: mlqa_exact(p, g, lang), lambda p, g: mlqa_f1(p, g, lang))


def _qa_scores(questions: Iterable[tuple[str, Sequence[str]]], predictions: Mapping[str, str],
               exact: Callable[[str, str], Any], f1: Callable[[str, str], Any]) -> dict[str, Any]:
    """The loop both official QA scripts run: per question the best of its gold answers, summed in order
    (missing predictions count 0 and are counted in `unanswered`)."""
    total = unanswered = 0
    # int accumulators, as the scripts' (True counts 1): the float sums then match them bit for bit
    exact_i: Any = 0
    f1_i: Any = 0
    for qid, answers in questions:
        total += 1
        if qid not in predictions:
            unanswered += 1
            continue
        if not answers:
            raise DataError(f"question {qid} has no gold answer")
        pred = predictions[qid]
        exact_i += max(exact(pred, g) for g in answers)
        f1_i += max(f1(pred, g) for g in answers)
    if total == 0:
        raise DataError("no questions to score")
    return {"exact_match": 100.0 * exact_i / total, "f1": 100.0 * f1_i / total, "n": total, "unanswered": unanswered}


def squad_golds(dataset: Mapping[str, Any] | Sequence[Any]) -> dict[str, list[str]]:
    """{qid: [answer texts]} from a SQuAD-layout file's content (the dict or its `data` list)."""
    articles = dataset["data"] if isinstance(dataset, Mapping) else dataset
    golds: dict[str, list[str]] = {}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds[qa["id"]] = [a["text"] for a in qa["answers"]]
    return golds


# ---------------------------------------------------------------- SQuAD v1.1 (XQuAD, TyDiQA-GoldP)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def squad_normalize(text: str) -> str:
    """normalize_answer of the SQuAD v1.1 script: lower, drop ASCII punctuation, articles, extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def squad_f1(prediction: str, gold: str) -> float:
    pred_tokens = squad_normalize(prediction).split()
    gold_tokens = squad_normalize(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(pred_tokens)
    recall = 1.0 * same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def squad_scores(questions: Iterable[tuple[str, Sequence[str]]], predictions: Mapping[str, str]) -> dict[str, Any]:
    """EM and F1 (×100) of the SQuAD v1.1 script over (qid, [gold texts]) in file order.

    Every question counts, as in the script (a repeated id counts twice); one missing from
    `predictions` scores 0 and is counted in `unanswered`."""
    return _qa_scores(questions, predictions, lambda p, g: squad_normalize(p) == squad_normalize(g), squad_f1)


def squad_questions(dataset: Mapping[str, Any] | Sequence[Any]) -> list[tuple[str, list[str]]]:
    """(qid, [answer texts]) of every question of a SQuAD-layout file's content, in file order."""
    articles = dataset["data"] if isinstance(dataset, Mapping) else dataset
    return [(qa["id"], [a["text"] for a in qa["answers"]])
            for article in articles for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


# ---------------------------------------------------------------- XNLI
def accuracy(gold: Sequence[Any], predicted: Sequence[Any]) -> dict[str, Any]:
    if len(gold) != len(predicted):
        raise DataError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise DataError("no examples to score")
    right = sum(g == p for g, p in zip(gold, predicted))
    # what a table needs to tell a constant predictor, or a score at the majority-class rate, from learning
    majority = max(Counter(gold).values())
    return {"accuracy": 100.0 * right / len(gold), "n": len(gold), "predicted_classes": len(set(predicted)),
            "majority_baseline": 100.0 * majority / len(gold)}


def class_report(gold: Sequence[Any], predicted: Sequence[Any], labels: Sequence[Any]) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support (×100) and their macro F1, by scikit-learn: the
    breakdown that tells a constant or one-sided classifier from one that learnt every class."""
    from sklearn.metrics import precision_recall_fscore_support

    if len(gold) != len(predicted):
        raise DataError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    p, r, f, support = precision_recall_fscore_support(list(gold), list(predicted), labels=list(labels),
                                                       average=None, zero_division=0)
    per_class = {str(label): {"precision": 100 * float(p[i]), "recall": 100 * float(r[i]), "f1": 100 * float(f[i]),
                              "support": int(support[i])} for i, label in enumerate(labels)}
    return {"macro_f1": 100 * float(sum(f)) / len(labels), "per_class": per_class}


# ---------------------------------------------------------------- NER
def _split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) as conlleval and seqeval read a tag: 'B-PER' -> ('B', 'PER'), 'O' -> ('O', '_')."""
    return tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"


def _split_tag_legacy(tag: str) -> tuple[str, str]:
    """(prefix, type) as seqeval <= 0.0.13 reads a tag: the type is the text after the last '-', so a
    bare tag is its own type ('NOUN' -> ('N', 'NOUN')), which is how XTREME's UD-POS numbers came about."""
    return tag[0], tag.split("-")[-1]


def _chunk_ends(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _chunk_starts(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def entity_spans(tags: Sequence[str], *, legacy: bool = False) -> list[tuple[str, int, int]]:
    """Chunks (type, first, last) of one tag sequence, by conlleval's rules.

    Any of IOB1, IOB2, IOE and IOBES reads correctly: an I- after O or after another type opens a
    chunk, which is how conlleval scores IOB1 output. `legacy` reads types as seqeval <= 0.0.13."""
    split = _split_tag_legacy if legacy else _split_tag
    chunks = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate(list(tags) + ["O"]):
        tag, type_ = split(chunk)
        if _chunk_ends(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _chunk_starts(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def _check_aligned(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise DataError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise DataError(f"sentence {i + 1}: {len(g)} gold tags but {len(p)} predicted")


def ner_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, legacy: bool = False) -> dict[str, Any]:
    """Entity precision, recall, F1 and token accuracy (×100) with conlleval's chunking (own code);
    `legacy` = seqeval <= 0.0.13's tag types (XTREME's UD-POS score)."""
    _check_aligned(gold, pred)
    # conlleval reads one stream with a boundary between sentences; spans never cross one
    gold_chunks: set[tuple[int, str, int, int]] = set()
    pred_chunks: set[tuple[int, str, int, int]] = set()
    correct_tokens = n_tokens = 0
    for s, (g, p) in enumerate(zip(gold, pred)):
        gold_chunks.update((s, *c) for c in entity_spans(g, legacy=legacy))
        pred_chunks.update((s, *c) for c in entity_spans(p, legacy=legacy))
        correct_tokens += sum(a == b for a, b in zip(g, p))
        n_tokens += len(g)
    tp = len(gold_chunks & pred_chunks)
    precision = tp / len(pred_chunks) if pred_chunks else 0.0
    recall = tp / len(gold_chunks) if gold_chunks else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1,
            "accuracy": 100 * correct_tokens / n_tokens if n_tokens else 0.0,
            "n": len(gold), "gold_entities": len(gold_chunks), "predicted_entities": len(pred_chunks)}


def seqeval_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The same numbers from seqeval's default (conlleval) mode."""
    import warnings

    from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

    _check_aligned(gold, pred)
    g, p = [list(s) for s in gold], [list(s) for s in pred]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on zero division and on non-IOB tags
        return {"precision": 100 * precision_score(g, p), "recall": 100 * recall_score(g, p),
                "f1": 100 * f1_score(g, p), "accuracy": 100 * accuracy_score(g, p), "n": len(gold)}


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")
