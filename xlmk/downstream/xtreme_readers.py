"""Readers of XTREME's other tasks, in their release layouts and in XTREME's preprocessed layout.

- PAWS-X: the release's `x-final/{lang}/{train,translated_train,dev_2k,test_2k}.tsv` (header
  `id sentence1 sentence2 label`, read with quoting off: the data has quote characters), XTREME's
  `{train,dev,test}-{lang}.tsv` (csv-written: CRLF, fields with `"` quoted; test without labels) and
  one label per line (predictions, leaderboard labels).
- UD-POS: CoNLL-U of UD v2.5, converted as XTREME does (multiword tokens collapse to their surface
  form with the tag of the span's head, sentences without text are dropped, U+200C and spaces inside
  words are deleted); the same conversion of the `universal_dependencies` data set's rows; XTREME's
  `word<TAB>TAG` files; one tag per line.
- BUCC 2018: `{lang}-{9 digits}<TAB>sentence` files and `src-id<TAB>trg-id` gold / prediction files.
- Tatoeba: line-aligned plain text, and one integer (a 0-based source index) per line.

Each reader says which layout a file is not in when it cannot read it (`LayoutError` names the
layout that would).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from xlmk.downstream.readers import NerSentence, NliExample, _lines
from xlmk.errors import DataError


class LayoutError(DataError):
    """A task file in a layout other than the one expected."""


def wrong_layout(path: Path, expected: str, nearest: str | None, line: int | None = None) -> LayoutError:
    hint = f"; it looks like {nearest}" if nearest else ""
    return LayoutError(f"not in the {expected} layout{hint}", path=path, line=line)


# ---------------------------------------------------------------- PAWS-X
def read_pawsx(path: str | Path, labels: list[str]) -> list[NliExample]:
    """Sentence pairs of a PAWS-X file in the release layout (header with `id`), XTREME's layout
    (three csv-quoted columns, or two in its label-less test files: label None) or one label a line."""
    path = Path(path)
    rows = list(_lines(path))
    first = next((raw for _, raw in rows if raw.strip()), "")
    if first.startswith("id\tsentence1\tsentence2"):
        return _pawsx_release(path, rows, labels)
    if first.split("\t")[0] in ("premise", "language", "sentence1"):
        raise wrong_layout(path, "PAWS-X", "XNLI (a header of premise/hypothesis columns)")
    try:
        cells_rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter="\t"))
    except csv.Error as exc:
        raise DataError(f"cannot read as XTREME's csv-quoted TSV: {exc}", path=path) from None
    out = []
    for i, cells in enumerate(cells_rows, 1):
        if not cells or cells == [""]:
            continue
        if len(cells) == 1:
            out.append(NliExample("", "", _label(cells[0], labels, path, i), i))
        elif len(cells) == 2:
            out.append(NliExample(cells[0], cells[1], None, i))
        elif len(cells) == 3:
            out.append(NliExample(cells[0], cells[1], _label(cells[2], labels, path, i), i))
        else:
            raise wrong_layout(path, "PAWS-X (release: header id/sentence1/sentence2/label; XTREME: "
                               "sentence1<TAB>sentence2[<TAB>label])", None, i)
    return out


def _pawsx_release(path: Path, rows: list[tuple[int, str]], labels: list[str]) -> list[NliExample]:
    out = []
    for i, raw in rows[1:]:
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if len(cells) != 4:
            raise DataError(f"expected 4 tab-separated columns (id sentence1 sentence2 label), found {len(cells)}",
                            path=path, line=i)
        out.append(NliExample(cells[1], cells[2], _label(cells[3], labels, path, i), i))
    return out


def _label(value: str, labels: list[str], path: Path, line: int) -> str:
    value = value.strip()
    if value not in labels:
        raise DataError(f"unknown label {value!r} (expected one of: {', '.join(labels)})", path=path, line=line)
    return value


# ---------------------------------------------------------------- UD-POS
def read_conllu(path: str | Path) -> list[NerSentence]:
    """(word, UPOS) sentences of a CoNLL-U file, converted as XTREME's `udpos_preprocess` does."""
    path = Path(path)
    sentences: list[NerSentence] = []
    rows: list[list[str]] = []
    start = 0

    def flush() -> None:
        nonlocal rows
        if rows:
            sentence = _convert_sentence(rows, path, start)
            if sentence is not None:
                sentences.append(sentence)
        rows = []

    for i, raw in _lines(path):
        if not raw.strip():
            flush()
            continue
        if raw.startswith("#"):
            continue
        cells = raw.split("\t")
        if len(cells) != 10:
            nearest = "XTREME's word<TAB>TAG layout" if len(cells) == 2 else None
            raise wrong_layout(path, "CoNLL-U (10 tab-separated columns)", nearest, i)
        if not rows:
            start = i
        rows.append(cells)
    flush()
    return sentences


