"""The fields of one `<page>` of a pages-articles dump, read without an XML parser when the page has the
layout MediaWiki writes.

ElementTree costs about as much per page as the rest of the page's reading put together on short pages.
MediaWiki's dumps write every page in one layout (title, ns, id, an optional redirect, one revision of
simple elements with the wikitext in `<text>`) and escape text with the five XML entities only, so one
regular expression over the page finds what ElementTree would find. Anything else (a character reference,
a comment, CDATA, `\\r`, a character XML forbids, a second revision, an unknown element with children, a
damaged tag) goes to ElementTree, which reads it or raises the error that names the page as bad XML.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# Names as MediaWiki writes them (ASCII; of prefixed names only the attribute xml:space: a namespace
# declaration or another prefix changes what ElementTree calls the element), and blanks inside a tag.
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_S = "[ \t\n]"
_ATTR = rf"""{_S}+(?!xmlns)(?:{_NAME}|xml:space){_S}*={_S}*(?:"[^"<&]*"|'[^'<&]*')"""
_ATTR_NAME = re.compile(rf"""({_NAME}|xml:space){_S}*={_S}*(?:"[^"]*"|'[^']*')""")
_PAGE_ONLY = "title|ns|redirect|revision"


def _simple(group: str, exclude: str) -> str:
    """An element holding only text (or nothing), with at most one attribute, not named in `exclude`."""
    return rf"<(?!(?:{exclude})[ \t\n/>])(?P<{group}>{_NAME})(?:{_ATTR})?{_S}*(?:/>|>[^<]*</(?P={group})>)"


_LAYOUT = re.compile(
    r"<page>[^<]*"
    r"<title>(?P<title>[^<]*)</title>[^<]*"
    r"(?:<ns>(?P<ns>[^<]*)</ns>[^<]*)?"
    rf"(?:{_simple('p1', _PAGE_ONLY)}[^<]*)*"
    rf'(?:<redirect(?:{_S}+title{_S}*={_S}*"(?P<target>[^"<]*)")?{_S}*/>[^<]*'
    rf"(?:{_simple('p2', _PAGE_ONLY)}[^<]*)*)?"
    r"<revision>[^<]*"
    rf"(?:(?:{_simple('r1', 'text|contributor')}|<contributor(?:{_ATTR})?{_S}*(?:/>|>[^<]*"
    rf"(?:{_simple('c', 'contributor')}[^<]*)*</contributor>))[^<]*)*"
    rf"<text(?P<attrs>(?:{_ATTR})*){_S}*(?:/>|>(?P<text>[^<]*)</text>)[^<]*"
    rf"(?:{_simple('r2', 'text')}[^<]*)*"
    r"</revision>[^<]*"
    rf"(?:{_simple('p3', _PAGE_ONLY)}[^<]*)*"
    r"</page>")
# Only `&` + one of the five entities may stand outside a tag; a character reference goes to the parser.
_BAD_AMP = re.compile("&(?!(?:lt|gt|amp|quot|apos);)")
# Bytes XML 1.0 forbids, and \r (which XML reads as \n): found by deleting them (faster than a search).
_CONTROL = bytes(c for c in range(32) if c not in (9, 10))


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


def _layout_parts(raw: bytes, page: str):
    """What `_tree_parts` would return, or None where the page is not in MediaWiki's layout."""
    if (len(raw.translate(None, _CONTROL)) != len(raw) or "]]>" in page or "\ufffe" in page
            or "\uffff" in page or ("&" in page and _BAD_AMP.search(page))):
        return None
    m = _LAYOUT.fullmatch(page)
    if m is None:
        return None
    attrs = m["attrs"]
    if attrs.count("=") > 1:  # a repeated attribute is an XML error
        names = _ATTR_NAME.findall(attrs)
        if len(set(names)) != len(names):
            return None
    target, ns, text = m["target"], m["ns"], m["text"]
    if target is not None:  # XML reads a tab or newline in an attribute value as a space
        target = _unescape(target.replace("\t", " ").replace("\n", " "))
    return (_unescape(m["title"]), None if ns is None else _unescape(ns), target,
            "" if text is None else _unescape(text))  # <text/>: ElementTree's findtext gives ""


def _tree_parts(page: str):
    """(title text, ns text, redirect title, last revision's text) as ElementTree reads them (None where
    absent); raises ET.ParseError for bad XML."""
    elem = ET.fromstring(page)
    revisions = elem.findall("revision")
    redirect = elem.find("redirect")
    return (elem.findtext("title"), elem.findtext("ns"), redirect.get("title") if redirect is not None else None,
            revisions[-1].findtext("text") if revisions else None)


def page_parts(raw: bytes):
    """(title text, ns text, redirect title, last revision's text) of one `<page>` (None where absent).

    Raises UnicodeDecodeError for bytes that are not UTF-8 and ET.ParseError for bad XML."""
    page = raw.decode("utf-8")
    parts = _layout_parts(raw, page)
    return _tree_parts(page) if parts is None else parts
