"""Wikitext -> cleaned text with the character offsets of every kept article link.

mwparserfromhell's C tokenizer splits the wikitext into balanced tokens (a regex pass cannot tell a
link inside a template or a `<ref>` from one outside when they nest). This module walks that token
list directly instead of building mwparserfromhell's node tree (the tree builder is pure Python and
costs about ten times the tokenizer), and writes what a reader would see: templates, parser
functions, references, tables, comments, galleries and maths disappear; bold, italics, spans and
other inline tags keep their text; a `[[target|text]]` link keeps its text and, when the target is
an article, its offsets in the cleaned text. File, category and interlanguage links vanish with
their captions (MediaWiki does not show them in the text); interwiki links and links to other
namespaces keep their text but are not mentions.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress, count, repeat
from operator import is_not

from xlmk.knowledge.tidy import tidy
from xlmk.knowledge.titles import ARTICLE, SiteInfo, classify_target

# Tags whose content is not running text of the article.
DROP_TAGS = frozenset(
    """ref references math chem ce score syntaxhighlight source pre gallery imagemap timeline graph
    mapframe maplink templatedata templatestyles categorytree hiero inputbox charinsert section
    indicator table includeonly style script""".split()
)
BLOCK_TAGS = frozenset("p div li ul ol dl dd dt blockquote center h1 h2 h3 h4 h5 h6 tr td th poem".split())
LIST_MARKUP = frozenset(["*", "#", ";", ":", "----"])
_MAGIC_WORD = re.compile(r"__[A-Z]{3,}__")
_APOSTROPHES = re.compile(r"'{2,}")
_STRAY_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
# Language-converter markup (zh, sr, kk …): -{zh-hans:A;zh-hant:B}- or -{text}- or -{H|rules}-.
_VARIANT = re.compile(r"-\{(.*?)\}-", re.S)
_VARIANT_RULE = re.compile(r"^\s*[a-z]{2,3}(?:-[a-z0-9]+)*\s*:")


def _variant_text(match: re.Match) -> str:
    body = match.group(1)
    flags, sep, rest = body.partition("|")
    if sep and re.fullmatch(r"\s*[A-Za-z\-;]{1,6}\s*", flags):
        if any(f in flags for f in "HT-"):  # rule definitions and title rules show nothing
            return ""
        body = rest
    if _VARIANT_RULE.match(body):
        first = body.split(";", 1)[0]
        return first.split(":", 1)[1]
    return body


def convert_variants(wikitext: str) -> str:
    """Resolve language-converter markup to its first variant (or its literal text)."""
    return _VARIANT.sub(_variant_text, wikitext) if "-{" in wikitext else wikitext


def _apostrophes(m: re.Match) -> str:
    n = len(m.group(0))  # 2 italic, 3 bold, 5 both; a 4th or 6th+ apostrophe is a literal one
    return "'" if n == 4 else "'" * (n - 5) if n > 5 else ""


def _visible(text: str) -> str:
    if "''" in text:
        text = _APOSTROPHES.sub(_apostrophes, text)
    if "__" in text:
        text = _MAGIC_WORD.sub("", text)
    if "<" in text:  # an unclosed or unknown tag stays text in the tokenizer; it is not prose
        text = _STRAY_TAG.sub("", text)
    return text


@dataclass
class CleanPage:
    """Cleaned text plus spans into it: article links (start, end, title) and headings (start, end)."""

    text: str
    links: list[tuple[int, int, str]] = field(default_factory=list)
    headings: list[tuple[int, int]] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)

    @property
    def intro_end(self) -> int:
        return self.headings[0][0] if self.headings else len(self.text)


# One line of a page's hidden tail: a link or a template with nothing inside that could open or close
# anything else (no brackets, braces, tags, entities, quotes or signatures).
_TAIL_LINE = re.compile(r"[ \t]*(?:\[\[([^\[\]{}<>|&'~\n]+)\]\]"
                        r"|\{\{[ \t]*[^\s\[\]{}<>|&'~][^\[\]{}<>|&'~\n]*(?:\|[^\[\]{}<>&'~\n]*)?\}\})[ \t]*")
HIDDEN_LINKS = frozenset(["file", "category", "interlanguage"])
# A page's hidden head: templates at its very start ({{Short description|…}}, {{Use dmy dates}}, a simple
# infobox), each followed by a line break. A template's name is as in the tail; its parameters, one per
# line or on one line, hold text and (after the key) links and one-line templates, but no tag, comment,
# bracket or brace of their own, so each one closes where its braces say and nothing in it stays open.
_TEMPLATE_NAME = r"[ \t]*[^\s\[\]{}<>|&'~][^\[\]{}<>|&'~\n]*"
_INLINE_TEMPLATE = rf"\{{\{{{_TEMPLATE_NAME}(?:\|[^\[\]{{}}<>&'~\n]*)?\}}\}}"
_INLINE_LINK = r"\[\[[^\[\]{}<>|&'~\n]+(?:\|[^\[\]{}<>&~\n]*)?\]\]"
# A parameter's key (before its first =) and a positional parameter are plain text: the tokenizer does not
# take {{a|{{b}}{{c}}=d}} for a template.
_HEAD_PARAM = (rf"\|(?:[^\[\]{{}}<>~\n=|]*=(?:[^\[\]{{}}<>~\n|]|{_INLINE_LINK}|{_INLINE_TEMPLATE})*"
               rf"|[^\[\]{{}}<>~\n=|]*)\n?")
_HEAD = re.compile(rf"(?:[ \t\n]*\{{\{{{_TEMPLATE_NAME}\n?(?:{_HEAD_PARAM})*\}}\}}[ \t]*(?=\n))+")


def _hidden_tail(text: str, site: SiteInfo) -> tuple[int, list[str]]:
    """Where the page's hidden tail starts, and the kinds of the links in it.

    Pages end with lines that show nothing: category and interlanguage links, {{DEFAULTSORT:…}},
    navigation boxes. When every line after some newline is blank, or one such link or template and
    nothing else, the tokenizer never needs to see them: they hold no opener that could pair with
    anything before them (the line pattern admits no bracket, brace or tag inside), so the text before
    tokenizes the same, and they show nothing. Their links are still counted as the walk counts them."""
    end, start, kinds = len(text), len(text), []
    while end > 0:
        nl = text.rfind("\n", 0, end)
        line = text[nl + 1:end]
        if line and not line.isspace():
            m = _TAIL_LINE.fullmatch(line)
            if m is None:
                break
            if m.group(1) is not None:
                target = _target(m.group(1), site)
                if target.kind not in HIDDEN_LINKS or target.colon:
                    break
                kinds.append(target.kind)
        start = nl + 1
        if nl == -1:
            break
        end = nl
    kinds.reverse()
    return start, kinds


def _hidden_head(text: str, tail: int) -> int:
    """Where the text after the page's hidden head starts (at the line break that ends it; 0: no head).

    The templates of the head show nothing and close where their braces say; what follows starts on a
    new line either way, so it tokenizes as it would after them."""
    m = _HEAD.match(text, 0, tail) if text.startswith(("{", " ", "\t", "\n")) else None
    return m.end() if m is not None else 0


def _target(raw: str, site: SiteInfo):
    """The link target `raw` classified, through the site's bounded cache."""
    cache = site.targets  # popular targets recur across pages
    target = cache.get(raw)
    if target is None:
        if len(cache) > 200_000:  # bounded: a worker sees millions of distinct targets
            cache.clear()
        target = cache[raw] = classify_target(raw, site)
    return target


