"""Small inputs in the real dump layouts, each rule of knowledge construction exercised once."""
from __future__ import annotations

import json


def _item(qid, sitelinks, claims=None, label=None):
    return {
        "type": "item", "id": qid,
        "labels": {"en": {"language": "en", "value": label or qid}},
        "descriptions": {}, "aliases": {},
        "claims": claims or {},
        "sitelinks": {site: {"site": site, "title": title, "badges": []} for site, title in sitelinks.items()},
        "lastrevid": 1,
    }


def _statement(pid, value=None, *, snaktype="value", datatype="wikibase-item", rank="normal", qualifiers=None):
    snak = {"snaktype": snaktype, "property": pid, "datatype": datatype}
    if snaktype == "value":
        if datatype == "wikibase-item":
            num = int(value[1:])
            snak["datavalue"] = {"value": {"entity-type": "item", "numeric-id": num, "id": value},
                                 "type": "wikibase-entityid"}
        elif datatype == "time":
            snak["datavalue"] = {"value": {"time": value, "precision": 11}, "type": "time"}
        elif datatype == "wikibase-property":
            snak["datavalue"] = {"value": {"entity-type": "property", "numeric-id": int(value[1:]),
                                           "id": value}, "type": "wikibase-entityid"}
        else:
            snak["datavalue"] = {"value": value, "type": "string"}
    st = {"mainsnak": snak, "type": "statement", "id": f"X${pid}", "rank": rank, "references": []}
    if qualifiers:
        st["qualifiers"] = qualifiers
        st["qualifiers-order"] = list(qualifiers)
    return st


QUALIFIER = {"P580": [{"snaktype": "value", "property": "P580", "datatype": "wikibase-item",
                       "datavalue": {"value": {"entity-type": "item", "numeric-id": 9, "id": "Q9"},
                                     "type": "wikibase-entityid"}}]}

ENTITIES = [
    _item("Q42", {"enwiki": "Douglas Adams", "dewiki": "Douglas Adams", "zh_yuewiki": "道格拉斯·亞當斯",
                  "commonswiki": "Category:Douglas Adams", "enwikiquote": "Douglas Adams",
                  "specieswiki": "Douglas Adams", "metawiki": "Douglas Adams"},
          {"P69": [_statement("P69", "Q691283", qualifiers=QUALIFIER),
                   _statement("P69", "Q4", rank="deprecated")],
           "P19": [_statement("P19", snaktype="somevalue")],
           "P20": [_statement("P20", snaktype="novalue")],
           "P569": [_statement("P569", "+1952-03-11T00:00:00Z", datatype="time")],
           "P18": [_statement("P18", "Adams.jpg", datatype="commonsMedia")],
           "P1412": [_statement("P1412", "Q1860", rank="preferred")]},
          label="Douglas Adams"),
    _item("Q691283", {"enwiki": "St John's College, Cambridge", "enwikiquote": "St John's"},
          {"P31": [_statement("P31", "Q5")]}),
    _item("Q1860", {"enwiki": "English language", "dewiki": "Englische Sprache"}),
    _item("Q5", {"enwiki": "Human"}),
    _item("Q100", {"enwiki": "AT&T", "enwikibooks": "AT&T"}),
    _item("Q101", {"enwiki": "Étoile"}),
    {"type": "property", "id": "P69", "datatype": "wikibase-item",
     "labels": {"en": {"language": "en", "value": "educated at"}, "de": {"language": "de", "value": "besuchte"}},
     "claims": {"P1647": [_statement("P1647", "P31", datatype="wikibase-property")]}},
    {"type": "property", "id": "P1412", "datatype": "wikibase-item",
     "labels": {"de": {"language": "de", "value": "Sprache"}}, "claims": {}},
]


def wikidata_dump(entities=ENTITIES) -> bytes:
    """The JSON-array-one-entity-per-line layout of latest-all.json."""
    body = ",\n".join(json.dumps(e, ensure_ascii=False) for e in entities)
    return ("[\n" + body + "\n]\n").encode("utf-8")


SITEINFO = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="{lang}">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>{dbname}</dbname>
    <base>https://{lang}.wikipedia.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.42.0-wmf.5</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="-2" case="first-letter">Media</namespace>
      <namespace key="0" case="first-letter" />
      <namespace key="1" case="first-letter">Talk</namespace>
      <namespace key="6" case="first-letter">{file}</namespace>
      <namespace key="10" case="first-letter">Template</namespace>
      <namespace key="14" case="first-letter">{category}</namespace>
    </namespaces>
  </siteinfo>
