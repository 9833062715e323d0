"""Parallel input: a dump cut into ranges that workers decompress and read on their own.

The coordinating process never decompresses a dump. It plans *ranges* from what it can learn cheaply
(a file's size, an index), and each worker opens the file, goes to its range and reads the records
that *start* in it (a record running past the range's end is finished by that worker, and skipped by
the next). Records are lines (Wikidata, wikiextractor) or `<page>` … `</page>` (pages-articles XML).

How a file is read, from the best to the fallback:
- `multistream`: a Wikimedia `…-multistream.xml.bz2` with its `…-multistream-index.txt.bz2` (found
  beside the dump by Wikimedia's naming, or given): ranges are groups of whole bz2 streams, cut at the
  stream offsets the index lists, decompressed with the standard library's bz2, one stream at a time
  (a damaged stream costs its own pages only);
- `bz2` and `gzip`: a block index made in one parallel pass by `indexed_bzip2` / `rapidgzip` (cached
  beside the output, under `_work/index/`), then ranges of uncompressed bytes that each worker seeks to;
- `plain`: ranges of bytes, directly;
- without those two packages, `bz2`/`gzip` ranges are read with the standard library, which seeks by
  decompressing from the start of the file (of the gzip member): the same ranges and the same output,
  only slower. A gzip file that `rapidgzip` cannot read (a damaged member) is read this way, member by
  member: the damaged member is reported with its offset and reading goes on at the next one.

Range boundaries depend on the input and the shard size only, so the shards (and the output) are the
same for any number of workers, any split into shard tasks and any engine.
"""
from __future__ import annotations

import bz2
import hashlib
import json
import re
from pathlib import Path
from typing import Iterator

from xlmk.errors import DataError
from xlmk.knowledge.dumps import STREAM_ERRORS, compression_of
from xlmk.knowledge.malformed import problem

BLOCK = 1 << 20
# indexed_bzip2 and rapidgzip report damage as RuntimeError or ValueError
READ_ERRORS = STREAM_ERRORS + (RuntimeError, ValueError)
PAGE_OPEN, PAGE_CLOSE = b"<page>", b"</page>"
_MULTISTREAM = re.compile(r"multistream(\d*)\.xml(-p\d+p\d+)?\.bz2$")


# ---------------------------------------------------------------- finding indexes
def multistream_index_for(dump: Path) -> Path | None:
    """Wikimedia's index beside a multistream dump (`…-multistream.xml.bz2` ->
    `…-multistream-index.txt.bz2`, `…-multistream1.xml-p1p41242.bz2` -> `…-multistream-index1.txt-p1p41242.bz2`)."""
    m = _MULTISTREAM.search(dump.name)
    if m is None:
        return None
    name = dump.name[:m.start()] + f"multistream-index{m.group(1)}.txt{m.group(2) or ''}.bz2"
    candidate = dump.with_name(name)
    return candidate if candidate.is_file() else None


# One stream's run of index lines: the first line's offset, then every following line with the same offset
# (one match per ~100 pages, so a 23-million-line index is read in C, not line by line in Python).
_INDEX_RUN = re.compile(rb"(\d+):[^\n]*\n(?:\1:[^\n]*\n)*")
INDEX_BLOCK = 1 << 22


