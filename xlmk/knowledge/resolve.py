"""The (lang, title) -> QID index and the resolution of link targets through it.

The index is the `titles` table itself: one Parquet file sorted by (lang, title), so reading one
language touches only that language's row groups. It is never a Python dict: one language at a time
is loaded as Arrow columns (about 30 bytes per title in memory) and joined with Arrow's hash kernels.
Links are resolved in batches of many shards, so the hash table over a language's titles is built
once per batch, not once per shard.

Resolution of a link target t in language L: t itself when it is a title of L; otherwise, when t is a
redirect, its target, followed through at most `max_hops` redirects (a loop never reaches a title and
is dropped, as is a chain longer than `max_hops`).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

TITLES_ROW_GROUP = 1 << 20


def finalize_titles(chunk_files: list[Path], out_path: Path,
                    languages: list[str] | None = None) -> tuple[dict[str, int], int]:
    """Merge per-chunk title shards into one file sorted by (lang, title), keeping `languages` (None: all).

    Returns rows per language and the number of duplicates dropped: a (lang, title) or (lang, qid)
    pair seen twice (a dump is not an atomic snapshot; a page can move between two entities while
    it is written) keeps its first occurrence in dump order. Rows are spilled to one Arrow file per
    language first, so memory holds one language at a time.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from xlmk.io import atomic_path
    from xlmk.knowledge.schema import schema

    spill_schema = pa.schema([("title", pa.string()), ("qid", pa.string()), ("order", pa.int64())])
    counts: dict[str, int] = {}
    seen = order = 0
    with tempfile.TemporaryDirectory(dir=out_path.parent.parent, prefix=".titles-spill-") as spill:
        writers: dict[str, tuple] = {}
        for path in chunk_files:
            table = pq.read_table(path)
            n = table.num_rows
            table = table.append_column("order", pa.array(range(order, order + n), pa.int64()))
            order += n
            for lang in pc.unique(table["lang"]).to_pylist():
                if languages is not None and lang not in languages:
                    continue
                if lang not in writers:
                    file = Path(spill) / f"{len(writers)}.arrow"
                    writers[lang] = (pa.ipc.new_file(str(file), spill_schema), file)
                part = table.filter(pc.equal(table["lang"], lang)).drop_columns(["lang"])
                seen += part.num_rows
                writers[lang][0].write_table(part)
        for writer, _ in writers.values():
            writer.close()
        with atomic_path(out_path) as tmp:
            with pq.ParquetWriter(tmp, schema("titles"), compression="zstd") as out:
                for lang in sorted(writers):
                    with pa.memory_map(str(writers[lang][1])) as src:
                        rows = pa.ipc.open_file(src).read_all()
                    rows = _first_per_key(_first_per_key(rows, "title"), "qid").sort_by("title")
                    counts[lang] = rows.num_rows
                    lang_col = pa.array([lang] * rows.num_rows, pa.string())
                    out.write_table(pa.table([lang_col, rows["title"], rows["qid"]], schema=schema("titles")),
                                    row_group_size=TITLES_ROW_GROUP)
                if not writers:
                    out.write_table(schema("titles").empty_table())
    return counts, seen - sum(counts.values())


def _first_per_key(rows, key: str):
    """Keep the first row (smallest `order`) of each value of `key`."""
    import pyarrow as pa

    rows = rows.sort_by([(key, "ascending"), ("order", "ascending")])
    col = rows[key].combine_chunks()
    if len(col) < 2:
        return rows
    import pyarrow.compute as pc

    same = pc.equal(col.slice(1), col.slice(0, len(col) - 1))
    keep = pa.concat_arrays([pa.array([True]), pc.invert(same)])
    return rows.filter(keep).sort_by("order")


def load_titles(titles_path: Path, lang: str):
    """(title, qid) columns of one language from the titles file, reading only its row groups."""
    import pyarrow.parquet as pq

    return pq.read_table(titles_path, columns=["title", "qid"], filters=[("lang", "=", lang)])


