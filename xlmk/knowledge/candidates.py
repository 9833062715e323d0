"""Candidate lists of entity descriptions for XEP/XOR probing and for fixed evaluation queues.

A candidate list is N rows of the `descriptions` table (qid, lang, title, text) drawn uniformly over
all descriptions of the chosen languages, whatever their language ("language agnostic" in the
paper's Appendix B). The draw is deterministic for a seed and streams the table: only the `lang`
(and, for `must_include`, the `qid`) column is scanned in full, and text is read only for the row
groups that hold a chosen row, so a 32k list from a full-size knowledge directory fits in memory.
A QID may appear once per language; a probe should judge a hit by QID.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from xlmk.errors import DataError, XlmkError
from xlmk.knowledge.schema import table_files

if TYPE_CHECKING:
    import pyarrow as pa

CANDIDATES_VERSION = 1  # bump when the drawing procedure changes (it invalidates caches)
COLUMNS = ["qid", "lang", "title", "text"]


def _eligible_rows(path: Path, languages: set[str] | None, wanted: set[tuple[str, str]]):
    """Row numbers in one file: (eligible rows as a numpy array, {(qid, lang): row} for wanted pairs)."""
    import numpy as np
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    cols = ["lang"] + (["qid"] if wanted else [])
    found: dict[tuple[str, str], int] = {}
    if languages is None and not wanted:
        return np.arange(pf.metadata.num_rows, dtype=np.int64), found
    table = pf.read(columns=cols)
    langs = table.column("lang").to_pylist()
    if wanted:
        for row, (qid, lang) in enumerate(zip(table.column("qid").to_pylist(), langs)):
            if (qid, lang) in wanted:
                found.setdefault((qid, lang), row)
    if languages is None:
        return np.arange(len(langs), dtype=np.int64), found
    mask = np.fromiter((lang in languages for lang in langs), dtype=bool, count=len(langs))
    return np.flatnonzero(mask).astype(np.int64), found


def _read_rows(path: Path, rows) -> "pa.Table":
    """Read the given row numbers (sorted, unique) of one Parquet file, one row group at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    pieces, start = [], 0
    for rg in range(pf.metadata.num_row_groups):
        size = pf.metadata.row_group(rg).num_rows
        local = rows[(rows >= start) & (rows < start + size)] - start
        if len(local):
            pieces.append(pf.read_row_group(rg, columns=COLUMNS).take(pa.array(local)))
        start += size
    if not pieces:
        return pa.table({c: pa.array([], pa.string()) for c in COLUMNS})
    return pa.concat_tables(pieces)


def build_candidate_list(
    kdir: str | Path,
    n: int,
    *,
    seed: int = 0,
    languages: list[str] | None = None,
    must_include: Iterable[tuple[str, str]] | None = None,
) -> "pa.Table":
    """Draw `n` descriptions (columns qid, lang, title, text) from the knowledge directory `kdir`.

    `must_include` lists (qid, lang) pairs that must be in the list (the gold answers of probe
    queries); the rest is drawn uniformly without replacement from the other eligible rows. Rows
    come back in a seeded random order, so gold answers do not sit at the front. When fewer than `n`
    rows are eligible, all of them are returned.
    """
    import numpy as np
    import pyarrow as pa

    if n <= 0:
        raise XlmkError(f"candidate list size must be positive, got {n}")
    files = table_files(kdir, "descriptions")
    if not files:
        raise DataError("no descriptions table (descriptions/*.parquet)", path=Path(kdir))
    langs = set(languages) if languages is not None else None
    wanted = list(dict.fromkeys((str(q), str(l)) for q, l in (must_include or [])))
    if len(wanted) > n:
        raise XlmkError(f"must_include holds {len(wanted)} pairs, more than the list size {n}")
    if langs is not None:
        outside = [p for p in wanted if p[1] not in langs]
        if outside:
            raise XlmkError(f"must_include pairs outside languages {sorted(langs)}: {outside[:5]}")

    per_file, found = [], {}
    for path in files:
        rows, hits = _eligible_rows(path, langs, set(wanted))
        for pair, row in hits.items():
            found.setdefault(pair, (path, row))
        per_file.append(rows)
    missing = [p for p in wanted if p not in found]
    if missing:
        raise DataError(f"must_include pairs with no description: {missing[:5]}"
                        + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""),
                        path=Path(kdir) / "descriptions")

    forced: dict[Path, set[int]] = {}
    for path, row in found.values():
        forced.setdefault(path, set()).add(row)
    # Drop forced rows from the pool so a gold answer is never drawn twice.
    pools = [
        np.setdiff1d(rows, np.fromiter(forced.get(path, ()), dtype=np.int64), assume_unique=True)
        for path, rows in zip(files, per_file)
    ]
    total = sum(len(p) for p in pools)
    rng = np.random.default_rng(seed)
    k = min(n - len(found), total)
    ranks = np.sort(rng.choice(total, size=k, replace=False)) if k else np.array([], dtype=np.int64)

    pieces, offset = [], 0
    for path, pool in zip(files, pools):
        mine = ranks[(ranks >= offset) & (ranks < offset + len(pool))] - offset
        rows = np.union1d(pool[mine], np.fromiter(forced.get(path, ()), dtype=np.int64))
        if len(rows):
            pieces.append(_read_rows(path, rows))
        offset += len(pool)
    table = pa.concat_tables(pieces) if pieces else _read_rows(files[0], np.array([], dtype=np.int64))
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _cache_key(kdir: Path, n: int, seed: int, languages, must_include) -> str:
    """Identify the knowledge (manifest hash, else file names and sizes) and the drawing options."""
    from xlmk.io import sha256_file

    manifest = kdir / "manifest.json"
    if manifest.is_file():
        source = sha256_file(manifest)
    else:
        source = [(p.name, p.stat().st_size) for p in table_files(kdir, "descriptions")]
    blob = json.dumps(
        {
            "v": CANDIDATES_VERSION,
            "source": source,
            "n": n,
            "seed": seed,
            "languages": sorted(languages) if languages is not None else None,
            "must_include": sorted({tuple(p) for p in must_include or []}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_or_build_candidates(
    kdir: str | Path,
    n: int,
    seed: int,
    cache_dir: str | Path,
    *,
    languages: list[str] | None = None,
    must_include: Iterable[tuple[str, str]] | None = None,
) -> "pa.Table":
    """`build_candidate_list`, cached as `cache_dir/candidates-<key>.parquet` (written atomically).

    The key covers the knowledge directory's manifest and every drawing option, so a rebuilt
    knowledge directory or a different seed never reuses a stale list.
    """
    import pyarrow.parquet as pq

    from xlmk.io import atomic_path

    kdir = Path(kdir)
    must_include = list(must_include or [])
    path = Path(cache_dir) / f"candidates-{_cache_key(kdir, n, seed, languages, must_include)}.parquet"
    if path.is_file():
        return pq.read_table(path)
    table = build_candidate_list(kdir, n, seed=seed, languages=languages, must_include=must_include)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return table
