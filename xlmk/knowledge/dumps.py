"""Open a dump as a stream of uncompressed bytes, whatever its compression (plain, gzip, bzip2).

The compression is read from the magic bytes, not the suffix (dumps get renamed). The compressed bytes
are counted (for progress bars) and hashed as they stream past, so the manifest's sha256 costs no
second pass over a 100 GB file. Multi-stream bzip2 (the Wikimedia dumps) is read as one stream.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import zlib
from pathlib import Path

# Errors a damaged compressed stream raises part-way: truncation (EOFError), bad data (OSError,
# zlib.error). Readers catch these, report the position and stop reading that input.
STREAM_ERRORS = (EOFError, OSError, zlib.error)


class _Tap(io.RawIOBase):
    """A raw file that counts and hashes every byte read through it."""

    def __init__(self, fh) -> None:
        self._fh = fh
        self.count = 0
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._fh.readinto(buffer)
        if n:
            self.count += n
            self.sha.update(memoryview(buffer)[:n])
        return n

    def drain(self) -> None:
        """Read what is left so that the hash covers the whole file even after an early stop."""
        block = bytearray(1 << 20)
        while self.readinto(block) > 0:
            continue

    def close(self) -> None:
        self._fh.close()
        super().close()


def compression_of(path: str | Path) -> str:
    """'gzip', 'bz2' or 'plain', from the first bytes of the file."""
    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"BZh":
        return "bz2"
    return "plain"


class Dump:
    """A dump opened for streaming: iterate `stream` (bytes), read `compressed_bytes` for progress,
    call `finish()` at the end for the file's size and sha256."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self.compression = compression_of(self.path)
        self._tap = _Tap(open(self.path, "rb"))
        raw = io.BufferedReader(self._tap, buffer_size=1 << 20)
        if self.compression == "gzip":
            self.stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif self.compression == "bz2":
            self.stream = bz2.BZ2File(raw, mode="rb")
        else:
            self.stream = raw

    @property
    def compressed_bytes(self) -> int:
        return self._tap.count

    def finish(self) -> dict:
        """Close the stream and describe the file: path, size, compression, sha256."""
        self._tap.drain()
        digest = self._tap.sha.hexdigest()
        self.close()
        return {"path": str(self.path), "size": self.size, "compression": self.compression,
                "sha256": digest}

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self._tap.close()

    def __enter__(self) -> "Dump":
        return self

    def __exit__(self, *exc) -> None:
        if not self._tap.closed:
            self.close()