def _convert_sentence(rows: list[list[str]], path: Path, line: int) -> NerSentence | None:
    words: list[str] = []
    tags: list[str] = []
    spans: dict[int, tuple[int, str]] = {}  # first word id -> (last word id, fused form)
    by_id: dict[int, list[str]] = {}
    for cells in rows:
        if "." in cells[0]:  # empty nodes of enhanced dependencies carry no surface word
            continue
        if "-" in cells[0]:
            a, b = cells[0].split("-")
            spans[int(a)] = (int(b), cells[1])
        else:
            by_id[int(cells[0])] = cells
    skip_until = 0
    for wid in sorted(by_id):
        if wid <= skip_until:
            continue
        if wid in spans:
            last, form = spans[wid]
            members = [by_id[k] for k in range(wid, last + 1) if k in by_id]
            inside = {str(k) for k in range(wid, last + 1)}
            head = next((m for m in members if m[6] not in inside), members[0])
            words.append(form)
            tags.append(head[3])
            skip_until = last
        else:
            words.append(by_id[wid][1])
            tags.append(by_id[wid][3])
    if not words or sum(w == "_" for w in words) == len(words):
        return None  # a treebank distributed without its text
    words = [w.replace("\u200c", "").replace(" ", "") for w in words]
    return NerSentence(words, tags, line)


def ud_rows_sentence(forms: list[str], upos: list[str], heads: list[str], deps: list[str] | None, text: str | None,
                     where: str, line: int) -> NerSentence | None:
    """One sentence of the `universal_dependencies` data set (`datasets`), converted as `read_conllu`.

    That data set keeps every CoNLL-U line as a row (multiword ranges with UPOS `_` and head None, their
    words after them, empty nodes with head None) but not the ids, so a range's length is not recorded:
    it is recovered from the sentence text, whose letters the surface tokens spell (UD's rule), and the
    rows are given back their ids for the release's conversion. A range the text does not decide is an
    error, as is a range in a data set without text."""
    kinds = []
    for k, (tag, head) in enumerate(zip(upos, heads)):
        no_head = head in ("None", "_", "")
        if no_head and tag == "_" and (deps is None or deps[k] in ("None", "_", "")):
            kinds.append("range")
        else:
            kinds.append("empty" if no_head else "word")
    if "range" not in kinds:
        spans: dict[int, int] = {}
    elif text is None:
        first = forms[kinds.index("range")]
        raise DataError(f"{where}, sentence {line}: multiword token {first!r} but no text column, so the words it "
                        "spans are unknown; map `text` with task.hf_columns or use the UD release (layout: original)")
    else:
        spans = _range_lengths(forms, kinds, "".join(text.split()), where, line)
    rows: list[list[str]] = []
    wid, empty = 0, 0
    for k, kind in enumerate(kinds):
        if kind == "range":
            rows.append([f"{wid + 1}-{wid + spans[k]}", forms[k], "_", "_", "_", "_", "_", "_", "_", "_"])
        elif kind == "empty":
            empty += 1
            rows.append([f"{wid}.{empty}", forms[k], "_", upos[k], "_", "_", "_", "_", "_", "_"])
        else:
            wid, empty = wid + 1, 0
            rows.append([str(wid), forms[k], "_", upos[k], "_", "_", heads[k], "_", "_", "_"])
    return _convert_sentence(rows, Path(where), line)