def clean_wikitext(wikitext: str, site: SiteInfo) -> CleanPage:
    """Tokenize one page's wikitext and return its cleaned text with link and heading spans."""
    text = convert_variants(wikitext)
    tail, tail_links = _hidden_tail(text, site)
    head = _hidden_head(text, tail)
    # skip_style_tags=True: bold and italic quotes stay in the text, where _visible drops them
    tokens = _tokenizer().tokenize(text[head:tail] if head or tail < len(text) else text, 0, True)
    walker = _TokenWalker(tokens, site)
    walker.walk(0, len(tokens), in_link=False)
    for kind in tail_links:
        walker.stats["links_" + kind] += 1
    links, headings = walker.links, walker.headings
    spans = [[s, e] for s, e, _ in links] + [[s, e] for s, e in headings]
    text = tidy("".join(walker.parts), spans)
    kept = []
    for (s, e), (_, _, title) in zip(spans, links):
        if s < e:
            kept.append((s, e, title))
        else:
            walker.stats["links_empty_text"] += 1
    return CleanPage(text, kept, [(s, e) for s, e in spans[len(links):]], walker.stats)


_TOKENIZER = None


def _tokenizer():
    """mwparserfromhell's C tokenizer (its pure-Python twin where the extension is missing)."""
    global _TOKENIZER
    if _TOKENIZER is None:
        from mwparserfromhell import parser

        if parser.use_c:
            _TOKENIZER = parser.CTokenizer()
        else:
            from mwparserfromhell.parser.tokenizer import Tokenizer

            _TOKENIZER = Tokenizer()
    return _TOKENIZER


