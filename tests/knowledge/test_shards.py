"""Shard tasks and their merge: the same directory for any worker count and any `--shard I/N` split,
merge naming what is missing, a Wikipedia added later, and multistream dumps end to end."""
import json

import pytest
from typer.testing import CliRunner

import snippets
from xlmk.cli.knowledge import app
from xlmk.errors import DataError, XlmkError
from xlmk.knowledge.build import build_knowledge, merge_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput

FILLER = snippets.ENWIKI_PAGES + [(f"Filler {i}", f"Page {i} about [[Human]]s and [[Douglas Adams]].", 0, None)
                                  for i in range(30)]


def tree(kdir):
    """Every file of a knowledge directory but the work folder, by relative path."""
    return {str(p.relative_to(kdir)): p.read_bytes() for p in sorted(kdir.rglob("*"))
            if p.is_file() and "_work" not in p.relative_to(kdir).parts}


def opts(out, wd, wikis, **kw):
    return BuildOptions(out=out, wikidata=wd, wikipedia=[WikipediaInput(path=w) for w in wikis],
                        shard_bytes=kw.pop("shard_bytes", 1500), **kw)


@pytest.fixture()
def two_languages(tmp_path, dumps):
    wd, en = dumps("gz", enwiki=snippets.wikipedia_dump(FILLER))
    de = tmp_path / "dewiki-pages-articles.xml.bz2"
    de.write_bytes(snippets.compress(snippets.wikipedia_dump([
        ("Douglas Adams", "'''Douglas Adams''' war ein [[Mensch]].", 0, None),
        ("Mensch", "Der [[Mensch]] ist ein Lebewesen.", 0, None)], lang="de"), "bz2"))
    return wd, en, de


@pytest.mark.slow  # spawns a pool: ~5 s idle
def test_any_worker_count_and_any_shard_split_give_the_same_directory(tmp_path, two_languages):
    wd, en, de = two_languages
    ref = build_knowledge(opts(tmp_path / "ref", wd, [en, de]))
    assert ref["run"]["shards_read"] >= 6
    build_knowledge(opts(tmp_path / "two", wd, [en, de], workers=2))
    assert tree(tmp_path / "two") == tree(tmp_path / "ref")
    out = tmp_path / "split"
    for i in (2, 0):  # groups in any order; group 1 last, so merge first finds it missing
        summary = build_knowledge(opts(out, wd, [en, de], shard=f"{i}/3"))
        assert summary["missing"] and not (out / "manifest.json").exists()
    with pytest.raises(XlmkError, match=r"have not finished: wikidata/000\d\d, wiki/"):
        merge_knowledge(out)
    result = CliRunner().invoke(app, ["build", "--wikidata", str(wd), "--wikipedia", str(en), "--wikipedia", str(de),
                                      "--shard-mb", str(1500 / (1 << 20)), "--shard", "1/3", "-o", str(out)])
    assert result.exit_code == 0 and f"now run `xlmk knowledge merge {out}`" in result.output, result.output
    result = CliRunner().invoke(app, ["merge", str(out)])
    assert result.exit_code == 0, result.output
    assert tree(out) == tree(tmp_path / "ref")