def redirect_map(titles, redirects, max_hops: int):
    """(title, qid) for every redirect whose chain ends at a title within `max_hops` hops.

    `redirects` has columns src, dst (normalised); sources that are titles themselves are left out,
    since a title's own QID wins over its redirect.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if redirects.num_rows == 0 or titles.num_rows == 0:  # no title of the language: no chain can end at one
        return pa.table({"title": pa.array([], pa.string()), "qid": pa.array([], pa.string())})
    redirects = _first_per_key(redirects.append_column(
        "order", pa.array(range(redirects.num_rows), pa.int64())), "src")
    src, dst = redirects["src"].combine_chunks(), redirects["dst"].combine_chunks()
    title_col = titles["title"].combine_chunks()
    qid_col = titles["qid"].combine_chunks()
    keep = pc.invert(pc.is_in(src, value_set=title_col))
    src, dst = src.filter(keep), dst.filter(keep)
    found_qid = pa.nulls(len(src), pa.string())
    current = dst
    active = pc.is_valid(current)
    for _ in range(max_hops):
        hit = pc.index_in(current, value_set=title_col)
        newly = pc.and_(active, pc.is_valid(hit))
        found_qid = pc.if_else(newly, qid_col.take(pc.fill_null(hit, 0)), found_qid)
        active = pc.and_(active, pc.invert(newly))
        if not pc.any(active).as_py():
            break
        step = pc.index_in(current, value_set=src)
        active = pc.and_(active, pc.is_valid(step))
        current = pc.if_else(active, dst.take(pc.fill_null(step, 0)), current)
    ok = pc.is_valid(found_qid)
    return pa.table({"title": src.filter(ok), "qid": found_qid.filter(ok)})


def resolve_batch(targets, lookup):
    """QIDs for an array of normalised titles (null where unresolved); `lookup` has title, qid."""
    import pyarrow.compute as pc

    idx = pc.index_in(targets, value_set=lookup["title"].combine_chunks())
    return lookup["qid"].combine_chunks().take(idx)


def resolve_language(
    lang: str,
    shards: list[int],
    work: Path,
    out: Path,
    titles_path: Path,
    *,
    max_hops: int,
    batch_links: int,
    done: Callable[[int], bool],
    on_shard: Callable[[int, dict], None],
) -> None:
    """Write final mentions and descriptions shards of one language from its work shards.

    `done(i)` says a shard is already resolved (a resumed build skips it); `on_shard(i, counts)` is
    called after shard i's final files are in place.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from xlmk.knowledge.schema import schema
    from xlmk.knowledge.shards import write_table

    todo = [i for i in shards if not done(i)]
    if not todo:
        return
    titles = load_titles(titles_path, lang)
    redirects = pa.concat_tables([pq.read_table(work / f"r-{i:05d}.parquet") for i in shards])
    lookup = pa.concat_tables([titles, redirect_map(titles, redirects, max_hops)])
    del redirects

    batch: list[int] = []
    size = 0
    for pos, i in enumerate(todo):
        batch.append(i)
        size += pq.ParquetFile(work / f"m-{i:05d}.parquet").metadata.num_rows
        if size < batch_links and pos + 1 < len(todo):
            continue
        mentions = [pq.read_table(work / f"m-{j:05d}.parquet") for j in batch]
        descs = [pq.read_table(work / f"d-{j:05d}.parquet") for j in batch]
        m_qids = resolve_batch(pa.concat_arrays([m["target"].combine_chunks() for m in mentions]
                                                or [pa.array([], pa.string())]), lookup)
        d_qids = resolve_batch(pa.concat_arrays([d["title"].combine_chunks() for d in descs]
                                                or [pa.array([], pa.string())]), titles)
        mo = do = 0
        for j, m, d in zip(batch, mentions, descs):
            mq, dq = m_qids.slice(mo, m.num_rows), d_qids.slice(do, d.num_rows)
            mo, do = mo + m.num_rows, do + d.num_rows
            ok = pc.is_valid(mq)
            n = m.num_rows
            final_m = pa.table([pa.array([lang] * n, pa.string()), m["page_title"], m["text"], m["start"],
                                m["end"], mq], schema=schema("mentions")).filter(ok)
            dk = pc.is_valid(dq)
            final_d = pa.table([dq, pa.array([lang] * d.num_rows, pa.string()), d["title"], d["text"]],
                               schema=schema("descriptions")).filter(dk)
            write_table(out / "mentions" / f"part-{lang}-{j:05d}.parquet", final_m)
            write_table(out / "descriptions" / f"part-{lang}-{j:05d}.parquet", final_d)
            on_shard(j, {"mentions": final_m.num_rows, "unresolved": n - final_m.num_rows,
                         "descriptions": final_d.num_rows,
                         "articles_without_qid": d.num_rows - final_d.num_rows})
        batch, size = [], 0