class _Kinds:
    """mwparserfromhell's token classes and the tables that pair them, looked up once per process."""

    def __init__(self) -> None:
        from mwparserfromhell.parser import tokens as T

        self.text, self.link, self.entity, self.tag = T.Text, T.WikilinkOpen, T.HTMLEntityStart, T.TagOpenOpen
        self.heading, self.external = T.HeadingStart, T.ExternalLinkOpen
        self.hidden = frozenset([T.TemplateOpen, T.ArgumentOpen, T.CommentStart])  # not visible prose
        self.entity_parts = {T.HTMLEntityStart: "&", T.HTMLEntityNumeric: "#", T.HTMLEntityEnd: ";"}
        self.entity_hex = T.HTMLEntityHex
        self.comment = T.CommentStart
        self.opens = {T.TemplateOpen: T.TemplateClose, T.ArgumentOpen: T.ArgumentClose,
                      T.WikilinkOpen: T.WikilinkClose, T.ExternalLinkOpen: T.ExternalLinkClose,
                      T.HeadingStart: T.HeadingEnd, T.CommentStart: T.CommentEnd,
                      T.HTMLEntityStart: T.HTMLEntityEnd, T.TagOpenOpen: T.TagCloseClose}
        self.closes = {v: k for k, v in self.opens.items()}
        self.closes[T.TagCloseSelfclose] = T.TagOpenOpen
        self.seps = frozenset([T.WikilinkSeparator, T.ExternalLinkSeparator])
        self.body_open, self.body_close = T.TagCloseOpen, T.TagOpenClose


_KINDS: _Kinds | None = None


def _kinds() -> _Kinds:
    global _KINDS
    if _KINDS is None:
        _KINDS = _Kinds()
    return _KINDS


