"""Columns written chunk by chunk to disk, so preparing data keeps no per-row Python objects.

`TokenArray` is the fairseq-style layout (one flat int32 `NAME.tokens` file plus `NAME.offsets.npy`);
`TokenWriter` appends whole batches to it; `Column` appends fixed-width rows to a raw file and turns it
into an ordinary `.npy` at the end by a block-wise copy behind the header (np.save would need the
whole array in memory). Memory stays at one batch, whatever the number of rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

COPY_BYTES = 1 << 20


class TokenArray:
    """Variable-length sequences stored flat: `NAME.tokens` (int32) and `NAME.offsets.npy` (int64, n + 1)."""

    def __init__(self, root: Path, name: str):
        self.offsets = np.load(root / f"{name}.offsets.npy", mmap_mode="r")
        total = int(self.offsets[-1])
        self.tokens = (np.memmap(root / f"{name}.tokens", dtype=np.int32, mode="r", shape=(total,))
                       if total else np.zeros(0, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[self.offsets[i]:self.offsets[i + 1]])

    def lengths(self) -> np.ndarray:
        return np.diff(np.asarray(self.offsets))


class Column:
    """Rows of a fixed dtype (and width) appended in batches; `close()` writes `NAME.npy`."""

    def __init__(self, root: Path, name: str, dtype, width: int | None = None):
        self.path, self.raw = root / f"{name}.npy", root / f".{name}.raw"
        self.dtype, self.width, self.n = np.dtype(dtype), width, 0
        self.fh = open(self.raw, "wb")

    def add(self, values) -> None:
        arr = np.ascontiguousarray(values, dtype=self.dtype)
        self.fh.write(arr.tobytes())
        self.n += len(arr)

    def close(self) -> None:
        """`.npy` header, then the raw rows copied through a small buffer (a memory map would count the
        whole array in the process's resident memory while it is copied)."""
        import shutil

        self.fh.close()
        shape = (self.n,) if self.width is None else (self.n, self.width)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        with open(self.path, "wb") as out, open(self.raw, "rb") as src:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(src, out, COPY_BYTES)
        self.raw.unlink()


class TokenWriter:
    """Appends sequences to `NAME.tokens`; the offsets go through a Column."""

    def __init__(self, root: Path, name: str):
        self.fh = open(root / f"{name}.tokens", "wb")
        self.offsets = Column(root, f"{name}.offsets", np.int64)
        self.offsets.add([0])
        self.end = 0

    def add_many(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        """Sequences given as their concatenation and their lengths."""
        self.fh.write(np.ascontiguousarray(flat, dtype=np.int32).tobytes())
        self.offsets.add(self.end + np.cumsum(lengths, dtype=np.int64))
        self.end += int(np.sum(lengths, dtype=np.int64))

    def __len__(self) -> int:
        return self.offsets.n - 1

    def close(self) -> None:
        self.fh.close()
        self.offsets.close()
