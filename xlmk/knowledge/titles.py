"""Link-target normalisation as MediaWiki does it, and the classification of a `[[target]]`.

A wikilink's target is decoded (HTML entities, percent-encoding), its spaces and underscores are
collapsed, its `#section` is dropped and its first letter upper-cased when the site's `case` is
`first-letter`; its prefix decides whether it is an article, a file, a category, an interlanguage or
interwiki link, or a page in another namespace. Page titles in dumps and Wikidata sitelinks are
already in this normal form, so both sides of a lookup agree.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import unquote

from xlmk.knowledge.sites import (
    CANONICAL_NAMESPACES,
    INTERWIKI_PREFIXES,
    NAMESPACE_ALIASES,
    WIKIPEDIA_LANGUAGES,
)

# MediaWiki's Title::newFromText collapses these to one underscore (shown as a space).
_SPACES = re.compile(r"[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_DIRECTION_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e]")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# Characters a title may not hold (MediaWiki $wgLegalTitleChars complement), plus controls.
_ILLEGAL = re.compile(r"[#<>\[\]|{}\x00-\x1f\x7f\ufffd]")

ARTICLE = "article"


@dataclass(frozen=True)
class SiteInfo:
    """What link normalisation needs to know about one wiki (from the dump's <siteinfo>)."""

    lang: str
    dbname: str | None = None
    case: str = "first-letter"
    namespaces: dict[str, int] = field(default_factory=dict)  # lower-cased local names -> number
    languages: frozenset[str] = WIKIPEDIA_LANGUAGES
    # raw link target -> Target, filled by the wikitext walker; not part of the site's identity
    targets: dict = field(default_factory=dict, compare=False, repr=False)

    def namespace_of(self, prefix: str) -> int | None:
        key = prefix.lower()
        for table in (self.namespaces, CANONICAL_NAMESPACES, NAMESPACE_ALIASES):
            if key in table:
                return table[key]
        return None


class Target(NamedTuple):
    """A classified link target: `kind` is article, self, file, media, category, interlanguage,
    interwiki, namespace (any other namespace) or invalid; `title` is normalised for articles."""

    kind: str
    title: str
    colon: bool = False


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", _DIRECTION_MARKS.sub("", text)).strip()


def upper_first(title: str, case: str) -> str:
    if case == "first-letter" and title:
        return title[0].upper() + title[1:]
    return title


def classify_target(raw: str, site: SiteInfo) -> Target:
    """Normalise a wikilink target and say what kind of link it is."""
    text = html.unescape(raw)
    if "%" in text and _PERCENT.search(text):
        try:
            text = unquote(text, errors="strict")
        except UnicodeDecodeError:  # not UTF-8 after decoding: MediaWiki keeps the raw form too
            pass
    text = collapse_spaces(text)
    colon = text.startswith(":")
    if colon:
        text = collapse_spaces(text[1:])
    text = text.split("#", 1)[0].rstrip() if "#" in text else text
    if not text:
        return Target("self", "", colon)
    if ":" in text:
        prefix, rest = text.split(":", 1)
        prefix = prefix.strip()
        ns = site.namespace_of(prefix)
        if ns is not None and ns != 0:
            kind = {6: "file", -2: "media", 14: "category"}.get(ns, "namespace")
            return Target(kind, collapse_spaces(rest), colon)
        low = prefix.lower()
        if low in site.languages:
            return Target("interlanguage", collapse_spaces(rest), colon)
        if low in INTERWIKI_PREFIXES:
            return Target("interwiki", collapse_spaces(rest), colon)
    if _ILLEGAL.search(text):
        return Target("invalid", text, colon)
    return Target(ARTICLE, upper_first(text, site.case), colon)


def normalise_title(raw: str, site: SiteInfo) -> str | None:
    """The article title a link or redirect target points at, or None if it is not an article."""
    target = classify_target(raw, site)
    return target.title if target.kind == ARTICLE else None