class _TokenWalker:
    """Writes the visible text of a balanced token list; `match[i]` closes the construct opened at i."""

    def __init__(self, tokens, site: SiteInfo) -> None:
        self.K = K = _kinds()
        self.toks, self.site = tokens, site
        self.parts: list[str] = []
        self.length = 0
        self.links: list[tuple[int, int, str]] = []
        self.headings: list[tuple[int, int]] = []
        self.stats: Counter = Counter()
        self.match: dict[int, int] = {}
        self.sep: dict[int, int] = {}  # first separator of a wiki or external link
        self.body: dict[int, list[int]] = {}  # tag -> [TagCloseOpen, TagOpenClose]
        opens, closes, seps, match = K.opens, K.closes, K.seps, self.match
        body_open, body_close, text_cls = K.body_open, K.body_close, K.text
        stack: list[int] = []
        classes = list(map(type, tokens))
        for i in compress(count(), map(is_not, classes, repeat(text_cls))):  # text (half) pairs nothing
            cls = classes[i]
            if cls in opens:
                stack.append(i)
            elif cls in closes:
                want = closes[cls]
                while stack and classes[stack[-1]] is not want:
                    stack.pop()  # never happens with the tokenizer's balanced output
                if stack:
                    match[stack.pop()] = i
            elif not stack:
                continue
            elif cls in seps:
                self.sep.setdefault(stack[-1], i)
            elif cls is body_open:
                self.body.setdefault(stack[-1], [i, i])
            elif cls is body_close and stack[-1] in self.body:
                self.body[stack[-1]][1] = i

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.length += len(text)

    def walk(self, i: int, end: int, in_link: bool) -> None:
        K, toks, parts, match = self.K, self.toks, self.parts, self.match
        text_cls, link_cls, tag_cls, hidden = K.text, K.link, K.tag, K.hidden
        while i < end:
            tok = toks[i]
            cls = type(tok)
            if cls is text_cls:
                text = tok["text"]
                if "'" in text or "_" in text or "<" in text:
                    text = _visible(text)
                if text:
                    parts.append(text)
                    self.length += len(text)
            elif cls is link_cls:
                j = match.get(i, i)
                if in_link:  # a link inside link text: only its words show
                    sep = self.sep.get(i)
                    self.walk(sep + 1 if sep is not None and sep < j else i + 1, j, True)
                else:
                    self.link(i, j)
                i = j
            elif cls is tag_cls:
                self.tag(i, in_link)
                i = match.get(i, i)
            elif cls in hidden:
                i = match.get(i, i)
            elif cls is K.entity:
                j = match.get(i, i)
                self.add(html.unescape(self.raw(i, j + 1)))
                i = j
            elif cls is K.heading:
                j = match.get(i, i)
                self.add("\n")
                start = self.length
                self.walk(i + 1, j, in_link)
                self.headings.append((start, self.length))
                self.add("\n")
                i = j
            elif cls is K.external:
                j, sep = match.get(i, i), self.sep.get(i)
                if tok.get("brackets") and sep is not None and sep < j:
                    self.walk(sep + 1, j, True)  # [url text] shows its text; a bare URL is noise
                i = j
            i += 1

    def raw(self, i: int, end: int) -> str:
        """Source text of tokens [i, end) as far as a title needs it (text and entities; comments are gone,
        as MediaWiki removes them before it reads links)."""
        K, toks, parts = self.K, self.toks, []
        text_cls, entity_parts, entity_hex, comment = K.text, K.entity_parts, K.entity_hex, K.comment
        while i < end:
            tok = toks[i]
            cls = type(tok)
            if cls is text_cls:
                parts.append(tok["text"])
            elif cls in entity_parts:
                parts.append(entity_parts[cls])
            elif cls is entity_hex:
                parts.append(tok.get("char") or "x")
            elif cls is comment:
                i = self.match.get(i, i)
            else:  # a template or tag inside a title: "{" makes it an invalid title
                parts.append("{")
            i += 1
        return "".join(parts)

    def visible(self, i: int, end: int) -> str:
        """What walk() shows of tokens [i, end), returned instead of written."""
        parts, length = self.parts, self.length
        self.parts, self.length = [], 0
        try:
            self.walk(i, end, True)
            return "".join(self.parts)
        finally:
            self.parts, self.length = parts, length

    def shows_text(self, i: int, end: int) -> bool:
        """Whether tokens [i, end) hold anything but blanks (a link text `[[a| ]]` does not)."""
        text_cls = self.K.text
        return any(type(tok) is not text_cls or not tok["text"].isspace() for tok in self.toks[i:end])

    def tag(self, i: int, in_link: bool) -> None:
        toks = self.toks
        name_tok = toks[i + 1] if i + 1 < len(toks) else None
        name = name_tok["text"].strip().lower() if type(name_tok) is self.K.text else ""
        markup = toks[i].get("wiki_markup")
        if name in DROP_TAGS or markup == "{|":
            self.stats[f"dropped_{name}"] += 1
        elif markup in LIST_MARKUP or name in ("br", "hr"):
            self.add("\n")
        elif i in self.body:
            start, stop = self.body[i]
            if name == "nowiki":
                self.add(html.unescape(self.raw(start + 1, stop)))
                return
            block = name in BLOCK_TAGS
            if block:
                self.add("\n")
            self.walk(start + 1, stop, in_link)
            if block:
                self.add("\n")

    def link(self, i: int, j: int) -> None:
        toks, text_cls = self.toks, self.K.text
        sep = self.sep.get(i)
        title_end = sep if sep is not None and sep < j else j
        first = toks[i + 1] if i + 1 < title_end else None
        # most titles are one text token: its text is what raw() would join
        raw = first["text"] if title_end == i + 2 and type(first) is text_cls else self.raw(i + 1, title_end)
        target = _target(raw, self.site)
        kind = target.kind
        self.stats["links_" + kind] += 1
        if kind in HIDDEN_LINKS and not target.colon:
            return  # rendered as an image, a category or a sidebar entry, not as text
        start = self.length
        label = toks[title_end + 1] if title_end + 2 == j else None
        if type(label) is text_cls:  # most labels are one text token: shown as walk() would show it
            text = label["text"]
            shows = not text.isspace()
            if shows:
                self.add(_visible(text) if "'" in text or "_" in text or "<" in text else text)
        else:
            shows = title_end < j and self.shows_text(title_end + 1, j)
            if shows:
                self.walk(title_end + 1, j, True)
        if not shows:  # shown as typed, minus a leading colon; a template in the title shows nothing
            shown = (html.unescape(raw) if "{" not in raw else self.visible(i + 1, title_end)).strip()
            self.add(shown[1:].lstrip() if shown.startswith(":") else shown)
        if kind == ARTICLE:
            self.links.append((start, self.length, target.title))
