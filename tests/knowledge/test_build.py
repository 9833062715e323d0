"""End-to-end builds of the snippet dumps: exact tables, compressions, workers, malformed input."""
import json

import pyarrow.parquet as pq
import pytest

import snippets
from xlmk.errors import DataError, XlmkError
from xlmk.knowledge.build import build_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput


def build(out, wd, en, **kw):
    return build_knowledge(BuildOptions(out=out, wikidata=wd, wikipedia=[WikipediaInput(path=en)], **kw))


def read(kdir, table):
    return pq.read_table(kdir / table).to_pylist()


def tree_bytes(kdir):
    """Every shard of a knowledge directory, by relative path (the manifest holds timings)."""
    return {str(p.relative_to(kdir)): p.read_bytes() for p in sorted(kdir.rglob("*.parquet"))}


def test_snippets_build_into_exact_tables(tmp_path, dumps):
    wd, en = dumps()
    m = build(tmp_path / "k", wd, en)
    k = tmp_path / "k"
    assert sorted((r["title"], r["qid"]) for r in read(k, "titles")) == [
        ("AT&T", "Q100"), ("Douglas Adams", "Q42"), ("English language", "Q1860"), ("Human", "Q5"),
        ("St John's College, Cambridge", "Q691283"), ("Étoile", "Q101")]  # only the en dump's language
    assert read(k, "triples") == [{"subject": "Q42", "relation": "P69", "object": "Q691283"},
                                  {"subject": "Q42", "relation": "P1412", "object": "Q1860"},
                                  {"subject": "Q691283", "relation": "P31", "object": "Q5"}]
    assert read(k, "relations") == [{"pid": "P69", "label": "educated at"}, {"pid": "P1412", "label": None}]
    mentions = read(k, "mentions")
    assert [(r["page_title"], r["text"][r["start"]:r["end"]], r["qid"]) for r in mentions] == [
        ("Douglas Adams", "English", "Q1860"),
        ("Douglas Adams", "St John's College", "Q691283"),  # underscores and #section
        ("Douglas Adams", "English language", "Q1860"),
        ("Douglas Adams", "AT&T", "Q100"),  # HTML entity in the target
        ("Douglas Adams", "the star", "Q101"),  # percent-encoded target
        ("Douglas Adams", "human", "Q5"),  # first letter upper-cased
        ("Douglas Adams", "himself", "Q42"),  # through a redirect
        ("Douglas Adams", "DNA", "Q42"),  # through a double redirect
        ("St John's College, Cambridge", "Douglas Adams", "Q42"),
        ("English language", "human", "Q5"),
    ]
    assert mentions[0]["text"].startswith("Douglas Noel Adams (11 March 1952") and mentions[0]["lang"] == "en"
    assert mentions[-1]["text"] == "It is spoken by humans."
    descriptions = {r["title"]: r for r in read(k, "descriptions")}
    assert set(descriptions) == {"Douglas Adams", "St John's College, Cambridge", "English language"}
    assert descriptions["English language"] == {"qid": "Q1860", "lang": "en", "title": "English language",
                                                "text": "English is a language. It is spoken by humans."}
    adams = descriptions["Douglas Adams"]["text"]
    assert "Human" not in adams and "cite" not in adams and "{{" not in adams and "cell" not in adams
    # Loop A (a redirect loop), No such page and Unlinked page's Wikidata link resolve to nothing.
    assert m["links"]["en"] == {"resolved": 10, "unresolved": 4, "by_kind": {
        "article": 14, "category": 2, "file": 1, "interlanguage": 1, "interwiki": 1, "namespace": 2, "self": 1}}
    assert m["tables"]["mentions"]["by_lang"] == {"en": 10}
    assert m["tables"]["titles"]["by_lang"] == {"en": 6}
    assert m["wikipedia"]["en"]["redirects"] == 4 and m["wikipedia"]["en"]["pages_other_namespace"] == 1
    assert m["wikipedia"]["en"]["articles_without_qid"] == 1
    assert m["malformed"]["total"] == 0
    assert [i["role"] for i in m["inputs"]] == ["wikidata", "wikipedia"]
    assert all(len(i["sha256"]) == 64 and i["size"] > 0 for i in m["inputs"])
    assert not list((k / "_work").rglob("[mdr]-*.parquet"))  # bulky work shards go; markers and titles stay


