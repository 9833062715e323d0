"""Readers of the fine-tuning data sets in their original layouts.

XNLI: the original `XNLI-1.0/xnli.{dev,test}.{tsv,jsonl}` (every language in one file, a `language`
column), XNLI-MT's `multinli.train.{lang}.tsv` (header `premise hypo label`, `contradictory`), the XGLUE
layout (`premise<TAB>hypothesis<TAB>label`, no header) and one label per line (prediction files).
MLQA: SQuAD v1.1 JSON (`version` optional). NER: `token tag` (XGLUE, IOB1), `lang:token<TAB>tag`
(WikiANN / PAN-X, IOB2), CoNLL columns (token first, tag last) with `-DOCSTART-`, one tag per line.

Every malformed line raises a DataError naming the file and the line; nothing is silently repaired.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping

from xlmk.errors import DataError


@dataclass
class NliExample:
    premise: str
    hypothesis: str
    label: str | None
    line: int = 0


@dataclass
class QaExample:
    qid: str
    question: str
    context: str
    answers: list[tuple[str, int]]  # (text, answer_start)
    title: str = ""


@dataclass
class NerSentence:
    tokens: list[str]
    tags: list[str] | None
    line: int = 0  # line of the first token


@dataclass
class SquadFile:
    """A SQuAD-layout file: its examples, and the gold answers not found at their answer_start."""

    examples: list[QaExample]
    misaligned: list[str] = field(default_factory=list)  # qids


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                yield i, line.rstrip("\n").rstrip("\r")
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason})", path=path) from None


# ---------------------------------------------------------------- XNLI
def normalize_nli_label(label: str, labels: list[str], aliases: Mapping[str, str], *, path: Path, line: int) -> str:
    label = aliases.get(label.strip(), label.strip())
    if label not in labels:
        raise DataError(f"unknown label {label!r} (expected one of: {', '.join(labels)})", path=path, line=line)
    return label


def read_nli(path: str | Path, labels: list[str], aliases: Mapping[str, str], *,
             language: str | None = None) -> dict[str | None, list[NliExample]]:
    """Examples by language from any XNLI layout; files without a language column give key None.

    The layout is told by the file: `.jsonl`, a header starting `language<TAB>`, a header
    `premise<TAB>hypo<TAB>label`, three columns without header (XGLUE), or one label per line."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return _read_nli_jsonl(path, labels, aliases, language)
    out: dict[str | None, list[NliExample]] = {}
    columns: dict[str, int] | None = None
    width = None
    for i, raw in _lines(path):
        if raw.strip() == "":
            continue
        cells = raw.split("\t")
        if i == 1 and cells[0] in ("language", "premise", "sentence1"):
            columns = {name: k for k, name in enumerate(cells)}
            width = len(cells)
            continue
        width = width or len(cells)
        if len(cells) != width:
            raise DataError(f"expected {width} tab-separated columns, found {len(cells)}", path=path, line=i)
        if columns and "language" in columns:
            lang = cells[columns["language"]]
            if language is not None and lang != language:
                continue
            ex = NliExample(cells[columns["sentence1"]], cells[columns["sentence2"]],
                            normalize_nli_label(cells[columns["gold_label"]], labels, aliases, path=path, line=i), i)
            out.setdefault(lang, []).append(ex)
        elif width == 3:
            ex = NliExample(cells[0], cells[1], normalize_nli_label(cells[2], labels, aliases, path=path, line=i), i)
            out.setdefault(None, []).append(ex)
        elif width == 2:
            raise DataError("two columns and no label: XTREME's test files lose the label; use the release files "
                            "(layout original) or score predictions against the leaderboard labels", path=path, line=i)
        elif width == 1:
            out.setdefault(None, []).append(
                NliExample("", "", normalize_nli_label(cells[0], labels, aliases, path=path, line=i), i))
        else:
            raise DataError(f"cannot tell the XNLI layout of a line with {width} columns (expected 3 columns "
                            "premise/hypothesis/label, one label, or a header naming its columns)", path=path, line=i)
    return out


def _read_nli_jsonl(path: Path, labels: list[str], aliases: Mapping[str, str], language: str | None):
    out: dict[str | None, list[NliExample]] = {}
    for i, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            lang = row.get("language")
            if language is not None and lang != language:
                continue
            ex = NliExample(row["sentence1"], row["sentence2"],
                            normalize_nli_label(row["gold_label"], labels, aliases, path=path, line=i), i)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=i) from None
        except (KeyError, AttributeError) as exc:
            raise DataError(f"missing key {exc}", path=path, line=i) from None
        out.setdefault(lang, []).append(ex)
    return out


