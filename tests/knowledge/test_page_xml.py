"""Reading a <page> without the XML parser: the same fields ElementTree reads, or ElementTree's verdict."""
import io
import re
import xml.etree.ElementTree as ET

import pytest

import snippets
from xlmk.knowledge import page_xml
from xlmk.knowledge.page_xml import _layout_parts, _tree_parts, page_parts
from xlmk.knowledge.wikipedia import PageStream

# A page as MediaWiki writes it, with what current dumps add: a redirect, a deleted contributor,
# entities in the title, a text element with several attributes.
PAGE = (b'<page>\n    <title>AT&amp;T &quot;Q&quot; &lt;x&gt;</title>\n    <ns>0</ns>\n    <id>7</id>\n'
        b'    <redirect title="R &amp; B" />\n    <revision>\n      <id>1</id>\n      <parentid>0</parentid>\n'
        b'      <timestamp>2024-01-01T00:00:00Z</timestamp>\n      <contributor deleted="deleted" />\n'
        b'      <contributor>\n        <username>U</username>\n        <id>9</id>\n      </contributor>\n'
        b'      <minor />\n      <comment>c &gt; d</comment>\n      <model>wikitext</model>\n'
        b'      <format>text/x-wiki</format>\n      <text bytes="30" sha1="x=y" xml:space="preserve">'
        b"A [[b]] &amp;amp; &lt;ref&gt;c&lt;/ref&gt; 'q' \"d\" &gt;</text>\n      <sha1>abc</sha1>\n"
        b"    </revision>\n  </page>")

# Each mutation keeps the page readable by ElementTree or makes it bad XML; either way the reader must
# agree with ElementTree. The first group stays in the layout, the second must go to the parser.
IN_LAYOUT = [
    lambda p: p.replace(b"<ns>0</ns>", b""),
    lambda p: p.replace(b'    <redirect title="R &amp; B" />\n', b""),
    lambda p: p.replace(b'<redirect title="R &amp; B" />', b"<redirect />"),
    lambda p: p.replace(b"R &amp; B", b"R\tB\nC"),  # XML reads blanks in attribute values as spaces
    lambda p: re.sub(rb"<text([^>]*)>.*?</text>", rb"<text\1 />", p, flags=re.S),
    lambda p: re.sub(rb"<text([^>]*)>.*?</text>", rb"<text\1></text>", p, flags=re.S),
    lambda p: p.replace(b"<ns>0</ns>", b"<ns></ns>"),  # int("") fails later, as with the parser
    lambda p: p.replace(b"<title>", b"<title> \n "),
    lambda p: p.replace(b"<text bytes", b"<text  bytes = '1' b"),
    lambda p: p.replace(b"[[b]]", "[[中文]] é".encode()),
]
TO_PARSER = [
    lambda p: p.replace(b"<title>", b"<title>&#65;&#x42;"),  # character references
    lambda p: p.replace(b"<text", b"<!-- c --><text"),
    lambda p: p.replace(b"[[b]]", b"<![CDATA[[[x]]]]>"),
    lambda p: p.replace(b"</revision>", b"</revision><revision><text>second</text></revision>"),
    lambda p: p.replace(b"<title>", b"<title><b>x</b>"),
    lambda p: p.replace(b"<title>", b"<ttl>t</ttl><title>"),
    lambda p: p.replace(b"</page>", b"</page >"),
    lambda p: p.replace(b"<text bytes", b'<text xmlns="urn:x" bytes'),  # the element is no longer "text"
    lambda p: p.replace(b"\n", b"\r\n"),  # XML reads \r\n as \n
    # bad XML, each of which the parser must see
    lambda p: p.replace(b"</title>", b"</titel>"),
    lambda p: p.replace(b"&lt;ref", b"<ref"),
    lambda p: p.replace(b"&lt;ref", b"&bogus;ref"),
    lambda p: p.replace(b"[[b]]", b"[[b]]>"),
    lambda p: p.replace(b"[[b]]", b"]]>"),
    lambda p: p.replace(b"[[b]]", b"\x01"),
    lambda p: p.replace(b"[[b]]", "\ufffe".encode()),
    lambda p: p.replace(b'sha1="x=y"', b'sha1="x" sha1="y"'),
    lambda p: p.replace(b"<text bytes", b"<text\xc2\xa0bytes"),
    lambda p: p.replace(b"<title>", b"<title>&amp"),
    lambda p: p.replace(b"</text>", b"</text></text>"),
]


