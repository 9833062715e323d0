"""The Wikidata slice has the real dump layout and every edge case the knowledge builder must handle."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from xlmk.sample_world import LANGUAGES

WIKIPEDIA_SITES = {f"{lang}wiki" for lang in LANGUAGES}


@pytest.fixture(scope="module")
def entities(sample_world) -> list:
    lines = (sample_world / "wikidata" / "wikidata-sample-all.json").read_text(encoding="utf-8").split("\n")
    assert lines[0] == "[" and lines[-2] == "]" and lines[-1] == ""
    body = lines[1:-2]
    assert all(line.endswith(",") for line in body[:-1]) and not body[-1].endswith(",")
    return [json.loads(line.rstrip(",")) for line in body]


@pytest.fixture(scope="module")
def expected(sample_world) -> dict:
    return json.loads((sample_world / "expected_knowledge.json").read_text(encoding="utf-8"))


def _statements(entities):
    for ent in entities:
        for pid, stmts in ent["claims"].items():
            for stmt in stmts:
                yield ent, pid, stmt


def test_counts(entities, expected):
    items = [e for e in entities if e["type"] == "item"]
    props = [e for e in entities if e["type"] == "property"]
    assert len(items) >= 300 and len(items) == expected["items"]
    assert len(props) == expected["relations"]
    item_props = {p["id"] for p in props if p["datatype"] == "wikibase-item"}
    used = {pid for _, pid, s in _statements(items) if s["mainsnak"]["datatype"] == "wikibase-item"}
    assert len(item_props & used) >= 25
    assert entities.index(props[0]) > 0, "properties should not all come first"


def test_entity_shape(entities):
    paris = next(e for e in entities if e["id"] == "Q90")
    assert list(paris)[:7] == ["type", "id", "labels", "descriptions", "aliases", "claims", "sitelinks"]
    assert paris["labels"]["zh"] == {"language": "zh", "value": "巴黎"}
    assert paris["sitelinks"]["enwiki"]["title"] == "Paris" and paris["sitelinks"]["enwiki"]["site"] == "enwiki"
    country = paris["claims"]["P17"][0]
    assert country["mainsnak"]["datavalue"] == {
        "value": {"entity-type": "item", "numeric-id": 142, "id": "Q142"}, "type": "wikibase-entityid"}
    assert country["type"] == "statement" and country["id"].startswith("Q90$") and country["rank"] == "normal"
    for qid, label in (("Q30", "United States"), ("Q142", "France"), ("Q183", "Germany"), ("Q64", "Berlin")):
        assert next(e for e in entities if e["id"] == qid)["labels"]["en"]["value"] == label


def test_languages_with_realistic_gaps(entities):
    items = [e for e in entities if e["type"] == "item"]
    for lang in LANGUAGES:
        assert sum(lang in e["labels"] for e in items) >= 300
        assert sum(f"{lang}wiki" in e["sitelinks"] for e in items) >= 300
    assert any(len({s for s in e["sitelinks"] if s in WIKIPEDIA_SITES}) < len(LANGUAGES) for e in items)
    assert any(not any(s in WIKIPEDIA_SITES for s in e["sitelinks"]) for e in items)


def test_edge_cases_present(entities):
    stmts = list(_statements(entities))
    snaktypes = Counter(s["mainsnak"]["snaktype"] for _, _, s in stmts)
    ranks = Counter(s["rank"] for _, _, s in stmts)
    datatypes = {s["mainsnak"]["datatype"] for _, _, s in stmts}
    assert snaktypes["novalue"] and snaktypes["somevalue"]
    assert all("datavalue" not in s["mainsnak"] for _, _, s in stmts if s["mainsnak"]["snaktype"] != "value")
    assert ranks["deprecated"] and ranks["preferred"]
    assert any(s["mainsnak"]["datatype"] == "wikibase-item" and s["rank"] == "deprecated" for _, _, s in stmts)
    assert any("qualifiers" in s for _, _, s in stmts) and any("references" in s for _, _, s in stmts)
    assert {"time", "quantity", "string", "external-id", "monolingualtext", "globe-coordinate", "commonsMedia",
            "url", "wikibase-property"} <= datatypes


def test_non_wikipedia_sitelinks_collide_with_a_wikipedia_title(entities):
    sites = {site for e in entities if e["type"] == "item" for site in e["sitelinks"]}
    assert {"commonswiki", "enwikiquote", "specieswiki", "zh_yuewiki"} <= sites
    wikipedia = {}
    for e in entities:
        for site, link in e.get("sitelinks", {}).items():
            if site in WIKIPEDIA_SITES:
                wikipedia[(site[:-4], link["title"])] = e["id"]
    clashes = [(e["id"], site, link["title"]) for e in entities for site, link in e.get("sitelinks", {}).items()
               if site.endswith("wikiquote") and wikipedia.get((site[:-9], link["title"]), e["id"]) != e["id"]]
    assert clashes, "a builder that forgets to filter sites must get a wrong mapping"


def test_expected_triples_and_titles_agree_with_the_dump(entities, expected):
    triples = Counter(pid for e, pid, s in _statements(entities) if e["type"] == "item"
                      and s["mainsnak"]["snaktype"] == "value" and s["mainsnak"]["datatype"] == "wikibase-item"
                      and s["rank"] != "deprecated")
    assert dict(triples) == expected["triples_by_relation"]
    assert sum(triples.values()) == expected["triples"]
    for lang in LANGUAGES:
        assert sum(f"{lang}wiki" in e.get("sitelinks", {}) for e in entities) == expected["titles"][lang]
    assert sum("zh_yuewiki" in e.get("sitelinks", {}) for e in entities) == expected["titles_other_wikipedias"]["zh-yue"]
