"""wikiextractor JSON output (`--json --links`) -> the same work shards as the XML path.

Each line is one article: {"id", "revid", "url", "title", "text"}, where links survive as
`<a href="URL-quoted%20target">anchor</a>`. wikiextractor has already dropped templates, refs and
redirect pages, so there is nothing to resolve redirects with: a link to a redirect stays unresolved.
It also writes section titles as plain lines, so the description is simply the start of the text.
"""
from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

from xlmk.knowledge.malformed import problem
from xlmk.knowledge.sentences import sentences_of_spans
from xlmk.knowledge.titles import ARTICLE, SiteInfo, classify_target
from xlmk.knowledge.wikipedia import description_text, write_work_shards

_ANCHOR = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)


def input_files(path: Path) -> list[Path]:
    """The output files of a wikiextractor run (a file, or a directory tree such as AA/wiki_00)."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))


def clean_extracted(text: str, site: SiteInfo, stats: Counter) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text and article links (start, end, title) from wikiextractor's text with anchors."""
    parts, links, length, pos = [], [], 0, 0
    for m in _ANCHOR.finditer(text):
        before = html.unescape(text[pos:m.start()])
        parts.append(before)
        length += len(before)
        anchor = html.unescape(m.group(2)).strip()
        target = classify_target(unquote(m.group(1)), site)
        stats[f"links_{target.kind}"] += 1
        if target.kind == ARTICLE and anchor:
            links.append((length, length + len(anchor), target.title))
        parts.append(anchor)
        length += len(anchor)
        pos = m.end()
    parts.append(html.unescape(text[pos:]))
    return "".join(parts), links


def process_lines(job: dict) -> dict:
    """One shard of wikiextractor lines -> work shards (runs in a worker); job as for XML pages."""
    site: SiteInfo = job["site"]
    stats: Counter = Counter()
    problems, mentions, descriptions = [], [], []
    for raw, line, offset in job["pages"]:
        try:
            doc = json.loads(raw)
            title, text = doc["title"].strip(), doc["text"]
        except UnicodeDecodeError as exc:
            problems.append(problem("non_utf8", job["path"], line, offset + exc.start,
                                    f"invalid UTF-8 byte: {exc.reason}", raw))
            continue
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(problem("bad_json", job["path"], line, offset, f"{type(exc).__name__}: {exc}", raw))
            continue
        stats["pages"] += 1
        stats["articles"] += 1
        first, _, rest = text.partition("\n")
        if first.strip() == title:  # some wikiextractor versions repeat the title as the first line
            text = rest
        plain, links = clean_extracted(text.strip(), site, stats)
        spans = [(s, e) for s, e, _ in links]
        for (s, e, target), sent in zip(links, sentences_of_spans(plain, site.lang, spans)):
            if sent is not None:
                mentions.append((title, plain[sent[0]:sent[1]], s - sent[0], e - sent[0], target))
        desc = description_text(plain, [], site.lang, job["description_chars"])
        if desc:
            descriptions.append((title, desc))
        else:
            stats["articles_without_text"] += 1
    write_work_shards(Path(job["work_dir"]), job["index"], mentions, descriptions, [])
    stats["mention_candidates"] = len(mentions)
    return {"index": job["index"], "stats": dict(stats), "problems": problems}