def _read(fn, raw):
    try:
        return fn(raw)
    except ET.ParseError:
        return "bad xml"


@pytest.mark.parametrize("mutate", [lambda p: p] + IN_LAYOUT + TO_PARSER)
def test_the_page_reader_agrees_with_elementtree(mutate):
    raw = mutate(PAGE)
    assert raw != PAGE or mutate(b"") == b""
    assert _read(page_parts, raw) == _read(lambda r: _tree_parts(r.decode()), raw)


def test_only_pages_in_the_layout_skip_the_parser():
    assert _layout_parts(PAGE, PAGE.decode()) == (
        'AT&T "Q" <x>', "0", "R & B", "A [[b]] &amp; <ref>c</ref> 'q' \"d\" >")
    for mutate in IN_LAYOUT:
        raw = mutate(PAGE)
        assert _layout_parts(raw, raw.decode()) is not None, raw
    for mutate in TO_PARSER:
        raw = mutate(PAGE)
        assert _layout_parts(raw, raw.decode()) is None, raw


def test_every_test_dump_page_is_read_in_the_layout(monkeypatch):
    calls = []
    monkeypatch.setattr(page_xml, "_tree_parts", lambda page: calls.append(page))
    pages = list(PageStream(io.BytesIO(snippets.wikipedia_dump()), "x").pages())
    assert [page_parts(raw)[0] for raw, _, _ in pages] == [t for t, _, _, _ in snippets.ENWIKI_PAGES]
    assert calls == []


def test_bytes_that_are_not_utf8_raise_before_any_reading():
    with pytest.raises(UnicodeDecodeError):
        page_parts(PAGE.replace(b"[[b]]", b"\xe9"))


# A page as the 2024 dumps (export format 0.11) write it: parentid, minor, a comment holding wikilinks,
# origin, and a redirect whose text also holds templates.
DUMP_PAGE = b'''<page>
    <title>AccessibleComputing</title>
    <ns>0</ns>
    <id>10</id>
    <redirect title="Computer accessibility" />
    <revision>
      <id>1219062925</id>
      <parentid>1219062840</parentid>
      <timestamp>2024-04-15T14:38:04Z</timestamp>
      <contributor>
        <username>Asparagusus</username>
        <id>43603280</id>
      </contributor>
      <minor />
      <comment>Restored revision 1002250816 by [[Special:Contributions/Elli|Elli]]: unexplained</comment>
      <origin>1219062925</origin>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="111" sha1="kmysdltgexdwkv2xsml3j44jb56dxvn" xml:space="preserve">#REDIRECT [[Computer accessibility]]

{{rcat shell|
{{R from move}}
}}</text>
      <sha1>kmysdltgexdwkv2xsml3j44jb56dxvn</sha1>
    </revision>
  </page>'''


@pytest.mark.parametrize("variant", [
    lambda p: p,
    lambda p: re.sub(rb"<contributor>.*?</contributor>", b"<contributor>\n        <ip>192.0.2.1</ip>\n      </contributor>",
                     p, flags=re.S),
    lambda p: re.sub(rb"<comment>.*?</comment>", b'<comment deleted="deleted" />', p).replace(
        b'<text bytes="111"', b'<text bytes="0" deleted="deleted"'),
])
def test_pages_of_current_dumps_are_read_in_the_layout(variant):
    raw = variant(DUMP_PAGE)
    parts = _layout_parts(raw, raw.decode())
    assert parts is not None and parts == _tree_parts(raw.decode())
    assert parts[:3] == ("AccessibleComputing", "0", "Computer accessibility")
