"""Wikidata entity rules: which sitelinks are titles, which statements are triples."""
import json
from collections import Counter

import pyarrow.parquet as pq

import snippets
from xlmk.knowledge.wikidata import entity_rows, parse_line, process_chunk


def rows(entity, languages=None):
    stats = Counter()
    return (*entity_rows(entity, languages, stats), stats)


def test_titles_come_from_wikipedia_sitelinks_only():
    titles, _, _, stats = rows(snippets.ENTITIES[0])
    assert sorted(titles) == [("de", "Douglas Adams", "Q42"), ("en", "Douglas Adams", "Q42"),
                              ("zh-yue", "道格拉斯·亞當斯", "Q42")]
    assert stats["sitelinks_not_wikipedia"] == 4  # commonswiki, enwikiquote, specieswiki, metawiki
    titles, _, _, _ = rows(snippets.ENTITIES[0], frozenset({"de"}))
    assert titles == [("de", "Douglas Adams", "Q42")]


def test_triples_skip_novalue_somevalue_deprecated_and_non_items():
    _, triples, relation, stats = rows(snippets.ENTITIES[0])
    assert triples == [("Q42", "P69", "Q691283"), ("Q42", "P1412", "Q1860")]  # preferred rank kept
    assert relation is None
    assert (stats["statements_deprecated"], stats["statements_somevalue"], stats["statements_novalue"],
            stats["statements_not_item"]) == (1, 1, 1, 2)


def test_object_from_numeric_id_when_id_is_missing():
    entity = json.loads(json.dumps(snippets.ENTITIES[1]))
    del entity["claims"]["P31"][0]["mainsnak"]["datavalue"]["value"]["id"]
    assert rows(entity)[1] == [("Q691283", "P31", "Q5")]


def test_properties_are_relations_with_english_labels():
    titles, triples, relation, _ = rows(snippets.ENTITIES[-2])
    assert relation == ("P69", "educated at") and titles == [] and triples == []
    assert rows(snippets.ENTITIES[-1])[2] == ("P1412", None)  # no English label


def test_dump_lines_parse_with_brackets_and_commas():
    lines = snippets.wikidata_dump().splitlines(keepends=True)
    assert parse_line(lines[0]) is None and parse_line(lines[-1]) is None
    assert parse_line(lines[1])["id"] == "Q42"
    assert parse_line(lines[-2])["id"] == "P1412"  # the last entity has no comma


def test_chunk_writes_shards_and_reports_bad_lines(tmp_path):
    lines = snippets.wikidata_dump().splitlines(keepends=True)
    lines.insert(3, b'{"type": "item", "id": "Q7", "claims": {,\n')
    lines.insert(4, b'{"type": "item", "id": "Q\xff8"},\n')
    lines.insert(5, b'{"type": "item", "id": "Q9", "claims": {"P31": [{"mainsnak": '
                    b'{"snaktype": "value", "datatype": "wikibase-item"}}]}},\n')  # no datavalue
    job = {"index": 3, "path": "wd.json", "first_line": 1, "first_offset": 0, "lines": lines,
           "languages": None, "work_dir": str(tmp_path / "w"), "out_dir": str(tmp_path / "o")}
    result = process_chunk(job)
    assert [(p["kind"], p["line"]) for p in result["problems"]] == [
        ("bad_json", 4), ("non_utf8", 5), ("bad_entity", 6)]
    assert result["problems"][0]["byte_offset"] == sum(len(x) for x in lines[:3])
    assert pq.read_table(tmp_path / "o" / "triples" / "part-00003.parquet").num_rows == 3
    assert pq.read_table(tmp_path / "o" / "relations" / "part-00003.parquet").num_rows == 2
    titles = pq.read_table(tmp_path / "w" / "titles-00003.parquet").to_pylist()
    assert len(titles) == result["stats"]["titles"] == 9
    assert result["titles_by_lang"] == {"en": 6, "de": 2, "zh-yue": 1}
