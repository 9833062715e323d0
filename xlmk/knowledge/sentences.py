"""Language-aware sentence splitting with character offsets, never cutting inside a protected span.

Two kinds of sentence ends: marks that end a sentence wherever they stand (CJK `。！？`, Devanagari
`।`, Arabic `؟` and `۔`, Burmese, Ethiopic, Armenian, Tibetan, Khmer) and the Latin-style `. ! ?`,
which end one only before a blank and a word that does not start in lower case, and not after a
known abbreviation, a single initial, or (in languages that write ordinals as "3.") a number.
A line break always ends a sentence. Spans given as protected (the links of a page) are never cut,
so every mention lies inside one sentence.
"""
from __future__ import annotations

import bisect
import re

_CLOSERS = "\"'”’»›」』）)]}】〕〉》"
_HARD = re.compile(f"[。！？｡।॥؟۔။።։།។]+[{re.escape(_CLOSERS)}]*")
# The next word may not start with an ASCII lower-case letter: most rejected ends never reach Python.
_SOFT = re.compile(f"[.!?…]+[{re.escape(_CLOSERS)}]*(?=\\s+(?:[^\\sa-z]|\\Z))")

# Words that take a full stop without ending a sentence, per language (lower case, without the dot).
ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset("mr mrs ms dr prof st jr sr vs e.g i.e inc ltd co corp mt ft gen col lt sgt capt "
                    "fig approx ca no nos vol pp ed eds rev hon gov sen rep jan feb mar apr jun jul aug "
                    "sep sept oct nov dec u.s u.k a.d b.c".split()),
    "de": frozenset("z.b bzw dr prof st nr ca vgl usw u.a d.h evtl ggf hl jh jhd bzw s abs art "
                    "geb gest ev kath mio mrd inkl jan feb apr aug sept okt nov dez".split()),
    "es": frozenset("sr sra srta dr dra lic ud uds p.ej núm n.º pág etc a.c d.c s.a".split()),
    "fr": frozenset("m mme mlle mm dr st ste p.ex av apr j.-c env".split()),
    "vi": frozenset("tp ts ths pgs gs".split()),
}
# Languages that write ordinal numbers with a full stop ("am 3. Oktober").
ORDINAL_DOT = frozenset("de da no nb nn fi cs sk hu hr sl sr bs tr lv et is fo eu".split())


_NEXT_CHAR = re.compile(r"\S")


def _is_soft_end(text: str, dot_at: int, end: int, lang: str) -> bool:
    """`lang` is the base language (no region); the next word is found without copying the rest."""
    nxt = _NEXT_CHAR.search(text, end)
    if nxt is not None and nxt.group().islower():
        return False
    if text[dot_at] != ".":
        return True
    word_start = dot_at
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot_at].lstrip("(\"'«“")
    if len(word) == 1 and word.isalpha():  # an initial: "J. R. R. Tolkien"
        return False
    if word.lower() in ABBREVIATIONS.get(lang, ()):
        return False
    return not (word.isdigit() and lang in ORDINAL_DOT)


def sentence_spans(text: str, lang: str, protected: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, blanks trimmed; `protected` spans are never cut."""
    cuts = {m.end() for m in _HARD.finditer(text)}
    base = lang.split("-")[0]
    for m in _SOFT.finditer(text):
        if _is_soft_end(text, m.start(), m.end(), base):
            cuts.add(m.end())
    pos = text.find("\n")
    while pos != -1:
        cuts.add(pos)
        pos = text.find("\n", pos + 1)
    ordered_cuts = sorted(cuts)
    if protected:
        # Protected spans (a page's links) do not overlap, so only the last one starting before a
        # cut can hold it; cuts and spans are both in order, so one pass pairs them.
        ordered, kept, k = sorted(protected), [], 0
        for c in ordered_cuts:
            while k < len(ordered) and ordered[k][0] < c:
                k += 1
            if not (k and c < ordered[k - 1][1]):
                kept.append(c)
        ordered_cuts = kept
    ordered_cuts.append(len(text))
    spans, prev = [], 0
    for c in ordered_cuts:
        piece = text[prev:c]
        core = piece.strip()  # str.strip drops what str.isspace calls blank
        if core:
            s = prev + len(piece) - len(piece.lstrip())
            spans.append((s, s + len(core)))
        prev = c
    return spans


def sentences_of_spans(text: str, lang: str, spans: list[tuple[int, int]]):
    """For each span (in any order), the (sentence start, sentence end) holding it, or None."""
    sentences = sentence_spans(text, lang, spans)
    starts = [s for s, _ in sentences]
    found = []
    for start, end in spans:
        i = bisect.bisect_right(starts, start) - 1
        ok = i >= 0 and sentences[i][0] <= start and end <= sentences[i][1]
        found.append(sentences[i] if ok else None)
    return found
