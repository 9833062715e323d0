"""Every Wikipedia dump is a well-formed MediaWiki export holding each wikitext feature that
the knowledge builder has to get right."""
from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET

import pytest

from xlmk.sample_world import LANGUAGES

NS = "{http://www.mediawiki.org/xml/export-0.11/}"
LINK = re.compile(r"\[\[([^\[\]|]+)(?:\|([^\[\]]*))?\]\]")


def _pages(path) -> tuple:
    root = ET.parse(path).getroot()
    assert root.tag == f"{NS}mediawiki" and root.get("version") == "0.11"
    siteinfo = root.find(f"{NS}siteinfo")
    pages = []
    for page in root.findall(f"{NS}page"):
        rev = page.find(f"{NS}revision")
        text = rev.find(f"{NS}text")
        redirect = page.find(f"{NS}redirect")
        pages.append({"title": page.findtext(f"{NS}title"), "ns": int(page.findtext(f"{NS}ns")),
                      "id": int(page.findtext(f"{NS}id")), "text": text.text or "", "bytes": int(text.get("bytes")),
                      "sha1": rev.findtext(f"{NS}sha1"), "model": rev.findtext(f"{NS}model"),
                      "redirect": redirect.get("title") if redirect is not None else None})
    return siteinfo, pages


@pytest.fixture(scope="module")
def dumps(sample_world) -> dict:
    return {lang: _pages(sample_world / "wikipedia" / f"{lang}wiki-sample-pages-articles.xml") for lang in LANGUAGES}


@pytest.fixture(scope="module")
def expected(sample_world) -> dict:
    return json.loads((sample_world / "expected_knowledge.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_siteinfo_and_revisions(dumps, lang):
    siteinfo, pages = dumps[lang]
    assert siteinfo.findtext(f"{NS}dbname") == f"{lang}wiki"
    assert siteinfo.findtext(f"{NS}case") == "first-letter"
    keys = {int(n.get("key")) for n in siteinfo.find(f"{NS}namespaces")}
    assert {0, 1, 4, 6, 10, 14} <= keys
    assert len({p["id"] for p in pages}) == len(pages)
    assert [p["id"] for p in pages] == sorted(p["id"] for p in pages)
    for page in pages:
        assert page["bytes"] == len(page["text"].encode("utf-8"))
        assert page["model"] == "wikitext" and len(page["sha1"]) == 31
    number = int(hashlib.sha1(pages[0]["text"].encode()).hexdigest(), 16)
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    assert pages[0]["sha1"] == digits.rjust(31, "0")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_wikitext_features(dumps, lang):
    siteinfo, pages = dumps[lang]
    names = {int(n.get("key")): n.text or "" for n in siteinfo.find(f"{NS}namespaces")}
    articles = [p for p in pages if p["ns"] == 0 and p["redirect"] is None]
    text = "\n".join(p["text"] for p in articles)
    links = LINK.findall(re.sub(r"\{\{[^{}]*\}\}", "", text))
    targets = [t for t, _ in links]
    assert any(a for _, a in links) and any(not a for _, a in links), "piped and plain links"
    assert any("#" in t for t in targets), "section links"
    assert any("_" in t for t in targets), "underscores"
    assert any("&#" in t or "&amp;" in t for t in targets), "HTML entities"
    assert any(re.search(r"%[0-9A-F]{2}", t) for t in targets), "percent-encoding"
    if lang not in ("ar", "hi"):  # scripts without letter case
        assert any(t[:1].islower() for t in targets if ":" not in t), "lower-case first letters"
    assert re.search(r"\{\{[^{}]*\[\[", text), "a template holding a link"
    assert re.search(r"<ref>[^<]*\[\[", text) and '<ref name="stat" />' in text, "refs holding links"
    assert "[[File:" in text and f"[[{names[6]}:" in text, "file links, canonical and local namespace names"
    assert "[[Category:" in text and f"[[{names[14]}:" in text, "category links, canonical and local names"
    if lang == "en":
        assert "[[Image:" in text
    assert re.search(r"\[\[(fr|zh-yue):", text), "interlanguage links"
    assert "[[wikt:" in text, "interwiki links"
    assert "{| class=\"wikitable\"" in text and "'''" in text and re.search(r"''[^']+''", text)
    assert re.search(r"^== .+ ==$", text, re.M) and "<!--" in text
    redirects = {p["title"]: p["redirect"] for p in pages if p["redirect"] is not None}
    assert any(redirects.get(target) == source for source, target in redirects.items()), "a redirect loop"
    assert any(t in redirects for t in targets), "links to redirects"
    others = [p for p in pages if p["ns"] != 0]
    assert {p["ns"] for p in others} >= {1, 4, 6, 10, 14}
    assert all(LINK.search(p["text"]) for p in others)


@pytest.mark.parametrize("lang", ["ar", "hi", "zh"])
def test_own_scripts_and_punctuation(dumps, lang):
    _, pages = dumps[lang]
    article = next(p for p in pages if p["ns"] == 0 and p["redirect"] is None and p["title"] not in ("Paris",)
                   and "'''" in p["text"])
    lead = article["text"].split("\n\n")[1]
    script = {"ar": r"[\u0600-\u06FF]", "hi": r"[\u0900-\u097F]", "zh": r"[\u4E00-\u9FFF]"}[lang]
    assert re.search(script, lead)
    if lang == "zh":
        assert "。" in lead and ". " not in re.sub(r"<ref.*?</ref>", "", lead)
    if lang == "hi":
        assert "।" in lead


@pytest.mark.parametrize("lang", LANGUAGES)
def test_counts_agree_with_expected_knowledge(dumps, expected, lang):
    _, pages = dumps[lang]
    articles = [p for p in pages if p["ns"] == 0 and p["redirect"] is None]
    assert len(articles) == expected["pages"][lang]["articles"]
    assert len(articles) == expected["descriptions"][lang] + 1  # plus the list page, which has no item
    assert sum(p["redirect"] is not None for p in pages) == expected["pages"][lang]["redirects"]
    assert expected["mentions"][lang] > 1000 and expected["unresolved_links"][lang] >= 4


def test_mention_samples_are_in_their_pages(dumps, expected):
    samples = expected["mention_samples"]
    assert {s["kind"] for s in samples} >= {"plain", "piped", "lower", "lcfirst", "underscore", "percent", "entity",
                                           "section", "redirect", "section_redirect", "site_collision"}
    assert {s["lang"] for s in samples} == set(LANGUAGES)
    for sample in samples:
        _, pages = dumps[sample["lang"]]
        page = next(p for p in pages if p["title"] == sample["page"] and p["ns"] == 0)
        markup = f"[[{sample['target']}]]" if sample["target"] == sample["anchor"] else \
            f"[[{sample['target']}|{sample['anchor']}]]"
        assert markup in page["text"], sample
        assert sample["anchor"] in sample["sentence"]
