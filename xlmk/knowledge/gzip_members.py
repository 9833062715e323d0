"""A gzip file read member by member with the standard library, so that damage costs one member.

`rapidgzip` reads a sound gzip file faster and seeks anywhere; a file it refuses (a damaged member) or
a machine without it comes here. One pass maps the members (compressed offset, uncompressed start,
damage); a reader then seeks by member and, where a member is damaged, goes on at the next one.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

BLOCK = 1 << 20


_GZIP_MAGIC = b"\x1f\x8b\x08"


def _member(fh, pos: int) -> tuple[int, int, str | None]:
    """Decode the gzip member at compressed byte `pos`: (uncompressed bytes, compressed end, problem
    kind or None). Reads are BLOCK-sized from the member's start, so a reader repeating them decodes
    exactly the same bytes, damaged members included."""
    fh.seek(pos)
    dec, size, at = zlib.decompressobj(31), 0, pos
    while True:
        chunk = fh.read(BLOCK)
        if not chunk:
            return size, at, "truncated_stream"
        try:
            size += len(dec.decompress(chunk))
        except zlib.error:
            return size, at, "damaged_stream"
        if dec.eof:
            return size, at + len(chunk) - len(dec.unused_data), None
        at += len(chunk)


def gzip_members(path: Path) -> dict:
    """One pass over a gzip file, member by member: each member's compressed offset and uncompressed
    start, and its damage if any. After a damaged member, reading resumes at the next member that
    decodes (a gzip header found by its magic bytes), so the rest of the file is kept."""
    members, damaged, size = [], [], 0
    with open(path, "rb") as fh:
        end = os.fstat(fh.fileno()).st_size
        pos = 0
        while 0 <= pos < end:
            n, stop, kind = _member(fh, pos)
            members.append([pos, size])
            size += n
            if kind is None:
                pos = stop
                continue
            damaged.append([pos, size, kind])
            pos = _next_member(fh, pos + 1, end)
    return {"size": size, "members": members, "damaged": damaged}


def _next_member(fh, pos: int, end: int) -> int:
    """Offset of the next gzip member at or after `pos` that decodes at least in part; -1 when none."""
    while pos < end:
        fh.seek(pos)
        window = fh.read(BLOCK + 2)
        i = window.find(_GZIP_MAGIC)
        if i == -1:
            pos += BLOCK
            continue
        if _member(fh, pos + i)[2] is None:  # a whole member (its CRC checked): not a chance match
            return pos + i
        pos += i + 1
    return -1


class GzipMembers:
    """The uncompressed bytes of a gzip file's members, seekable by member (`gzip_members`'s map):
    a damaged member ends where its decoding failed and the next member follows."""

    def __init__(self, path: str, members: list) -> None:
        self.fh = open(path, "rb")
        self.members, self.starts = members, [u for _, u in members]
        self.k, self.dec, self.pending, self.done = -1, None, b"", True

    def _open(self, k: int) -> None:
        self.k, self.dec, self.pending, self.done = k, zlib.decompressobj(31), b"", False
        self.fh.seek(self.members[k][0])

    def seek(self, pos: int) -> None:
        import bisect

        k = max(bisect.bisect_right(self.starts, pos) - 1, 0)
        if not self.members:
            return
        self._open(k)
        skip = pos - self.starts[k]
        while skip > 0:
            got = self.read1(min(skip, BLOCK))
            if not got:
                break
            skip -= len(got)

    def read1(self, n: int) -> bytes:
        while not self.pending:
            if self.done:
                if self.k + 1 >= len(self.members):
                    return b""
                self._open(self.k + 1)
            chunk = self.fh.read(BLOCK)
            try:
                self.pending = self.dec.decompress(chunk) if chunk else b""
            except zlib.error:
                self.pending = b""
                self.done = True
                continue
            self.done = not chunk or self.dec.eof
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    read = read1

    def close(self) -> None:
        self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