def read_multistream_index(index: Path, dump: Path) -> list[tuple[int, int]]:
    """(stream offset, pages in the stream) in file order, checked against the dump.

    An index whose offsets are not increasing, lie past the dump's end or do not start a bz2 stream
    there belongs to another dump: a DataError names both files.
    """
    def mismatch(why: str) -> DataError:
        return DataError(f"the multistream index {index} does not match the dump {dump}: {why}", path=index)

    opener = bz2.open if compression_of(index) == "bz2" else open
    streams: list[list[int]] = []
    lineno = 0  # lines before `pos`

    def add(offset: int, lines: int) -> None:
        if streams and offset == streams[-1][0]:
            streams[-1][1] += lines
        elif streams and offset < streams[-1][0]:
            raise mismatch(f"offsets go back at line {lineno + 1}")
        else:
            streams.append([offset, lines])

    try:
        with opener(index, "rb") as fh:
            rest, more = b"", True
            while more:
                block = fh.read(INDEX_BLOCK)
                more = bool(block)
                buf = rest + block
                cut = buf.rfind(b"\n") + 1 if more else len(buf)  # whole lines; the rest waits for more
                buf, rest, pos = buf[:cut], buf[cut:], 0
                while pos < len(buf):
                    m = _INDEX_RUN.match(buf, pos)
                    if m is not None:
                        lines = buf.count(b"\n", pos, m.end())
                        add(int(m.group(1)), lines)
                        lineno += lines
                        pos = m.end()
                        continue
                    nl = buf.find(b"\n", pos)  # one line the slow way: blank, bad, or last without a newline
                    end = len(buf) if nl == -1 else nl + 1
                    line = buf[pos:end]
                    head = line.split(b":", 1)[0]
                    if head.strip():
                        if not head.isdigit():
                            raise DataError(f"not an `offset:page_id:title` line: {line[:80]!r}", path=index,
                                            line=lineno + 1)
                        add(int(head), 1)
                    lineno += 1
                    pos = end
    except STREAM_ERRORS as exc:
        raise DataError(f"unreadable index: {type(exc).__name__}: {exc}", path=index) from None
    size = dump.stat().st_size
    if not streams:
        raise mismatch("it lists no pages")
    if streams[-1][0] >= size:
        raise mismatch(f"offset {streams[-1][0]} lies past the dump's end ({size} bytes)")
    with open(dump, "rb") as fh:  # a sample of the offsets, so checking stays cheap on a 200k-stream index
        step = max(1, len(streams) // 64)
        for offset, _ in streams[::step] + streams[-1:]:
            fh.seek(offset)
            if not _is_bz2_stream(fh.read(10)):
                raise mismatch(f"no bz2 stream starts at byte {offset}")
    return [(o, n) for o, n in streams]


def _is_bz2_stream(head: bytes) -> bool:
    return head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] == b"1AY&SY"


def packages() -> dict[str, bool]:
    """Which parallel decompressors are installed (each falls back to the standard library)."""
    import importlib.util

    return {name: importlib.util.find_spec(name) is not None for name in ("indexed_bzip2", "rapidgzip")}


# ---------------------------------------------------------------- sources
def source_key(path: Path) -> str:
    """A short name for an input's cached index: its resolved path, size and mtime."""
    st = path.stat()
    blob = json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return f"{path.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def describe(path: Path, *, index: Path | None = None, use_packages: bool = True, streams: bool = True) -> dict:
    """How `path` will be read: {path, reader, index?, streams? (multistream)}; cheap (no decompression)
    but for the multistream index, which `streams=False` leaves to `cached_streams`."""
    compression = compression_of(path)
    if compression == "bz2":
        index = index or multistream_index_for(path)
        if index is not None:
            source = {"path": str(path), "reader": "multistream", "index": str(index), "size": path.stat().st_size}
            if streams:
                source["streams"] = read_multistream_index(index, path)
            return source
    if compression == "plain":
        if index is not None:
            raise DataError(f"--index is for multistream .bz2 dumps; {path} is not compressed", path=index)
        return {"path": str(path), "reader": "plain", "size": path.stat().st_size}
    have = packages()
    fast = use_packages and have["indexed_bzip2" if compression == "bz2" else "rapidgzip"]
    return {"path": str(path), "reader": compression if fast else f"{compression}-stdlib"}


def cached_streams(source: dict, cache_dir: Path) -> list[tuple[int, int]]:
    """`read_multistream_index` of a multistream source, kept in `cache_dir` for the next run (keyed by
    the index's and the dump's path, size and mtime)."""
    from xlmk.io import atomic_write_json

    index, dump = Path(source["index"]), Path(source["path"])
    cache = cache_dir / f"{source_key(index)}-{source_key(dump).rsplit('-', 1)[1]}.streams.json"
    if cache.is_file():
        try:
            return [(int(o), int(n)) for o, n in json.loads(cache.read_text())]
        except (ValueError, TypeError):  # a damaged cache is read again from the index below
            cache.unlink(missing_ok=True)
    streams = read_multistream_index(index, dump)
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(cache, streams, indent=None)
    return streams


