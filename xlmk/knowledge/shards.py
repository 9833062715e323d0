"""Writing and reading the Parquet shards of a knowledge directory, always atomically.

A shard is written to a temporary file beside its final name and renamed into place, so a reader
(or a resumed build) sees a shard either whole or not at all. Shards are written with fixed options
(zstd, 64k-row groups, statistics on) so that two builds of the same input are byte-identical.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xlmk.knowledge.schema import COLUMNS, schema

ROW_GROUP = 65_536


def to_table(table: str, rows: Sequence[tuple]):
    """An Arrow table of `table`'s schema from row tuples (in schema column order)."""
    import pyarrow as pa

    sch = schema(table)
    columns = list(zip(*rows)) if rows else [[] for _ in COLUMNS[table]]
    return pa.Table.from_arrays([pa.array(col, type=f.type) for col, f in zip(columns, sch)], schema=sch)


def write_table(path: str | Path, data, *, row_group_size: int = ROW_GROUP) -> None:
    """Write an Arrow table to `path` atomically (temporary file, then os.replace)."""
    import pyarrow.parquet as pq

    from xlmk.io import atomic_path

    with atomic_path(path) as tmp:
        pq.write_table(data, tmp, compression="zstd", row_group_size=row_group_size)


def write_rows(path: str | Path, table: str, rows: Sequence[tuple]) -> None:
    write_table(path, to_table(table, rows))


def empty_table(table: str):
    return to_table(table, [])
