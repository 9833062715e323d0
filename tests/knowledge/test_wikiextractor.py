"""wikiextractor `--json --links` output as a Wikipedia input."""
import bz2
import json

import pyarrow.parquet as pq

from xlmk.knowledge.build import build_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput

DOCS = [
    {"id": "8", "revid": "1", "url": "https://en.wikipedia.org/wiki?curid=8", "title": "Douglas Adams",
     "text": "Douglas Adams\n\nDouglas Adams was an <a href=\"English%20language\">English</a> author. "
             "He studied at <a href=\"St%20John%27s%20College%2C%20Cambridge\">St John&#x27;s</a>.\n"
             "He liked <a href=\"human\">humans</a> and <a href=\"wikt%3Adog\">dogs</a> and "
             "<a href=\"No%20such%20page\">nothing</a>."},
    {"id": "9", "revid": "2", "url": "https://en.wikipedia.org/wiki?curid=9", "title": "English language",
     "text": "English is spoken by <a href=\"Human\">people</a>."},
]


def test_wikiextractor_directory_builds_mentions_and_descriptions(tmp_path, dumps):
    wd, _ = dumps()
    root = tmp_path / "extracted"
    (root / "AA").mkdir(parents=True)
    (root / "AA" / "wiki_00").write_text(json.dumps(DOCS[0]) + "\n")
    (root / "AB").mkdir()
    (root / "AB" / "wiki_00.bz2").write_bytes(bz2.compress((json.dumps(DOCS[1]) + "\n{broken\n").encode()))
    m = build_knowledge(BuildOptions(out=tmp_path / "k", wikidata=wd,
                                     wikipedia=[WikipediaInput.parse(f"en={root}", format="wikiextractor")]))
    mentions = pq.read_table(tmp_path / "k" / "mentions").to_pylist()
    assert [(r["text"][r["start"]:r["end"]], r["qid"]) for r in mentions] == [
        ("English", "Q1860"), ("St John's", "Q691283"), ("humans", "Q5"), ("people", "Q5")]
    assert mentions[1]["text"] == "He studied at St John's."
    descriptions = {r["title"]: r["text"] for r in pq.read_table(tmp_path / "k" / "descriptions").to_pylist()}
    assert descriptions["Douglas Adams"].startswith("Douglas Adams was an English author.")
    assert m["links"]["en"]["unresolved"] == 1 and m["links"]["en"]["by_kind"]["interwiki"] == 1
    assert m["malformed"]["by_kind"] == {"bad_json": 1}
    assert m["malformed"]["examples"]["bad_json"][0]["line"] == 2
    assert [i["format"] for i in m["inputs"] if i["role"] == "wikipedia"] == ["wikiextractor"] * 2
