"""Dump streams: compression from magic bytes, hashing on the fly, damage reported not fatal."""
import bz2
import gzip
import hashlib

import pytest

from xlmk.knowledge.dumps import STREAM_ERRORS, Dump

DATA = b"".join(b'{"id": "Q%d"},\n' % i for i in range(5000))


@pytest.mark.parametrize("kind,suffix", [("plain", ".txt"), ("gzip", ".bz2"), ("bz2", ".gz")])
def test_compression_is_read_from_magic_bytes_not_suffix(tmp_path, kind, suffix):
    blob = {"plain": DATA, "gzip": gzip.compress(DATA), "bz2": bz2.compress(DATA)}[kind]
    path = tmp_path / f"dump{suffix}"  # deliberately misleading suffix
    path.write_bytes(blob)
    dump = Dump(path)
    assert dump.compression == kind
    assert b"".join(dump.stream) == DATA
    info = dump.finish()
    assert info["sha256"] == hashlib.sha256(blob).hexdigest() and info["size"] == len(blob)


def test_multistream_bz2_reads_every_stream(tmp_path):
    path = tmp_path / "multi.bz2"
    path.write_bytes(bz2.compress(DATA[:1000]) + bz2.compress(DATA[1000:]))
    with Dump(path) as dump:
        assert dump.stream.read() == DATA


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_truncated_stream_raises_a_stream_error_after_the_good_part(tmp_path, kind):
    data = DATA * 12  # bzip2 emits nothing before a whole 100k block: give it several
    blob = gzip.compress(data) if kind == "gz" else bz2.compress(data, compresslevel=1)
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    dump = Dump(path)
    got = b""
    with pytest.raises(STREAM_ERRORS):
        for line in dump.stream:
            got += line
    assert data.startswith(got) and len(got) > 0
    assert dump.finish()["sha256"] == hashlib.sha256(blob[: len(blob) * 2 // 3]).hexdigest()


def test_hash_covers_the_whole_file_even_when_reading_stops_early(tmp_path):
    path = tmp_path / "d.json"
    path.write_bytes(DATA)
    dump = Dump(path)
    dump.stream.read(10)
    assert dump.finish()["sha256"] == hashlib.sha256(DATA).hexdigest()