def _range_lengths(forms: list[str], kinds: list[str], letters: str, where: str, line: int) -> dict[int, int]:
    """{row of each multiword range: how many word rows follow it}, the one choice whose surface tokens
    spell `letters` (the text without whitespace). A forward pass over (row, letters read) states,
    counting the ways into each (capped at 2) and keeping the first way in."""
    n = len(forms)
    layers: list[dict[int, tuple[int, tuple | None]]] = [{} for _ in range(n + 1)]
    layers[0][0] = (1, None)
    for r in range(n):
        for p, (count, _) in list(layers[r].items()):
            def reach(row: int, at: int, span: int | None) -> None:
                seen, back = layers[row].get(at, (0, None))
                layers[row][at] = (min(2, seen + count), back if seen else (r, p, span))

            if kinds[r] == "empty":
                reach(r + 1, p, None)
                continue
            form = "".join(forms[r].split())
            if not letters.startswith(form, p):
                continue
            if kinds[r] == "word":
                reach(r + 1, p + len(form), None)
                continue
            last = r + 1
            while last < n and kinds[last] == "word":  # the range's words follow it, at least one
                reach(last + 1, p + len(form), last - r)
                last += 1
    count, back = layers[n].get(len(letters), (0, None))
    if count != 1:
        ranges = ", ".join(repr(forms[k]) for k in range(n) if kinds[k] == "range")
        why = "the surface tokens do not spell the sentence text" if not count else "the text allows several readings"
        raise DataError(f"{where}, sentence {line}: cannot tell which words the multiword token(s) {ranges} span "
                        f"({why}; the data set records no word ids); use the UD release (layout: original)")
    spans: dict[int, int] = {}
    while back is not None:
        r, p, span = back
        if span is not None:
            spans[r] = span
        back = layers[r][p][1]
    return spans


def read_tag_lines(path: str | Path, *, single: str = "tag") -> list[NerSentence]:
    """Sentences of `word<TAB>TAG` lines or one item a line, a blank line between sentences (XTREME's
    `read_tag`: every blank line ends a sentence, so two blank lines give an empty one). A one-column
    line is a tag (`single="tag"`: predictions, leaderboard labels) or a word without its tag
    (`single="word"`: XTREME's test files); the latter leaves the tag empty."""
    path = Path(path)
    sentences: list[NerSentence] = []
    words: list[str] = []
    tags: list[str] = []
    start = 1
    for i, raw in _lines(path):
        line = raw.strip()
        if not line:
            sentences.append(NerSentence(words, tags, start))
            words, tags, start = [], [], i + 1
            continue
        cells = raw.split("\t")
        if len(cells) == 10:
            raise wrong_layout(path, "XTREME's word<TAB>TAG", "CoNLL-U (layout: release)", i)
        if len(cells) > 2:
            raise wrong_layout(path, "XTREME's word<TAB>TAG", None, i)
        if len(cells) == 1 and single == "word":
            words.append(cells[0].strip())
            tags.append("")
            continue
        words.append(cells[0].strip() if len(cells) == 2 else "")
        tags.append(cells[-1].strip())
    if words or tags:
        sentences.append(NerSentence(words, tags, start))
    return sentences


# ---------------------------------------------------------------- BUCC 2018
@dataclass
class BuccSide:
    ids: list[str]
    sentences: list[str]


def read_bucc_sentences(path: str | Path) -> BuccSide:
    """`{lang}-{id}<TAB>sentence` lines (blank lines skipped, as the shared task's files end in one)."""
    path = Path(path)
    ids, sentences = [], []
    for i, raw in _lines(path):
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if len(cells) != 2 or "-" not in cells[0]:
            raise wrong_layout(path, "BUCC (lang-id<TAB>sentence)", "plain text (Tatoeba)" if len(cells) == 1 else None, i)
        ids.append(cells[0])
        sentences.append(cells[1])
    return BuccSide(ids, sentences)


def read_bucc_pairs(path: str | Path) -> list[tuple[str, str]]:
    """`src-id<TAB>trg-id` lines (BUCC gold, XTREME's predictions)."""
    path = Path(path)
    out = []
    for i, raw in _lines(path):
        if not raw.strip():
            continue
        cells = raw.strip().split("\t")
        if len(cells) != 2:
            raise DataError(f"expected 'source-id<TAB>target-id', found {raw!r}", path=path, line=i)
        out.append((cells[0], cells[1]))
    return out


# ---------------------------------------------------------------- Tatoeba
def read_plain(path: str | Path) -> list[str]:
    """One sentence a line; every line counts (the two sides are aligned by line number)."""
    path = Path(path)
    out = [raw for _, raw in _lines(path)]
    if out and "\t" in out[0] and out[0].split("\t")[0].count("-") == 1 and out[0].split("\t")[0][-1:].isdigit():
        raise wrong_layout(path, "Tatoeba (one sentence a line)", "BUCC (lang-id<TAB>sentence)", 1)
    return out


def read_indices(path: str | Path) -> list[str]:
    """One 0-based index a line (Tatoeba gold and predictions); XTREME's `[367]` is read as 367."""
    path = Path(path)
    out = []
    for i, raw in _lines(path):
        value = raw.strip().strip("[]").strip()
        if not value.lstrip("-").isdigit():
            raise DataError(f"expected one integer index a line, found {raw!r}", path=path, line=i)
        out.append(str(int(value)))
    return out
