"""The bundled sample world builds into exactly the knowledge its seed table says (expected_knowledge.json)."""
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest

from xlmk.knowledge.build import build_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput

LANGS = ["en", "de", "es", "ar", "hi", "vi", "zh"]


@pytest.fixture(scope="module")
def world(sample_world, tmp_path_factory):
    expected = json.loads((sample_world / "expected_knowledge.json").read_text())
    out = tmp_path_factory.mktemp("sample") / "k"
    manifest = build_knowledge(BuildOptions(
        out=out, wikidata=sample_world / "wikidata" / "wikidata-sample-all.json",
        wikipedia=[WikipediaInput(path=sample_world / "wikipedia" / f"{lang}wiki-sample-pages-articles.xml")
                   for lang in LANGS]))
    return expected, manifest, out


def test_counts_per_table_and_language(world):
    expected, m, _ = world
    assert m["languages"] == sorted(expected["languages"])
    assert m["tables"]["titles"]["by_lang"] == expected["titles"]
    assert m["tables"]["descriptions"]["by_lang"] == expected["descriptions"]
    assert m["tables"]["mentions"]["by_lang"] == expected["mentions"]
    assert {lang: v["unresolved"] for lang, v in m["links"].items()} == expected["unresolved_links"]
    assert m["tables"]["triples"]["rows"] == expected["triples"]
    assert m["tables"]["relations"]["rows"] == expected["relations"]
    assert m["wikidata"]["items"] == expected["items"]
    for lang, pages in expected["pages"].items():
        stats = m["wikipedia"][lang]
        assert (stats["articles"], stats["redirects"], stats["pages_other_namespace"]) == (
            pages["articles"], pages["redirects"], pages["other_namespaces"]), lang
    assert m["malformed"]["total"] == 0


def test_triples_and_relations(world, sample_world):
    expected, _, out = world
    triples = pq.read_table(out / "triples").to_pylist()
    assert Counter(t["relation"] for t in triples) == expected["triples_by_relation"]
    entities = [json.loads(line.rstrip(",\n")) for line in
                (sample_world / "wikidata" / "wikidata-sample-all.json").open(encoding="utf-8")
                if line.strip() not in ("[", "]")]
    kept = {(t["subject"], t["relation"], t["object"]) for t in triples}
    deprecated, skipped = set(), set()
    for e in entities:
        for pid, statements in e.get("claims", {}).items():
            for st in statements:
                snak = st["mainsnak"]
                if st["rank"] == "deprecated":
                    deprecated.add(e["id"])
                    if snak.get("datatype") == "wikibase-item" and "datavalue" in snak:
                        skipped.add((e["id"], pid, snak["datavalue"]["value"]["id"]))
    assert deprecated == set(expected["edge_cases"]["deprecated"]) and skipped
    assert not skipped & kept
    labels = {e["id"]: e["labels"].get("en", {}).get("value") for e in entities if e["type"] == "property"}
    relations = {r["pid"]: r["label"] for r in pq.read_table(out / "relations").to_pylist()}
    assert relations == labels
    item_valued = {e["id"] for e in entities if e["type"] == "property" and e["datatype"] == "wikibase-item"}
    assert len(item_valued) == expected["item_relations"]
    assert {t["relation"] for t in triples} <= item_valued


def test_titles_edge_cases(world):
    expected, _, out = world
    titles = pq.read_table(out / "titles").to_pylist()
    qids = {t["qid"] for t in titles}
    assert not qids & set(expected["edge_cases"]["items_without_sitelinks"])
    by_title = {(t["lang"], t["title"]): t["qid"] for t in titles}
    for c in expected["edge_cases"]["non_wikipedia_title_collisions"]:
        lang = c["site"].removesuffix("wikiquote")
        assert by_title[(lang, c["title"])] == c["wikipedia_qid"] != c["qid"]
    described = {(d["qid"], d["lang"]) for d in pq.read_table(out / "descriptions").to_pylist()}
    for lang, missing in expected["edge_cases"]["sitelink_without_page"].items():
        for qid in missing:
            assert qid in qids and (qid, lang) not in described


def test_other_wikipedias_titles(sample_world, tmp_path):
    expected = json.loads((sample_world / "expected_knowledge.json").read_text())
    m = build_knowledge(BuildOptions(out=tmp_path / "k", wikidata=sample_world / "wikidata" / "wikidata-sample-all.json",
                                     languages=sorted(expected["titles_other_wikipedias"])))
    assert m["tables"]["titles"]["by_lang"] == expected["titles_other_wikipedias"]


def test_every_mention_frames_its_anchor_and_samples_match(world):
    expected, _, out = world
    rows = pq.read_table(out / "mentions").to_pylist()
    for r in rows:
        anchor = r["text"][r["start"]:r["end"]]
        assert anchor and anchor == anchor.strip() and "\n" not in r["text"], r
    found = Counter((r["lang"], r["page_title"], r["text"][r["start"]:r["end"]], r["qid"], r["text"]) for r in rows)
    for s in expected["mention_samples"]:
        assert found[(s["lang"], s["page"], s["anchor"], s["qid"], s["sentence"])] >= 1, s


def test_descriptions_are_clean_prose(world):
    _, _, out = world
    rows = pq.read_table(out / "descriptions").to_pylist()
    assert len({(d["qid"], d["lang"]) for d in rows}) == len(rows)
    for d in rows:
        assert d["text"].strip() and not any(x in d["text"] for x in ("{{", "}}", "[[", "]]", "<ref", "''", "|")), d


def test_candidate_list_from_the_built_directory(world):
    from xlmk.knowledge.candidates import build_candidate_list

    expected, m, out = world
    gold = [("Q142", "hi"), ("Q90", "zh")]
    table = build_candidate_list(out, 500, seed=1, must_include=gold)
    rows = table.to_pylist()
    assert len(rows) == 500 and {(r["qid"], r["lang"]) for r in rows} >= set(gold)
    shares = Counter(r["lang"] for r in rows)
    total = sum(expected["descriptions"].values())
    for lang, n in expected["descriptions"].items():  # language agnostic: shares follow the table
        assert abs(shares[lang] / 500 - n / total) < 0.06, (lang, shares)