def test_the_same_shard_group_twice_at_once_is_refused(tmp_path, dumps):
    import fcntl

    wd, en = dumps()
    lock_path = tmp_path / "k" / "_work" / "locks" / "shard-0-of-2.lock"
    lock_path.parent.mkdir(parents=True)
    with open(lock_path, "w") as held:
        held.write("pid 1 on elsewhere\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(XlmkError, match="being built by another process .pid 1 on elsewhere"):
            build_knowledge(opts(tmp_path / "k", wd, [en], shard="0/2"))
    assert build_knowledge(opts(tmp_path / "k", wd, [en], shard="0/2"))["shards_read"] > 0
    with pytest.raises(XlmkError, match="--shard 3/2: I must be in 0..N-1"):
        build_knowledge(opts(tmp_path / "bad", wd, [en], shard="3/2"))
    assert not (tmp_path / "bad").exists()  # refused before anything is written
    result = CliRunner().invoke(app, ["build", "--wikidata", str(wd), "--engine", "spark", "-o", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "choose one of process, ray" in result.output
    with pytest.raises(XlmkError, match="--fresh with --shard"):
        build_knowledge(opts(tmp_path / "k", wd, [en], shard="1/2", fresh=True))
    assert (tmp_path / "k" / "_work" / "wikidata" / "done-00000.json").is_file()  # nothing discarded


def test_a_wikipedia_added_later_is_built_without_reading_wikidata_again(tmp_path, two_languages):
    wd, en, de = two_languages
    both = build_knowledge(opts(tmp_path / "both", wd, [en, de]))
    first = build_knowledge(opts(tmp_path / "k", wd, [en]))
    assert first["tables"]["titles"]["by_lang"] == {"en": 6}
    added = build_knowledge(opts(tmp_path / "k", wd, [en, de]))
    read = added["run"]["read"]
    assert read and all(i.startswith("wiki/de/") for i in read)  # neither Wikidata nor English again
    assert added["tables"]["titles"]["by_lang"] == both["tables"]["titles"]["by_lang"]
    assert added["links"] == both["links"] and tree(tmp_path / "k").keys() == tree(tmp_path / "both").keys()
    for name, blob in tree(tmp_path / "both").items():
        if name.startswith(("mentions", "descriptions", "titles", "triples")):
            assert tree(tmp_path / "k")[name] == blob, name
    # the same English dump rewritten (another mtime and size) is another input: that needs --fresh
    en.write_bytes(en.read_bytes() + b"\n")
    with pytest.raises(XlmkError, match="other files for wiki/en.*--fresh"):
        build_knowledge(opts(tmp_path / "k", wd, [en, de]))


def test_multistream_dump_with_its_index_builds_like_the_plain_dump(tmp_path, dumps):
    xml = snippets.wikipedia_dump(FILLER)
    wd, plain = dumps("plain", enwiki=xml)
    dump, index = snippets.multistream(xml, 4)
    ms = tmp_path / "enwiki-20240101-pages-articles-multistream.xml.bz2"
    ms.write_bytes(dump)
    (tmp_path / "enwiki-20240101-pages-articles-multistream-index.txt.bz2").write_bytes(index)
    a = build_knowledge(opts(tmp_path / "plain", wd, [plain]))
    b = build_knowledge(opts(tmp_path / "ms", wd, [ms], wikipedia_shard_pages=8))
    assert [i["reader"] for i in b["inputs"]] == ["plain", "multistream"]
    assert b["links"] == a["links"] and b["tables"]["mentions"]["rows"] == a["tables"]["mentions"]["rows"]
    assert len(b["tables"]["mentions"]["files"]) == -(-len(FILLER) // 8)
    for i in (1, 0):  # the same directory from a split into two shard task groups
        build_knowledge(opts(tmp_path / "split", wd, [ms], wikipedia_shard_pages=8, shard=f"{i}/2"))
    merge_knowledge(tmp_path / "split")
    assert tree(tmp_path / "split") == tree(tmp_path / "ms")


def test_damaged_multistream_stream_is_counted_and_strict_stops(tmp_path, dumps):
    xml = snippets.wikipedia_dump(FILLER)
    wd, _ = dumps("plain")
    dump, index = snippets.multistream(xml, 4)
    ms = tmp_path / "enwiki-20240101-pages-articles-multistream.xml.bz2"
    idx = tmp_path / "enwiki-20240101-pages-articles-multistream-index.txt.bz2"
    idx.write_bytes(index)
    offsets = sorted({int(line.split(b":")[0]) for line in __import__("bz2").decompress(index).splitlines()})
    blob = bytearray(dump)
    blob[offsets[3] + 40] ^= 0xFF
    ms.write_bytes(bytes(blob))
    m = build_knowledge(opts(tmp_path / "k", wd, [ms], wikipedia_shard_pages=8))
    assert m["malformed"]["by_kind"] == {"damaged_stream": 1}
    assert m["malformed"]["examples"]["damaged_stream"][0]["byte_offset"] == offsets[3]
    assert m["wikipedia"]["en"]["pages"] == len(FILLER) - 4  # one stream of four pages lost, the rest kept
    with pytest.raises(DataError, match=f"damaged_stream: bz2 stream at compressed byte {offsets[3]}"):
        build_knowledge(opts(tmp_path / "strict", wd, [ms], wikipedia_shard_pages=8, strict=True))
    other = tmp_path / "other-index.txt.bz2"
    other.write_bytes(snippets.multistream(xml, 5)[1])
    with pytest.raises(DataError, match="does not match the dump"):
        build_knowledge(BuildOptions(out=tmp_path / "x", wikidata=wd,
                                     wikipedia=[WikipediaInput(path=ms, index=other)]))
    result = CliRunner().invoke(app, ["build", "--wikidata", str(wd), "--wikipedia", f"en={ms}",
                                      "--index", f"en={other}", "-o", str(tmp_path / "y")])
    assert isinstance(result.exception, DataError) and str(other) in str(result.exception)
    assert str(ms) in str(result.exception)


@pytest.mark.slow
def test_sample_world_is_the_same_for_any_split(tmp_path):
    from xlmk.sample_world.knowledge import sample_dumps

    wd, wikis = sample_dumps()
    ref = build_knowledge(opts(tmp_path / "ref", wd, wikis, shard_bytes=256 << 10))
    assert ref["run"]["shards_read"] >= 17
    for i in range(2):
        build_knowledge(opts(tmp_path / "split", wd, wikis, shard_bytes=256 << 10, shard=f"{i}/2", workers=2))
    merge_knowledge(tmp_path / "split", workers=2)
    assert tree(tmp_path / "split") == tree(tmp_path / "ref")
    assert json.loads((tmp_path / "ref" / "manifest.json").read_text())["malformed"]["total"] == 0
