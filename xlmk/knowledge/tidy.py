"""Blank and bracket tidying of cleaned wikitext that keeps span offsets (links, headings) valid.

Removing templates and references leaves doubled blanks, blank lines, blanks before a full stop and
empty brackets ("Adams ( ; born 1952)"). Tidying only deletes characters; each deletion moves the
span boundaries after it, so a link's offsets still frame its text in the tidied string.
"""
from __future__ import annotations

import bisect
import re

_WS_FIX = str.maketrans({"\t": " ", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\r": "\n"})
_WS_ODD = re.compile("[\t\u00a0\u2009\u202f\r]")  # most pages hold none: then no translate pass
_EMPTY_BRACKETS = re.compile(r" ?\((?:\s|[,;])*\)")
# Runs of blanks that need work: two or more, or a single blank before , or . (a single blank at
# either end is added by hand: anchored branches in this pattern would slow its scan twofold). Written
# to start with one character class, which the regex engine scans for in C before trying the rest.
_BLANKS = re.compile(r"[ \n](?:[ \n]+|(?<= )(?=[,.]))")


def _blank_runs(text: str) -> list[tuple[int, int]]:
    """Runs of two or more blanks, a blank before , or ., and the blank runs at either end, in order."""
    runs, n = [m.span() for m in _BLANKS.finditer(text)], len(text)
    if n and text[0] in " \n" and not (runs and runs[0][0] == 0):
        runs.insert(0, (0, 1))
    if n and text[-1] in " \n" and not (runs and runs[-1][1] == n):
        runs.append((n - 1, n))
    return runs


def _blank_cuts(text: str) -> list[tuple[int, int]]:
    """Stretches to delete so that each run of blanks becomes one newline (if it held one) or one
    space, with no blank at either end or before a comma or full stop."""
    cuts, n = [], len(text)
    for s, e in _blank_runs(text):
        if s == 0 or e == n or (text[e] in ",." and "\n" not in text[s:e]):
            cuts.append((s, e))
            continue
        keep = text.find("\n", s, e)
        keep = s if keep == -1 else keep
        if keep > s:
            cuts.append((s, keep))
        if keep + 1 < e:
            cuts.append((keep + 1, e))
    return cuts


def _delete(text: str, cuts: list[tuple[int, int]], spans: list[list[int]]) -> str:
    """Delete the (sorted, disjoint) `cuts` and move span boundaries with the text around them."""
    if not cuts:
        return text
    pieces, prev, removed, starts, cumulative = [], 0, 0, [], []
    for s, e in cuts:
        pieces.append(text[prev:s])
        prev = e
        removed += e - s
        starts.append(s)
        cumulative.append(removed)

    def move(p: int) -> int:
        i = bisect.bisect_right(starts, p) - 1
        if i < 0:
            return p
        s, e = cuts[i]
        if p < e:  # inside a deleted stretch: lands where the stretch was
            return s - (cumulative[i - 1] if i else 0)
        return p - cumulative[i]

    for span in spans:
        span[0], span[1] = move(span[0]), move(span[1])
    pieces.append(text[prev:])
    return "".join(pieces)


def tidy(text: str, spans: list[list[int]]) -> str:
    """Tidy `text`, moving each [start, end] in `spans` (in place); spans end up trimmed of blanks."""
    if _WS_ODD.search(text):
        text = text.translate(_WS_FIX)
    if "(" in text:
        text = _delete(text, [m.span() for m in _EMPTY_BRACKETS.finditer(text)], spans)
    text = _delete(text, _blank_cuts(text), spans)
    for span in spans:
        while span[0] < span[1] and text[span[0]].isspace():
            span[0] += 1
        while span[1] > span[0] and text[span[1] - 1].isspace():
            span[1] -= 1
    return text
