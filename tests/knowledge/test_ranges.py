"""Parallel input: ranges that tile a dump, read by any worker, with the file's own line numbers."""
import bz2
import json
import os

import pytest

import snippets
from xlmk.errors import DataError
from xlmk.knowledge.ranges import (RangeRead, describe, multistream_index_for, packages, plan_ranges,
                                   read_multistream_index)
from xlmk.knowledge.tasks import input_task

FILLER = snippets.ENWIKI_PAGES + [(f"Filler {i}", f"Page {i} about [[Human]]s.", 0, None) for i in range(40)]


def _prepared(path, tmp_path, use_packages=True):
    source = describe(path, use_packages=use_packages)
    if "size" not in source or "sha256" not in source:
        source = {**source, **input_task({"source": source, "cache_dir": str(tmp_path / "idx"), "threads": 2})}
    return source


def _read_all(source, unit, shard_bytes=300, shard_pages=2):
    """Every record of every range, with its line and offset made global as the manifest does."""
    out, lines, nbytes, problems = [], 0, 0, []
    for rng in plan_ranges(source, shard_bytes, shard_pages):
        reader = RangeRead(source, rng, unit)
        for rec, line, offset in reader.records():
            out.append((rec, lines + line, offset + (nbytes if reader.local_offsets else 0)))
        problems += reader.problems
        lines, nbytes = lines + reader.newlines, nbytes + reader.nbytes
    return out, lines, nbytes, problems


@pytest.mark.parametrize("kind,fast", [("plain", True), ("gz", True), ("bz2", True), ("gz", False), ("bz2", False)])
@pytest.mark.parametrize("unit", ["line", "page"])
def test_ranges_tile_the_file_with_global_lines_and_offsets(tmp_path, kind, fast, unit):
    data = snippets.wikidata_dump() if unit == "line" else snippets.wikipedia_dump(FILLER)
    path = tmp_path / f"dump.{kind}"
    path.write_bytes(snippets.compress(data, kind))
    source = _prepared(path, tmp_path, use_packages=fast)
    assert source["reader"] == {"plain": "plain", "gz": "gzip", "bz2": "bz2"}[kind] + ("" if fast or kind == "plain" else "-stdlib")
    records, lines, nbytes, problems = _read_all(source, unit)
    assert len(plan_ranges(source, 300, 2)) > 3 and not problems
    assert (lines, nbytes) == (data.count(b"\n"), len(data))
    for rec, line, offset in records:
        assert data[offset:offset + len(rec)] == rec and data[:offset].count(b"\n") + 1 == line
    if unit == "line":
        assert b"".join(r for r, _, _ in records) == data
    else:
        assert [r.count(b"<page>") for r, _, _ in records] == [1] * data.count(b"<page>")


def test_packages_are_used_when_installed():
    assert packages() == {"indexed_bzip2": True, "rapidgzip": True}  # the [scale] extra, installed by `make`


def _multistream(tmp_path, pages=FILLER, per_stream=3, date="20240101"):
    xml = snippets.wikipedia_dump(pages)
    dump, index = snippets.multistream(xml, per_stream)
    path = tmp_path / f"enwiki-{date}-pages-articles-multistream.xml.bz2"
    path.write_bytes(dump)
    (tmp_path / f"enwiki-{date}-pages-articles-multistream-index.txt.bz2").write_bytes(index)
    return xml, path