def test_languages_option_keeps_titles_of_other_wikipedias(tmp_path, dumps):
    wd, en = dumps()
    m = build(tmp_path / "k", wd, en, languages=["en", "de", "zh-yue"])
    assert m["tables"]["titles"]["by_lang"] == {"de": 2, "en": 6, "zh-yue": 1}
    assert m["tables"]["mentions"]["rows"] == 10


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_compressed_dumps_give_identical_shards(tmp_path, dumps, kind):
    build(tmp_path / "plain", *dumps("plain"))
    build(tmp_path / kind, *dumps(kind))
    assert tree_bytes(tmp_path / kind) == tree_bytes(tmp_path / "plain")


def test_two_workers_give_identical_shards(tmp_path, dumps):
    wd, en = dumps()
    small = dict(shard_bytes=1024)
    build(tmp_path / "one", wd, en, **small)
    m = build(tmp_path / "two", wd, en, workers=2, **small)
    assert tree_bytes(tmp_path / "two") == tree_bytes(tmp_path / "one")
    assert (tmp_path / "two" / "manifest.json").read_bytes() == (tmp_path / "one" / "manifest.json").read_bytes()
    assert len(m["tables"]["triples"]["files"]) == -(-wd.stat().st_size // 1024)  # one shard per KiB


def test_finished_build_is_not_redone_and_other_options_need_fresh(tmp_path, dumps):
    wd, en = dumps()
    first = build(tmp_path / "k", wd, en)
    again = build(tmp_path / "k", wd, en)
    assert again["run"]["shards_read"] == 0 and first["run"]["shards_read"] == 2
    assert {k: v for k, v in again.items() if k != "run"} == {k: v for k, v in first.items() if k != "run"}
    with pytest.raises(XlmkError, match="--fresh"):
        build(tmp_path / "k", wd, en, description_chars=50)
    again = build(tmp_path / "k", wd, en, description_chars=50, fresh=True)
    assert again["fingerprint"] != first["fingerprint"]
    assert all(len(r["text"]) <= 50 for r in read(tmp_path / "k", "descriptions"))


def test_wikipedia_needs_wikidata_and_languages_are_unique(tmp_path, dumps):
    wd, en = dumps()
    with pytest.raises(XlmkError, match="--wikidata"):
        build_knowledge(BuildOptions(out=tmp_path / "k", wikipedia=[WikipediaInput(path=en)]))
    with pytest.raises(XlmkError, match="two inputs for language 'en'"):
        build_knowledge(BuildOptions(out=tmp_path / "k", wikidata=wd,
                                     wikipedia=[WikipediaInput(path=en), WikipediaInput(path=en)]))
    with pytest.raises(DataError, match="not found"):
        build(tmp_path / "k", tmp_path / "missing.json", en)


def _broken_inputs(dumps):
    lines = snippets.wikidata_dump().splitlines(keepends=True)
    lines.insert(2, b'{"type": "item", "id": "Q7", "claims": {,\n')  # line 3
    lines.insert(4, b'{"type": "item", "id": "Q\xff8"},\n')  # line 5
    pages = snippets.wikipedia_dump().decode()
    pages = pages.replace("<title>Human</title>", "<title>Human</titel>")  # invalid XML
    raw = pages.encode().replace("Unlinked page".encode(), b"Unlinked \xe9page", 1)  # Latin-1 byte
    return dumps("plain", wikidata=b"".join(lines), enwiki=raw)


def test_malformed_records_are_counted_with_locations(tmp_path, dumps):
    wd, en = _broken_inputs(dumps)
    m = build(tmp_path / "k", wd, en)
    bad = m["malformed"]
    assert bad["by_kind"] == {"bad_json": 1, "bad_xml": 1, "non_utf8": 2}
    assert [(e["line"], e["path"]) for e in bad["examples"]["bad_json"]] == [(3, str(wd))]
    utf8 = {e["path"]: e for e in bad["examples"]["non_utf8"]}
    assert utf8[str(wd)]["line"] == 5
    text = en.read_bytes()
    assert text[utf8[str(en)]["byte_offset"]] == 0xE9
    assert utf8[str(en)]["line"] == text[: utf8[str(en)]["byte_offset"]].count(b"\n") + 1
    xml = bad["examples"]["bad_xml"][0]
    assert text[xml["byte_offset"]:].startswith(b"<page>") and "Human" in xml["snippet"]
    assert m["tables"]["mentions"]["rows"] == 10  # everything else is intact


@pytest.mark.parametrize("which", ["wikidata", "wikipedia"])
def test_strict_mode_names_file_and_line(tmp_path, dumps, which):
    wd, en = _broken_inputs(dumps)
    if which == "wikipedia":
        wd = dumps("plain", enwiki=en.read_bytes())[0]  # a clean Wikidata dump
    with pytest.raises(DataError) as err:
        build(tmp_path / "k", wd, en, strict=True)
    expected = f"{wd}:3: bad_json" if which == "wikidata" else f"{en}:"
    assert str(err.value).startswith(expected)
    assert err.value.line is not None


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_truncated_compressed_dump_is_reported_and_the_rest_kept(tmp_path, dumps, kind):
    big = snippets.wikipedia_dump(snippets.ENWIKI_PAGES + [
        (f"Filler {i}", f"Filler page {i} about [[Human]]s and {i * 7919 % 104729}.", 0, None)
        for i in range(3000)])
    wd, en = dumps(kind, enwiki=big)
    data = snippets.compress(big, kind) if kind == "gz" else __import__("bz2").compress(big, compresslevel=1)
    en.write_bytes(data[: len(data) * 3 // 4])
    m = build(tmp_path / "k", wd, en)
    assert m["malformed"]["by_kind"]["truncated_stream"] == 1
    assert m["malformed"]["examples"]["truncated_stream"][0]["path"] == str(en)
    assert 10 < m["tables"]["mentions"]["rows"] < 3010
    with pytest.raises(DataError, match="truncated_stream"):
        build(tmp_path / "strict", wd, en, strict=True)


def test_manifest_is_json_with_versions_and_options_and_the_run_has_timings(tmp_path, dumps):
    wd, en = dumps()
    build(tmp_path / "k", wd, en, workers=1)
    m = json.loads((tmp_path / "k" / "manifest.json").read_text())
    assert m["builder_version"] >= 2 and m["xlmk_version"]
    assert "timings" not in m and "created" not in m  # the same inputs give the same manifest bytes
    run = json.loads((tmp_path / "k" / "_work" / "last-run.json").read_text())
    assert {"inputs_s", "read_s", "titles_s", "resolve_s", "total_s"} <= set(run["timings"])
    assert m["options"]["description_chars"] == 2000
    assert m["tables"]["triples"]["files"] == {"part-00000.parquet": 3}


def test_tables_read_with_datasets_and_pandas(tmp_path, dumps):
    import datasets
    import pandas as pd

    build(tmp_path / "k", *dumps())
    mentions = datasets.load_dataset("parquet", data_files=str(tmp_path / "k" / "mentions" / "*.parquet"),
                                     split="train", cache_dir=str(tmp_path / "hf"))
    assert mentions.num_rows == 10 and mentions.column_names == ["lang", "page_title", "text", "start", "end", "qid"]
    row = mentions[0]
    assert row["text"][row["start"]:row["end"]] == "English"
    frame = pd.read_parquet(tmp_path / "k" / "triples")
    assert list(frame.columns) == ["subject", "relation", "object"] and len(frame) == 3
