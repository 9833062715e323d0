"""Serialise pages as a MediaWiki pages-articles XML export (schema 0.11)."""

from __future__ import annotations

import hashlib
import random
from xml.sax.saxutils import escape, quoteattr

from ._wikipedia import Page

HEADER = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" '
          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
          'xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.11/ '
          'http://www.mediawiki.org/xml/export-0.11.xsd" version="0.11" xml:lang="{lang}">')
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def sha1_base36(text: str) -> str:
    """The revision checksum as MediaWiki writes it: SHA-1 in base 36, 31 digits."""
    number = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = DIGITS[rest] + out
    return out.rjust(31, "0")


def _text(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def export(lang: str, cfg: dict, pages: list) -> str:
    """The dump of `pages`; page ids are drawn so that redirects and targets interleave."""
    rng = random.Random(f"xlmk-sample-world/xml/{lang}")
    ids = sorted(rng.sample(range(1000, 1000 + 40 * len(pages)), len(pages)))
    rng.shuffle(ids)
    numbered = sorted(zip(ids, range(len(pages))), key=lambda pair: pair[0])
    out = [HEADER.format(lang=lang), "  <siteinfo>",
           f"    <sitename>{_text(cfg['sitename'])}</sitename>",
           f"    <dbname>{lang}wiki</dbname>",
           f"    <base>{_text(cfg['base'])}</base>",
           "    <generator>MediaWiki 1.42.0-wmf.5</generator>",
           "    <case>first-letter</case>",
           "    <namespaces>"]
    namespaces = {int(k): v for k, v in cfg["namespaces"].items()}
    namespaces[0] = ""
    for key in sorted(namespaces):
        name = namespaces[key]
        out.append(f'      <namespace key="{key}" case="first-letter">{_text(name)}</namespace>' if name
                   else f'      <namespace key="{key}" case="first-letter" />')
    out += ["    </namespaces>", "  </siteinfo>"]
    for page_id, index in numbered:
        page: Page = pages[index]
        rev = page_id * 13 + 7
        day = 1 + rng.randrange(28)
        stamp = f"2024-{1 + rng.randrange(12):02d}-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
        editor = rng.randrange(1, 40)
        out += ["  <page>", f"    <title>{_text(page.title)}</title>", f"    <ns>{page.ns}</ns>", f"    <id>{page_id}</id>"]
        if page.redirect is not None:
            out.append(f"    <redirect title={quoteattr(page.redirect)} />")
        out += ["    <revision>", f"      <id>{rev}</id>", f"      <timestamp>{stamp}</timestamp>", "      <contributor>",
                f"        <username>SampleEditor{editor}</username>", f"        <id>{9000 + editor}</id>",
                "      </contributor>",
                "      <model>wikitext</model>", "      <format>text/x-wiki</format>",
                f'      <text bytes="{len(page.text.encode("utf-8"))}" xml:space="preserve">{_text(page.text)}</text>',
                f"      <sha1>{sha1_base36(page.text)}</sha1>", "    </revision>", "  </page>"]
    out.append("</mediawiki>")
    return "\n".join(out) + "\n"