def test_multistream_ranges_are_whole_streams_found_by_wikimedia_naming(tmp_path):
    xml, path = _multistream(tmp_path)
    assert multistream_index_for(path).name == "enwiki-20240101-pages-articles-multistream-index.txt.bz2"
    source = describe(path)
    assert source["reader"] == "multistream" and sum(n for _, n in source["streams"]) == len(FILLER)
    ranges = plan_ranges(source, 0, 7)
    assert [r["start"] for r in ranges] == [r["streams"][0] for r in ranges] and ranges[-1]["end"] == path.stat().st_size
    assert len(ranges) == -(-len(FILLER) // 9)  # streams of 3 pages, closed once 7 pages are in
    records, lines, nbytes, problems = _read_all(source, "page", shard_pages=7)
    assert (lines, nbytes, problems) == (xml.count(b"\n"), len(xml), [])
    for rec, line, offset in records:
        assert xml[offset:offset + len(rec)] == rec and xml[:offset].count(b"\n") + 1 == line
    assert len(records) == len(FILLER)
    split = tmp_path / "enwiki-20240101-pages-articles-multistream3.xml-p100p200.bz2"
    split.write_bytes(b"")
    (tmp_path / "enwiki-20240101-pages-articles-multistream-index3.txt-p100p200.bz2").write_bytes(b"")
    assert multistream_index_for(split).name == "enwiki-20240101-pages-articles-multistream-index3.txt-p100p200.bz2"


def test_an_index_of_another_dump_is_refused_naming_both_files(tmp_path):
    _, path = _multistream(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_dump = _multistream(other, per_stream=4)
    index = multistream_index_for(other_dump)
    with pytest.raises(DataError) as err:
        describe(path, index=index)
    assert str(index) in str(err.value) and str(path) in str(err.value) and "does not match" in str(err.value)
    garbage = tmp_path / "garbage-index.txt"
    garbage.write_bytes(b"12:1:A\n5:2:B\n")
    with pytest.raises(DataError, match="offsets go back at line 2"):
        read_multistream_index(garbage, path)


def test_a_damaged_stream_costs_its_own_pages_only(tmp_path):
    xml, path = _multistream(tmp_path)
    source = describe(path)
    damaged = source["streams"][2][0]
    blob = bytearray(path.read_bytes())
    blob[damaged + 40] ^= 0xFF  # inside the third stream's compressed data
    path.write_bytes(bytes(blob))
    records, _, _, problems = _read_all(source, "page", shard_pages=7)
    assert [(p["kind"], p["byte_offset"]) for p in problems] == [("damaged_stream", damaged)]
    assert len(records) == len(FILLER) - 3  # the stream's three pages, no more
    assert str(damaged) in problems[0]["message"]


def test_a_damaged_bz2_stream_without_an_index_ends_that_file_with_its_offset(tmp_path):
    data = b"".join(b'{"type": "item", "id": "Q%d"},\n' % i for i in range(20000))
    path = tmp_path / "latest-all.json.bz2"
    path.write_bytes(bz2.compress(data, compresslevel=1)[:-30])  # 100 kB blocks: the last one is cut
    source = _prepared(path, tmp_path)
    records, _, nbytes, problems = _read_all(source, "line", shard_bytes=64 << 10)
    assert [p["kind"] for p in problems] == ["truncated_stream"] and problems[0]["byte_offset"] == nbytes
    kept = b"".join(r for r, _, _ in records)
    assert 100_000 < len(kept) < len(data) and data.startswith(kept)


def test_a_damaged_gzip_member_costs_that_member_only(tmp_path):
    import gzip

    parts = [b"".join(b'{"type": "item", "id": "Q%d"},\n' % (k * 1000 + i) for i in range(1000)) for k in range(5)]
    blobs = [gzip.compress(p) for p in parts]
    bad = bytearray(blobs[2])
    bad[len(bad) // 2] ^= 0xFF
    blobs[2] = bytes(bad)
    path = tmp_path / "latest-all.json.gz"
    path.write_bytes(b"".join(blobs))
    source = _prepared(path, tmp_path)  # rapidgzip refuses the damaged file: members, one by one
    assert source["reader"] == "gzip-stdlib"
    records, _, nbytes, problems = _read_all(source, "line", shard_bytes=7000)
    offset = len(blobs[0]) + len(blobs[1])
    assert [(p["kind"], p["byte_offset"]) for p in problems] == [("damaged_stream", offset)]
    kept = [r for r, _, _ in records]
    intact = [ln for k in (0, 1, 3, 4) for ln in parts[k].splitlines(keepends=True)]
    assert kept[:2000] == intact[:2000] and kept[-2000:] == intact[-2000:]  # before and after the damage
    assert set(intact) <= set(kept) and nbytes == sum(map(len, kept))


@pytest.mark.parametrize("block", [7, 1 << 22])
def test_the_index_is_read_in_runs_across_blocks_with_lines_counted(tmp_path, monkeypatch, block):
    from xlmk.knowledge import ranges

    monkeypatch.setattr(ranges, "INDEX_BLOCK", block)
    _, path = _multistream(tmp_path)
    offsets = [o for o, _ in describe(path)["streams"]]
    index = tmp_path / "index.txt"
    # blank lines, a CRLF line, a leading-zero offset and a last line without its newline
    index.write_bytes(b"%d:1:A\n\n%d:2:B\r\n0%d:3:C\n  \n%d:4:D\n%d:5:E" % (
        offsets[0], offsets[0], offsets[0], offsets[1], offsets[2]))
    assert read_multistream_index(index, path) == [(offsets[0], 3), (offsets[1], 1), (offsets[2], 1)]
    index.write_bytes(b"%d:1:A\n%d:2:B\n\n7x:3:C\n" % (offsets[0], offsets[1]))
    with pytest.raises(DataError, match=r"not an `offset:page_id:title` line: b'7x:3:C\\n'") as err:
        read_multistream_index(index, path)
    assert err.value.line == 4
    index.write_bytes(b"%d:1:A\n%d:2:B\n%d:3:C" % (offsets[1], offsets[1], offsets[0]))
    with pytest.raises(DataError, match="offsets go back at line 3"):
        read_multistream_index(index, path)


def test_stream_lists_are_cached_per_index_and_dump(tmp_path, monkeypatch):
    from xlmk.knowledge import ranges
    from xlmk.knowledge.ranges import cached_streams

    _, path = _multistream(tmp_path)
    source = describe(path, streams=False)
    assert "streams" not in source  # the build reads them in a task, not in the coordinator
    cache = tmp_path / "index"
    first = cached_streams(source, cache)
    assert first == describe(path)["streams"] and len(list(cache.glob("*.streams.json"))) == 1
    damaged = next(cache.glob("*.streams.json"))
    damaged.write_text("[[1, 2], [3")  # cut off: read again from the index and written whole
    assert cached_streams(source, cache) == first and json.loads(damaged.read_text()) == [list(s) for s in first]

    def unread(index, dump):
        raise AssertionError("the index was read again")

    monkeypatch.setattr(ranges, "read_multistream_index", unread)
    assert cached_streams(source, cache) == first
    os.utime(path, ns=(1, 1))  # another dump at the same path: the cache does not apply
    with pytest.raises(AssertionError, match="read again"):
        cached_streams(source, cache)
