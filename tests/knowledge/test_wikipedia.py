"""The XML side: siteinfo, cutting pages out of a stream, redirects, descriptions."""
import io

import pytest

import snippets
from xlmk.errors import DataError
from xlmk.knowledge import wikipedia
from xlmk.knowledge.wikipedia import PageStream, description_text, process_pages, siteinfo_from_xml


def test_siteinfo_gives_language_case_and_namespaces():
    xml = snippets.wikipedia_dump(lang="zh-yue", dbname="zh_yuewiki", file="文件", category="分類")
    site = siteinfo_from_xml(PageStream(io.BytesIO(xml), "x").header, None, "x")
    assert (site.lang, site.dbname, site.case) == ("zh-yue", "zh_yuewiki", "first-letter")
    assert site.namespace_of("文件") == 6 and site.namespace_of("分類") == 14 and site.namespace_of("File") == 6
    assert siteinfo_from_xml(b"<mediawiki>", "de", "x").lang == "de"
    with pytest.raises(DataError, match="LANG=PATH"):
        siteinfo_from_xml(b"<mediawiki>", None, "x")
    with pytest.raises(DataError, match="not a Wikipedia"):
        siteinfo_from_xml(snippets.wikipedia_dump(dbname="enwikiquote"), None, "x")


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_pages_are_cut_whatever_the_read_size(monkeypatch, block):
    monkeypatch.setattr(wikipedia, "BLOCK", block)
    xml = snippets.wikipedia_dump()
    stream = PageStream(io.BytesIO(xml), "x")
    pages = list(stream.pages())
    assert len(pages) == len(snippets.ENWIKI_PAGES) and not stream.problems
    for raw, line, offset in pages:
        assert xml[offset:].startswith(raw) and raw.endswith(b"</page>")
        assert xml[:offset].count(b"\n") + 1 == line


def test_pages_on_one_line_and_a_cut_off_last_page():
    xml = snippets.wikipedia_dump().replace(b"\n", b"")
    stream = PageStream(io.BytesIO(xml[: len(xml) - 200]), "x")
    assert len(list(stream.pages())) == len(snippets.ENWIKI_PAGES) - 1
    assert [p["kind"] for p in stream.problems] == ["truncated_page"]


def test_redirects_without_the_redirect_element_and_old_dumps_without_ns(tmp_path):
    pages = [("Old", "#REDIRECT [[new page#Sec]]", 0, None), ("Alt", "#WEITERLEITUNG [[Neu]]", 0, None),
             ("List", "# [[Not a redirect]] item", 0, None), ("Talk:Old", "Chat about [[Old]].", 1, None)]
    xml = snippets.wikipedia_dump(pages).replace(b"    <ns>1</ns>\n", b"")
    stream = PageStream(io.BytesIO(xml), "x")
    site = siteinfo_from_xml(stream.header, None, "x")
    result = process_pages({"index": 0, "path": "x", "site": site, "pages": list(stream.pages()),
                            "work_dir": str(tmp_path), "description_chars": 100})
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "r-00000.parquet").to_pylist() == [
        {"src": "Old", "dst": "New page"}, {"src": "Alt", "dst": "Neu"}]
    assert result["stats"]["articles"] == 1 and result["stats"]["pages_other_namespace"] == 1


def test_description_is_introduction_topped_up_with_prose_and_cut_at_a_sentence():
    text = "Intro one. Intro two.\nHistory\nMore prose here.\nA list item\nThe end is near. Really."
    headings = [(text.index("History"), text.index("History") + 7)]
    assert description_text(text, headings, "en", 1000) == \
        "Intro one. Intro two.\nMore prose here.\nThe end is near. Really."
    assert description_text(text, headings, "en", 30) == "Intro one. Intro two."
    assert description_text("Averyveryverylongwordwithoutanyend", [], "en", 10) == "Averyveryv"
    zh = "北京是首都。上海很大。广州很热。"
    assert description_text(zh, [], "zh", 13) == "北京是首都。上海很大。"


def test_a_page_that_breaks_the_cleaner_is_reported_not_fatal(tmp_path, monkeypatch):
    import xlmk.knowledge.wikitext as wikitext

    real = wikitext.clean_wikitext

    def fragile(text, site):
        if "Unlinked" in text or "no [[Wikidata]]" in text:
            raise RecursionError("too deep")
        return real(text, site)

    monkeypatch.setattr(wikitext, "clean_wikitext", fragile)
    xml = snippets.wikipedia_dump()
    stream = PageStream(io.BytesIO(xml), "x.xml")
    site = siteinfo_from_xml(stream.header, None, "x.xml")
    result = process_pages({"index": 0, "path": "x.xml", "site": site, "pages": list(stream.pages()),
                            "work_dir": str(tmp_path), "description_chars": 100})
    [bad] = result["problems"]
    assert bad["kind"] == "unparsable_page" and "Unlinked page" in bad["message"]
    assert xml[bad["byte_offset"]:].startswith(b"<page>") and result["stats"]["articles"] == 5
