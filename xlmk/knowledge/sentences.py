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
from itertools import accumulate, repeat
from operator import add, sub

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


def _word_before(text: str, at: int, reach: int = 32) -> str:
    """The run of non-blank characters that ends at `at` (split in C; walked back only past `reach`)."""
    chunk = text[max(0, at - reach):at]
    if not chunk or chunk[-1].isspace():
        return ""
    words = chunk.rsplit(None, 1)
    if len(words) == 1 and at > reach and not chunk[0].isspace():  # may start before the chunk
        start = at - reach
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        return text[start:at]
    return words[-1]


def _is_soft_end(text: str, dot_at: int, end: int, lang: str) -> bool:
    """`lang` is the base language (no region); the next word is found without copying the rest."""
    nxt = _NEXT_CHAR.search(text, end)
    if nxt is not None and nxt.group().islower():
        return False
    if text[dot_at] != ".":
        return True
    word = _word_before(text, dot_at).lstrip("(\"'«“")
    if len(word) == 1 and word.isalpha():  # an initial: "J. R. R. Tolkien"
        return False
    if word.lower() in ABBREVIATIONS.get(lang, ()):
        return False
    return not (word.isdigit() and lang in ORDINAL_DOT)


def _cuts(text: str, lang: str, protected) -> list[int]:
    """The offsets where sentences end, in order, ending with len(text)."""
    cuts = set() if text.isascii() else {m.end() for m in _HARD.finditer(text)}  # isascii() is O(1)
    base = lang.split("-")[0]
    for m in _SOFT.finditer(text):
        if _is_soft_end(text, m.start(), m.end(), base):
            cuts.add(m.end())
    if "\n" in text:  # newline offsets summed in C: the lengths of the lines before, plus one each, less one
        lines = map(len, text.split("\n")[:-1])
        cuts.update(map(sub, accumulate(map(add, lines, repeat(1))), repeat(1)))
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
    return ordered_cuts


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """(start, end) of text[start:end] without its blanks, or None if it is all blank."""
    piece = text[start:end]
    core = piece.strip()  # str.strip drops what str.isspace calls blank
    if not core:
        return None
    s = start + len(piece) - len(piece.lstrip())
    return s, s + len(core)


def _sentences(text: str, cuts: list[int]) -> list[tuple[int, int]]:
    spans = map(_trimmed, repeat(text), [0, *cuts], cuts)
    return [span for span in spans if span is not None]


def sentence_spans(text: str, lang: str, protected: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, blanks trimmed; `protected` spans are never cut."""
    return _sentences(text, _cuts(text, lang, protected))


def sentences_of_spans(text: str, lang: str, spans: list[tuple[int, int]]):
    """For each span (in any order), the (sentence start, sentence end) holding it, or None.

    Only the sentence around each span is trimmed (a page has more sentences than links); a span that
    its own piece does not hold (only an empty one, at a cut) is looked up among all sentences."""
    cuts = _cuts(text, lang, spans)
    found, sentences, trimmed = [], None, {}
    for start, end in spans:
        k = bisect.bisect_right(cuts, start)
        if k not in trimmed:  # long pages hold several links a sentence
            trimmed[k] = _trimmed(text, cuts[k - 1] if k else 0, cuts[k]) if k < len(cuts) else None
        sent = trimmed[k]
        if sent is None or not (sent[0] <= start and end <= sent[1]):
            if sentences is None:
                sentences = _sentences(text, cuts)
                starts = [s for s, _ in sentences]
            i = bisect.bisect_right(starts, start) - 1
            sent = sentences[i] if i >= 0 and sentences[i][0] <= start and end <= sentences[i][1] else None
        found.append(sent)
    return found
