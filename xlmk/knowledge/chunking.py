"""Cutting a dump's byte stream into shards whose boundaries depend on the input only.

A shard closes after the line (or page) that brings it to `max_items` items or `max_bytes` bytes,
whichever comes first, so the same input and options always give the same shards, whatever the
compression, the number of workers, or where a previous run was killed.
"""
from __future__ import annotations

from typing import Callable, Iterator

from xlmk.knowledge.dumps import STREAM_ERRORS
from xlmk.knowledge.malformed import problem

READ = 4 << 20


def line_blocks(dump, max_lines: int, max_bytes: int,
                on_problem: Callable[[dict], None]) -> Iterator[tuple[bytes, int, int, int]]:
    """(block of whole lines, first line number, first byte offset, line count) of a dump.

    The main process only finds line ends (bytes.find, in C) and hands each block on as one bytes
    object; splitting into lines and parsing happen in the workers. A damaged compressed stream
    ends the input: what was decoded before it is kept (a cut-off last line included, which then
    fails to parse and is reported) and the damage goes to `on_problem`.
    """
    buf = bytearray()
    line, offset = 1, 0  # of buf[0]
    pos, count = 0, 0  # scan state inside buf: lines counted up to pos
    eof = False
    while True:
        cut = None
        while cut is None:
            nl = buf.find(b"\n", pos)
            if nl == -1:
                break
            pos, count = nl + 1, count + 1
            if count >= max_lines or pos >= max_bytes:
                cut = pos
        if cut is None and eof:
            if buf:
                yield bytes(buf), line, offset, count + (0 if buf.endswith(b"\n") else 1)
            return
        if cut is None:
            try:
                block = dump.stream.read1(READ)
            except STREAM_ERRORS as exc:
                on_problem(problem("truncated_stream", str(dump.path), None, offset + len(buf),
                                   f"{type(exc).__name__}: {exc}"))
                block = b""
            eof = not block
            buf += block
            continue
        yield bytes(buf[:cut]), line, offset, count
        del buf[:cut]
        line, offset, pos, count = line + count, offset + cut, 0, 0


def group(items: Iterator[tuple[bytes, int, int]], max_items: int, max_bytes: int):
    """Group (bytes, line, offset) items (pages, lines) into lists closed by count or size."""
    chunk, size = [], 0
    for item in items:
        chunk.append(item)
        size += len(item[0])
        if len(chunk) >= max_items or size >= max_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