def index_job(source: dict, cache_dir: Path, threads: int) -> dict:
    """The work of one index task: the uncompressed size (and the block index, with the packages).

    Runs in a worker: it is the one full pass over a compressed file that a range plan needs. The
    result is cached under `cache_dir`, so a resumed build or another shard task reuses it.
    """
    path = Path(source["path"])
    cached = cache_dir / f"{source_key(path)}.json"
    if cached.is_file():
        return {**source, **json.loads(cached.read_text())}
    from xlmk.io import atomic_path, atomic_write_json

    reader = source["reader"]
    info: dict = {}
    if reader == "bz2":
        import indexed_bzip2

        with indexed_bzip2.open(str(path), parallelization=threads) as fh:
            offsets = fh.block_offsets()
            info["size"] = fh.size()
        info["index"] = str(cache_dir / f"{source_key(path)}.bz2idx")
        atomic_write_json(info["index"], sorted(offsets.items()), indent=None)
    elif reader == "gzip":
        import rapidgzip

        info["index"] = str(cache_dir / f"{source_key(path)}.gzidx")
        with rapidgzip.open(str(path), parallelization=threads) as fh:
            fh.seek(0, 2)
            info["size"] = fh.tell()
            with atomic_path(info["index"]) as tmp, open(tmp, "wb") as out:
                fh.export_index(out)
    if reader in ("bz2", "gzip"):
        if info["size"]:  # a damaged file can index without complaint: read its last byte
            with open_uncompressed({**source, **info}) as fh:
                fh.seek(info["size"] - 1)
                fh.read(1)
    elif reader == "gzip-stdlib":
        from xlmk.knowledge.gzip_members import gzip_members

        info.update(gzip_members(path))
    else:  # bz2 with the standard library: one pass for the size
        with _open_stdlib(path, reader) as fh:
            size = 0
            while True:
                try:
                    block = fh.read1(BLOCK)  # read() would drop what it got before an error
                except READ_ERRORS:
                    break  # a damaged stream: the reader of the last range reports it
                if not block:
                    break
                size += len(block)
            info["size"] = size
    atomic_write_json(cached, info)
    return {**source, **info}


def _open_stdlib(path: Path, reader: str):
    import gzip

    return bz2.open(path, "rb") if reader.startswith("bz2") else gzip.open(path, "rb")


def open_uncompressed(source: dict):
    """A seekable binary file of the source's uncompressed bytes (not for multistream sources)."""
    reader, path = source["reader"], source["path"]
    if reader == "plain":
        return open(path, "rb")
    if reader == "bz2":
        import indexed_bzip2

        fh = indexed_bzip2.open(path, parallelization=1)
        offsets = json.loads(Path(source["index"]).read_text())
        fh.set_block_offsets({int(k): int(v) for k, v in offsets})
        return fh
    if reader == "gzip-stdlib" and "members" in source:
        from xlmk.knowledge.gzip_members import GzipMembers

        return GzipMembers(path, source["members"])
    if reader == "gzip":
        import rapidgzip

        fh = rapidgzip.open(path, parallelization=1)
        with open(source["index"], "rb") as idx:
            fh.import_index(idx)
        return fh
    return _open_stdlib(Path(path), reader)


