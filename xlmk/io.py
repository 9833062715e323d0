"""Atomic writes and hashing: a reader never sees a half-written shard, checkpoint or manifest.

A write that fails because the disk is full (ENOSPC, a full quota, or torch's serializer reporting the
short write as "unexpected pos") leaves the previous file or directory as it was, removes its temporary
and raises `DiskFullError` naming the path it was writing.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from xlmk.errors import XlmkError

FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(XlmkError):
    """No space left while writing `path`; the previous version of `path` is intact."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        super().__init__(f"disk full while writing {path} (no space left on device); the previous version "
                         "is intact: free some space and run the command again")


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is a full disk."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, DiskFullError) or (isinstance(exc, OSError) and exc.errno in FULL):
            return True
        text = str(exc)
        # torch's zip writer and some C extensions report a short write only as text
        if "No space left on device" in text or "Disk quota exceeded" in text or (
                isinstance(exc, RuntimeError) and "unexpected pos" in text):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@contextlib.contextmanager
def disk_full_as_error(path: str | Path) -> Iterator[None]:
    """Turn a full disk inside the block into a `DiskFullError` naming `path` (the outermost path wins:
    a file inside a checkpoint being written is reported as the checkpoint)."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFullError(path) from None
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one `os.replace`."""
    path = Path(path)
    with disk_full_as_error(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        with disk_full_as_error(path):
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; the result is an ordinary file
            os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; on success it is renamed to `path`.

    An existing `path` is replaced (moved aside first, then removed), so a reader sees either the old
    complete directory or the new complete one.
    """
    import shutil

    path = Path(path)
    with disk_full_as_error(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with disk_full_as_error(path):
            yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def append_text(path: str | Path, text: str) -> None:
    """Append `text` in one write and fsync; on a full disk the file is cut back to its old end."""
    path = Path(path)
    with disk_full_as_error(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            start = fh.tell()
            try:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    fh.truncate(start)  # no half line for a reader; truncating frees, never needs, space
                raise


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=False) + "\n")


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_tree(path: str | Path) -> str:
    """One hash over every file below `path` (relative names and contents), in sorted order."""
    root = Path(path)
    if root.is_file():
        return sha256_file(root)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


COMPRESSED_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def corpus_language(path: str | Path) -> str:
    """The language of a corpus file, its name before `.txt`: `en.txt`, `en.txt.xz` (CC-100), `en.zst` -> `en`."""
    name = Path(path).name
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name[:-4] if name.endswith(".txt") else Path(name).stem


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines log (metrics, history), skipping a line a killed writer left half-written."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