"""


def page(title, text="", ns=0, redirect=None, pid=1):
    from xml.sax.saxutils import escape, quoteattr

    red = f"\n    <redirect title={quoteattr(redirect)} />" if redirect else ""
    return f"""  <page>
    <title>{escape(title)}</title>
    <ns>{ns}</ns>
    <id>{pid}</id>{red}
    <revision>
      <id>{pid}00</id>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="{len(text.encode())}" xml:space="preserve">{escape(text)}</text>
      <sha1>x</sha1>
    </revision>
  </page>
"""


ADAMS = """{{Short description|English writer}}
{{Infobox writer|name=[[Douglas Adams]]|alma_mater=[[St John's College, Cambridge]]}}
'''Douglas Noel Adams''' (11 March 1952 – 11 May 2001) was an [[english language|English]] author,\
<ref>{{cite web|url=http://x.org|title=[[Human]]}}</ref> educated at \
[[St_John's_College,_Cambridge#History|St John's College]]. He wrote in [[English language]].<ref name="a"/>
[[File:Douglas adams portrait.jpg|thumb|Adams in [[English language|England]]]]
[[Category:English writers]] [[de:Douglas Adams]] [[wikt:author|author]] [[:Category:Writers|writers]]
He joined [[AT&amp;T]] and [[%C3%89toile|the star]]. He met [[human]]s.<!-- [[Human]] -->

== Career ==
{| class="wikitable"
| [[Human]] || cell
|}
Adams was [[Adams|himself]]. See [[DNA (author)|DNA]] and [[Loop A]] and [[No such page]].
A [[#Career|section link]] and [[Talk:Douglas Adams|talk]] and [[Template:Foo]].
"""

ENWIKI_PAGES = [
    ("Douglas Adams", ADAMS, 0, None),
    ("Adams", "#REDIRECT [[Douglas Adams]]", 0, "Douglas Adams"),
    ("DNA (author)", "#REDIRECT [[Adams]]", 0, "Adams"),
    ("Loop A", "#REDIRECT [[Loop B]]", 0, "Loop B"),
    ("Loop B", "#REDIRECT [[Loop A]]", 0, "Loop A"),
    ("Talk:Douglas Adams", "Talk about [[Human]].", 1, None),
    ("St John's College, Cambridge", "'''St John's College''' is a college of the [[University of Cambridge]]. "
     "It taught [[Douglas Adams]].", 0, None),
    ("Unlinked page", "An article with no [[Wikidata]] item.", 0, None),
    ("English language", "{{Infobox}}\n'''English''' is a language. It is spoken by [[human]]s.", 0, None),
    ("Human", "", 0, None),
]


def wikipedia_dump(pages=ENWIKI_PAGES, lang="en", dbname=None, file="File", category="Category") -> bytes:
    head = SITEINFO.format(lang=lang, dbname=dbname or f"{lang}wiki", file=file, category=category)
    body = "".join(page(t, x, ns, r, i + 1) for i, (t, x, ns, r) in enumerate(pages))
    return (head + body + "</mediawiki>\n").encode("utf-8")


def compress(data: bytes, kind: str) -> bytes:
    import bz2
    import gzip

    return {"plain": lambda d: d, "gz": gzip.compress, "bz2": bz2.compress}[kind](data)


def multistream(xml: bytes, pages_per_stream: int = 2) -> tuple[bytes, bytes]:
    """(dump, index) in Wikimedia's multistream layout: a bz2 stream with the header, streams of
    `pages_per_stream` pages (cut at the start of each `<page>` line), a last stream with the closing
    tag; the index (bz2) has one `offset:page_id:title` line a page, offset being its stream's."""
    import bz2
    import re

    starts = [xml.rfind(b"\n", 0, m.start()) + 1 for m in re.finditer(rb"<page>", xml)]
    tail = xml.rindex(b"</mediawiki>")
    cuts = [0] + starts[::pages_per_stream] + [tail, len(xml)]
    dump, index, offset = b"", [], 0
    for a, b in zip(cuts, cuts[1:]):
        part = xml[a:b]
        for m in re.finditer(rb"<title>(.*?)</title>\s*<ns>-?\d+</ns>\s*<id>(\d+)</id>", part):
            index.append(b"%d:%s:%s\n" % (offset, m.group(2), m.group(1)))
        blob = bz2.compress(part)
        dump += blob
        offset += len(blob)
    return dump, bz2.compress(b"".join(index))