def plan_ranges(source: dict, shard_bytes: int, shard_pages: int) -> list[dict]:
    """The ranges of one source: [start, end) of uncompressed bytes, or groups of whole bz2 streams
    (about `shard_pages` pages each) for a multistream dump. Range 0 starts at 0, the last ends at
    the end, so the ranges tile the file."""
    if source["reader"] == "multistream":
        streams, size = source["streams"], source["size"]
        groups, current, pages = [], [0], 0  # the first range also holds the header stream at 0
        for offset, n in streams:
            if pages >= shard_pages:
                groups.append(current)
                current, pages = [], 0
            if offset != 0:
                current.append(offset)
            pages += n
        groups.append(current)
        ends = [g[0] for g in groups[1:]] + [size]
        return [{"start": g[0], "end": e, "streams": g} for g, e in zip(groups, ends)]
    size = source["size"]
    starts = list(range(0, max(size, 1), shard_bytes))
    return [{"start": s, "end": min(s + shard_bytes, size)} for s in starts]


# ---------------------------------------------------------------- reading a range
class RangeRead:
    """Records of one range: iterate `records()` for (bytes, line in range, byte offset); afterwards
    `newlines` and `nbytes` say how many lines and bytes the range spans (from its first record to the
    next range's), so that line numbers can be made global once every earlier range is known, and
    `problems` holds damaged streams and cut-off records.

    Offsets are uncompressed offsets in the file, except in a multistream range, where they count
    from the range's first byte (made global the same way as lines)."""

    def __init__(self, source: dict, rng: dict, unit: str) -> None:
        self.source, self.rng, self.unit = source, rng, unit
        self.problems: list[dict] = []
        self.newlines = self.nbytes = 0
        self.local_offsets = source["reader"] == "multistream"

    def records(self) -> Iterator[tuple[bytes, int, int]]:
        if self.local_offsets:
            yield from self._multistream()
            return
        with open_uncompressed(self.source) as fh:
            yield from self._cut(fh, self.rng["start"], self.rng["end"])

    def _multistream(self) -> Iterator[tuple[bytes, int, int]]:
        path, streams, end = self.source["path"], self.rng["streams"], self.rng["end"]
        base_line, base_bytes = 1, 0
        with open(path, "rb") as fh:
            for offset, stop in zip(streams, streams[1:] + [end]):
                fh.seek(offset)
                raw = fh.read(stop - offset)
                data = self._stream(raw, offset)
                if data is None:
                    continue
                cut = _Cutter(_Bytes(data), 0, len(data), self.unit, path, self.problems, first=True)
                for rec, line, off in cut.records():
                    yield rec, base_line + line - 1, base_bytes + off
                base_line += cut.newlines
                base_bytes += len(data)
        self.newlines, self.nbytes = base_line - 1, base_bytes

    def _stream(self, raw: bytes, offset: int) -> bytes | None:
        """One stream's bytes (streams after the last indexed one, e.g. the closing tag, included)."""
        if not _is_bz2_stream(raw[:10]):
            raise DataError(f"the multistream index {self.source['index']} does not match the dump "
                            f"{self.source['path']}: no bz2 stream starts at byte {offset}", path=self.source["index"])
        out, pos = [], 0
        try:
            while pos < len(raw):
                dec = bz2.BZ2Decompressor()
                out.append(dec.decompress(raw[pos:]))
                if not dec.eof:
                    raise EOFError("the stream ends before its end-of-stream marker")
                pos = len(raw) - len(dec.unused_data)
        except STREAM_ERRORS as exc:
            self.problems.append(problem("damaged_stream", self.source["path"], None, offset + pos,
                                         f"bz2 stream at compressed byte {offset + pos}: {type(exc).__name__}: {exc}"))
            return None
        return b"".join(out)

    def _cut(self, fh, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        last = end >= self.source["size"]
        for offset, at, kind in self.source.get("damaged", []):  # gzip members, found by the index pass
            if start <= at < end or (last and at >= end):
                what = "is damaged" if kind == "damaged_stream" else "ends before its end"
                self.problems.append(problem(kind, self.source["path"], None, offset,
                                             f"gzip member at compressed byte {offset} {what} (after {at} "
                                             "uncompressed bytes); reading went on at the next member"))
        cut = _Cutter(fh, start, end, self.unit, self.source["path"], self.problems, first=start == 0)
        yield from cut.records()
        if end >= self.source["size"]:  # the last range reads to the end, where damage shows
            cut._eof_pos()
        self.newlines, self.nbytes = cut.newlines, cut.stop - cut.first


class _Bytes:
    """An in-memory 'file' with the two methods the cutter uses."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def seek(self, pos: int) -> None:
        self.pos = pos

    def read(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


class _Cutter:
    """Cuts a seekable stream into the records that start in [start, end), with their line numbers.

    The first record is the first boundary at or after `start` (byte 0 is one; so is the byte after a
    newline for lines, and each `<page>` for pages). The range spans from that boundary (from 0 for
    the first range, so that the header's lines count) to the first boundary at or after `end`.
    """

    def __init__(self, fh, start: int, end: int, unit: str, path: str, problems: list, *, first: bool) -> None:
        self.fh, self.end, self.unit, self.path, self.problems = fh, end, unit, path, problems
        self.buf, self.base, self.eof = b"", 0, False
        self.newlines, self.first, self.stop = 0, 0, 0
        self._counted = 0  # buf position up to which newlines are counted
        seek = start - 1 if (unit == "line" and start > 0) else start
        fh.seek(seek)
        self._read = getattr(fh, "read1", fh.read)  # read() of the stdlib readers drops what precedes an error
        self.base = seek
        self.start, self.is_first = start, first

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            block = self._read(BLOCK)
        except READ_ERRORS as exc:
            self.problems.append(problem("truncated_stream", self.path, None, self.base + len(self.buf),
                                         f"{type(exc).__name__}: {exc}"))
            block = b""
        if not block:
            self.eof = True
            return False
        self.buf += block
        return True

    def _find(self, pattern: bytes, pos: int) -> int:
        """Absolute offset of `pattern` at or after absolute `pos`, reading on; -1 at EOF."""
        while True:
            i = self.buf.find(pattern, max(pos - self.base, 0))
            if i != -1:
                return self.base + i
            if not self._more():
                return -1

    def _count_to(self, pos: int) -> None:
        i = pos - self.base
        self.newlines += self.buf.count(b"\n", self._counted, i)
        self._counted = i

    def _drop_before(self, pos: int) -> None:
        i = pos - self.base
        if i > BLOCK:
            self.buf, self.base, self._counted = self.buf[i:], pos, self._counted - i

    def _boundary(self) -> int:
        """The first record start at or after `start` (-1: none before EOF)."""
        if self.is_first:
            return 0 if self.unit == "line" else self._find(PAGE_OPEN, 0)
        if self.unit == "line":
            nl = self._find(b"\n", self.base)
            return nl + 1 if nl != -1 else -1
        return self._find(PAGE_OPEN, self.start)

    def records(self) -> Iterator[tuple[bytes, int, int]]:
        pos = self._boundary()
        self.first = 0 if self.is_first else (pos if pos != -1 else self._eof_pos())
        self._counted = self.first - self.base
        while pos != -1 and pos < self.end:
            self._count_to(pos)
            line = self.newlines + 1
            if self.unit == "line":
                nl = self._find(b"\n", pos)
                nxt = nl + 1 if nl != -1 else self._eof_pos()
                if nxt > pos:
                    yield self.buf[pos - self.base:nxt - self.base], line, pos
                pos = nxt if nl != -1 else -1
            else:
                close = self._find(PAGE_CLOSE, pos)
                if close == -1:
                    self.problems.append(problem("truncated_page", self.path, line, pos, "page without </page>",
                                                 self.buf[pos - self.base:]))
                    pos = -1
                    break
                stop = close + len(PAGE_CLOSE)
                yield self.buf[pos - self.base:stop - self.base], line, pos
                pos = self._find(PAGE_OPEN, stop)
            if pos != -1:
                self._count_to(pos)
                self._drop_before(pos)
        if pos == -1:
            pos = self._eof_pos()
        self._count_to(pos)
        self.stop = pos

    def _eof_pos(self) -> int:
        while self._more():  # each call reads one more block into the buffer, until the end of the range
            continue
        return self.base + len(self.buf)
