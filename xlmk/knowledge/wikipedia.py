"""MediaWiki pages-articles XML -> unresolved mentions, descriptions and redirects, shard by shard.

The main process only cuts the byte stream at `<page>` … `</page>` (text inside a page cannot hold
those tags: `<` is escaped as `&lt;` there), so a damaged page costs that page only and the work
shards of a page range can be built by any worker. A worker decodes and parses its pages, keeps
namespace-0 pages, records redirects (used later to resolve link targets) and, for articles,
writes the cleaned page's mentions (sentence, offsets, normalised target title) and its description.
Targets are resolved to QIDs afterwards (`xlmk.knowledge.resolve`), once every redirect is known.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Iterator

from xlmk.knowledge.dumps import STREAM_ERRORS
from xlmk.knowledge.malformed import problem
from xlmk.knowledge.sentences import sentence_spans, sentences_of_spans
from xlmk.knowledge.sites import REDIRECT_WORDS, wikipedia_language
from xlmk.knowledge.titles import SiteInfo, normalise_title

BLOCK = 1 << 20
_REDIRECT = re.compile(r"\s*#(?:" + "|".join(map(re.escape, REDIRECT_WORDS)) + r")\s*:?\s*\[\[([^\]|]+)",
                       re.I)


def siteinfo_from_xml(header: bytes, lang: str | None, path: str) -> SiteInfo:
    """Read `<siteinfo>` from the bytes before the first page; `lang` overrides its dbname."""
    from xlmk.errors import DataError

    start, end = header.find(b"<siteinfo>"), header.find(b"</siteinfo>")
    if start == -1 or end == -1:
        if lang is None:
            raise DataError("no <siteinfo> and no language given (use LANG=PATH)", path=path)
        return SiteInfo(lang=lang)
    try:
        info = ET.fromstring(header[start:end + len(b"</siteinfo>")])
    except ET.ParseError as exc:
        raise DataError(f"unreadable <siteinfo>: {exc}", path=path) from None
    dbname = (info.findtext("dbname") or "").strip() or None
    if lang is None:
        lang = wikipedia_language(dbname) if dbname else None
        if lang is None:
            raise DataError(f"siteinfo dbname {dbname!r} is not a Wikipedia; give LANG=PATH", path=path)
    namespaces, case = {}, (info.findtext("case") or "first-letter").strip()
    for ns in info.iter("namespace"):
        key = int(ns.get("key", "0"))
        if ns.text:
            namespaces[ns.text.strip().lower()] = key
        if key == 0 and ns.get("case"):
            case = ns.get("case")
    return SiteInfo(lang=lang, dbname=dbname, case=case, namespaces=namespaces)


class PageStream:
    """Cuts an uncompressed XML byte stream into pages: `header` first, then `pages()`.

    Each page comes with its 1-based line number and uncompressed byte offset; problems (a damaged
    compressed stream, a page cut off at the end) go to `problems` with their location.
    """

    def __init__(self, stream, path: str) -> None:
        self.stream, self.path = stream, path
        self.problems: list[dict] = []
        self.buf = b""
        self.base_offset = 0  # uncompressed offset of buf[0]
        self.base_line = 1  # line number at buf[0] before pages() starts
        self.eof = False
        while not self.eof and b"<page>" not in self.buf:
            self._read()
        cut = self.buf.find(b"<page>")
        self.header = self.buf if cut == -1 else self.buf[:cut]

    def _read(self) -> None:
        try:
            block = self.stream.read1(BLOCK)  # read() would drop what it got before an error
        except STREAM_ERRORS as exc:
            self.problems.append(problem("truncated_stream", self.path, None,
                                         self.base_offset + len(self.buf), f"{type(exc).__name__}: {exc}"))
            block = b""
        if not block:
            self.eof = True
        self.buf += block

    def _line_at(self, pos: int) -> int:
        """Line number at buf[pos]; positions are asked for in increasing order (counted once)."""
        self.line += self.buf.count(b"\n", self.counted, pos)
        self.counted = pos
        return self.line

    def pages(self) -> Iterator[tuple[bytes, int, int]]:
        pos, self.counted, self.line = 0, 0, self.base_line
        while True:
            start = self.buf.find(b"<page>", pos)
            end = self.buf.find(b"</page>", start) if start != -1 else -1
            if end == -1:
                if self.eof:
                    if start != -1:
                        self.problems.append(problem("truncated_page", self.path, self._line_at(start),
                                                     self.base_offset + start, "page without </page>",
                                                     self.buf[start:]))
                    return
                keep = start if start != -1 else max(len(self.buf) - 8, pos)
                self._line_at(keep)
                self.base_offset += keep
                self.buf = self.buf[keep:]
                pos = self.counted = 0
                self._read()
                continue
            line = self._line_at(start)
            end += len(b"</page>")
            yield self.buf[start:end], line, self.base_offset + start
            pos = end


def _page_fields(title: str | None, ns_text: str | None, target: str | None, text: str | None, site: SiteInfo):
    """(title, ns, redirect target or None, wikitext) from what `page_parts` read of a <page>."""
    title = (title or "").strip()
    if ns_text is not None:
        ns = int(ns_text)
    else:  # very old dumps: the namespace only shows as a title prefix
        prefix = title.split(":", 1)[0] if ":" in title else ""
        ns = (site.namespace_of(prefix) or 0) if prefix else 0
    text = text or ""
    if target is None and text.lstrip().startswith("#"):
        m = _REDIRECT.match(text)
        target = m.group(1) if m else None
    return title, ns, target, text


_PROSE_END = re.compile(r"[.!?。！？｡।॥؟۔။።][\"'”’»」』）)\]]*$")


def description_text(text: str, headings: list[tuple[int, int]], lang: str, max_chars: int) -> str:
    """The page's description: its introduction (the text before the first heading), topped up, when the
    introduction is shorter than `max_chars`, with later prose paragraphs (lines that end a sentence, so
    "See also" lists and captions stay out); cut at the last sentence end that fits."""
    first_heading = min((s for s, _ in headings), default=len(text) + 1)
    heading_starts = {s for s, _ in headings}
    paragraphs, pos, size = [], 0, 0
    for line in text.split("\n"):
        start, pos = pos, pos + len(line) + 1
        line = line.strip()
        if not line or start in heading_starts or (start > first_heading and not _PROSE_END.search(line)):
            continue
        paragraphs.append(line)
        size += len(line) + 1
        if size >= max_chars:
            break
    desc = "\n".join(paragraphs)
    if len(desc) <= max_chars:
        return desc
    fits = [e for _, e in sentence_spans(desc, lang) if e <= max_chars]
    return desc[: fits[-1]] if fits else desc[:max_chars]


def process_pages(job: dict) -> dict:
    """Parse one shard of pages and write its work shards; runs in a worker process.

    job: index, path, site (SiteInfo), pages [(bytes, line, offset)], work_dir, description_chars.
    """
    from xlmk.knowledge.page_xml import page_parts
    from xlmk.knowledge.wikitext import clean_wikitext

    site: SiteInfo = job["site"]
    stats: Counter = Counter()
    problems, mentions, descriptions, redirects = [], [], [], []
    for raw, line, offset in job["pages"]:
        try:
            title, ns, target, text = _page_fields(*page_parts(raw), site)
        except UnicodeDecodeError as exc:
            problems.append(problem("non_utf8", job["path"], line + raw.count(b"\n", 0, exc.start),
                                    offset + exc.start, f"invalid UTF-8 byte: {exc.reason}", raw))
            continue
        except (ET.ParseError, ValueError) as exc:
            problems.append(problem("bad_xml", job["path"], line, offset, str(exc), raw))
            continue
        stats["pages"] += 1
        if ns != 0:
            stats["pages_other_namespace"] += 1
            continue
        if target is not None:
            stats["redirects"] += 1
            dst = normalise_title(target, site)
            if dst is not None:
                redirects.append((title, dst))
            continue
        stats["articles"] += 1
        try:
            page = clean_wikitext(text, site)
            held = sentences_of_spans(page.text, site.lang, [(s, e) for s, e, _ in page.links])
        except Exception as exc:  # noqa: BLE001 - one pathological page must not stop a day-long build
            problems.append(problem("unparsable_page", job["path"], line, offset,
                                    f"{title}: {type(exc).__name__}: {exc}", raw))
            continue
        for key, n in page.stats.items():  # Counter.update's Mapping check costs more than this loop
            stats[key] += n
        for (s, e, target_title), sent in zip(page.links, held):
            if sent is None:  # cannot happen: sentences are never cut inside a link
                stats["links_outside_sentence"] += 1
                continue
            ss, se = sent
            mentions.append((title, page.text[ss:se], s - ss, e - ss, target_title))
        desc = description_text(page.text, page.headings, site.lang, job["description_chars"])
        if desc:
            descriptions.append((title, desc))
        else:
            stats["articles_without_text"] += 1
    write_work_shards(Path(job["work_dir"]), job["index"], mentions, descriptions, redirects)
    stats["mention_candidates"] = len(mentions)
    return {"index": job["index"], "stats": dict(stats), "problems": problems}


WORK_COLUMNS = {
    "m": [("page_title", "string"), ("text", "string"), ("start", "int32"), ("end", "int32"),
          ("target", "string")],
    "d": [("title", "string"), ("text", "string")],
    "r": [("src", "string"), ("dst", "string")],
}


def write_work_shards(work: Path, index: int, mentions, descriptions, redirects) -> None:
    """Unresolved shards of one page range: m- (mentions), d- (descriptions), r- (redirects)."""
    import pyarrow as pa

    from xlmk.knowledge.shards import write_table

    for kind, rows in (("m", mentions), ("d", descriptions), ("r", redirects)):
        cols = WORK_COLUMNS[kind]
        data = list(zip(*rows)) if rows else [[] for _ in cols]
        table = pa.table({name: pa.array(col, type=getattr(pa, t)()) for (name, t), col in zip(cols, data)})
        write_table(work / f"{kind}-{index:05d}.parquet", table)