# ---------------------------------------------------------------- SQuAD / MLQA
def load_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno) from None


def read_squad(path: str | Path) -> SquadFile:
    """Questions of a SQuAD v1.1-layout file (the top-level `version` is optional, as in XGLUE's copy).

    An answer whose text is not at its `answer_start` is kept as it is and its question is listed in
    `misaligned`: shifting it to where the text happens to occur would hide a data problem."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError("not a SQuAD-layout file: expected an object with a `data` list", path=path)
    out = SquadFile([])
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            where = f"data[{a}].paragraphs[{p}]"
            if "context" not in paragraph or "qas" not in paragraph:
                raise DataError(f"{where}: needs `context` and `qas`", path=path)
            context = paragraph["context"]
            for q, qa in enumerate(paragraph["qas"]):
                try:
                    answers = [(ans["text"], int(ans["answer_start"])) for ans in qa.get("answers", [])]
                    ex = QaExample(str(qa["id"]), qa["question"], context, answers, article.get("title", ""))
                except (KeyError, TypeError, ValueError) as exc:
                    raise DataError(f"{where}.qas[{q}]: missing or invalid {exc}", path=path) from None
                if any(context[s:s + len(t)] != t for t, s in answers):
                    out.misaligned.append(ex.qid)
                out.examples.append(ex)
    return out


# ---------------------------------------------------------------- NER
NerLayout = Literal["auto", "xglue", "panx", "conll", "tags", "xtreme"]


def read_ner(path: str | Path, layout: NerLayout = "auto") -> list[NerSentence]:
    """Sentences of a NER file. `tags` = one tag per line (predictions, XTREME label files).

    Blank lines and `-DOCSTART-` lines end a sentence. In `panx` the token carries its language as
    `lang:token`; the prefix is removed (tokens may themselves contain ':')."""
    path = Path(path)
    sentences: list[NerSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    detected = layout

    def flush() -> None:
        nonlocal tokens, tags
        if tokens or tags:
            sentences.append(NerSentence(tokens, tags, start))
        tokens, tags = [], []

    for i, raw in _lines(path):
        line = raw.strip()
        if not line or line.startswith("-DOCSTART-"):
            flush()
            continue
        if detected == "auto":
            detected = _detect_ner_layout(raw)
        if not tags:
            start = i
        if detected == "tags":
            if len(line.split()) != 1:
                raise DataError(f"expected one tag per line, found {line!r}", path=path, line=i)
            tokens.append("")
            tags.append(line)
            continue
        cells = raw.split("\t") if detected in ("panx", "xtreme") else line.split()
        if detected == "xtreme" and len(cells) == 1:
            raise DataError("a word without its tag: XTREME's test files keep only the words; use the release "
                            "files (layout panx) or score predictions against the leaderboard labels", path=path, line=i)
        if len(cells) < 2:
            raise DataError(f"expected a token and a tag, found {line!r}", path=path, line=i)
        token, tag = cells[0], cells[-1]
        if detected == "panx":
            if ":" not in token:
                raise DataError(f"expected 'lang:token<TAB>tag', found {line!r}", path=path, line=i)
            token = token.split(":", 1)[1]
        if detected in ("xglue", "xtreme") and len(cells) != 2:
            raise DataError(f"expected 'token tag', found {len(cells)} columns", path=path, line=i)
        tokens.append(token)
        tags.append(tag)
    flush()
    if detected == "tags":
        for s in sentences:
            s.tokens = [""] * len(s.tags or [])
    return sentences


def _detect_ner_layout(line: str) -> str:
    if "\t" in line and ":" in line.split("\t", 1)[0]:
        return "panx"
    cells = line.split()
    if len(cells) == 1:
        return "tags"
    return "xglue" if len(cells) == 2 else "conll"


def check_tags(sentences: list[NerSentence], labels: list[str], path: str | Path) -> None:
    """Every tag must be one the model can predict."""
    known = set(labels)
    for s in sentences:
        for k, tag in enumerate(s.tags or []):
            if tag not in known:
                raise DataError(f"unknown tag {tag!r} (expected one of: {', '.join(labels)})", path=path,
                                line=s.line + k)
