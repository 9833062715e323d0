"""The shard tasks of a knowledge build: plain functions of a picklable job dict, run anywhere.

Each function runs in a worker (a spawned process or a Ray task) and touches only its own files:
- `streams_task`: a multistream dump's stream offsets, read from its index (cached under `_work/index/`);
- `input_task`: one input's sha256 and, for a compressed dump without a multistream index, its block
  index (the one full pass a range plan needs), cached under `_work/index/`;
- `read_task`: one range of one input -> that shard's work files (Wikidata: triples, relations and
  the shard's titles of every Wikipedia language; Wikipedia: unresolved mentions, descriptions,
  redirects);
- `titles_task`: the merge of the title shards into the titles table;
- `resolve_task`: one language's link resolution, which writes its final shards and their markers;
- `manifest_task`: the manifest, from the markers and the final shards' footers.

Testing aid: a job may carry `fault` ("SHARD_ID:die|raise:TIMES", from XLMK_KNOWLEDGE_FAULT) to make
the task with that id die (as a lost machine would) or raise, the first TIMES times it runs.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

FAULT_ENV = "XLMK_KNOWLEDGE_FAULT"
EXIT_AFTER_ENV = "XLMK_KNOWLEDGE_EXIT_AFTER_SHARDS"
_markers_written = 0


def write_marker(path: Path, data: dict) -> None:
    """A shard's marker (its completion record). Testing aid: EXIT_AFTER_ENV=N exits abruptly, as a
    crash would, after the N-th marker written by this process."""
    global _markers_written
    from xlmk.io import atomic_write_json

    atomic_write_json(path, data, indent=None)
    _markers_written += 1
    limit = int(os.environ.get(EXIT_AFTER_ENV, "0") or 0)
    if limit and _markers_written >= limit:
        os._exit(75)


def input_task(job: dict) -> dict:
    """{path, size, compression, sha256, reader, …}: the input described, hashed and indexed."""
    from xlmk.io import sha256_file
    from xlmk.knowledge.dumps import compression_of
    from xlmk.knowledge.ranges import index_job, source_key

    source, cache = dict(job["source"]), Path(job["cache_dir"])
    path = Path(source["path"])
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{source_key(path)}.lock", "w") as lock:  # one builder per index, others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest_file = cache / f"{source_key(path)}.sha256"
        if not digest_file.is_file():
            from xlmk.io import atomic_write_text

            atomic_write_text(digest_file, sha256_file(path))
        if "size" not in source:
            try:
                source = index_job(source, cache, job.get("threads", 1))
            except (RuntimeError, ValueError, OSError, EOFError):
                # the package could not index a damaged file: the standard library reads it up to the damage
                source = index_job({**source, "reader": f"{source['reader'].split('-')[0]}-stdlib"}, cache, 1)
    source.pop("streams", None)  # the coordinator has them; they need not travel back
    return {**source, "sha256": digest_file.read_text(), "compression": compression_of(path),
            "compressed_size": path.stat().st_size}


def _fault(job: dict) -> None:
    spec = job.get("fault")
    if not spec:
        return
    target, mode, times = spec.rsplit(":", 2)
    if target != job["id"]:
        return
    tries = Path(job["fault_dir"]) / job["id"].replace("/", "-")
    tries.parent.mkdir(parents=True, exist_ok=True)
    with open(tries, "a") as fh:
        fh.write("x")
    if tries.stat().st_size <= int(times):
        if mode == "die":
            os._exit(3)
        raise RuntimeError(f"injected fault in {job['id']}")


_SITES: dict[tuple, object] = {}


def _site(site):
    """One SiteInfo per language in a worker, so its cache of classified link targets lasts across shards."""
    key = (site.lang, site.dbname, site.case, tuple(sorted(site.namespaces.items())))
    return _SITES.setdefault(key, site)


def read_task(job: dict) -> dict:
    """Read one range and process its records; returns the shard's counts, problems (lines counted
    from the range's first line) and the range's extent (`newlines`, `nbytes`)."""
    from xlmk.knowledge.ranges import RangeRead

    _fault(job)
    role = job["role"]
    reader = RangeRead(job["source"], job["range"], "page" if role == "pages" else "line")
    records = list(reader.records())
    common = {"index": job["index"], "path": job["source"]["path"], "work_dir": job["work_dir"]}
    if role == "wikidata":
        from xlmk.knowledge.wikidata import process_chunk

        first = records[0] if records else (b"", 1, 0)
        result = process_chunk({**common, "first_line": first[1], "first_offset": first[2],
                                "lines": [r[0] for r in records], "languages": None,
                                "out_dir": job["out_dir"]})
    elif role == "pages":
        from xlmk.knowledge.wikipedia import process_pages

        result = process_pages({**common, "site": _site(job["site"]), "pages": records,
                                "description_chars": job["description_chars"]})
    else:
        from xlmk.knowledge.wikiextractor import process_lines

        result = process_lines({**common, "site": _site(job["site"]), "pages": [r for r in records if r[0].strip()],
                                "description_chars": job["description_chars"]})
    result["problems"] = reader.problems + result["problems"]
    return {**result, "id": job["id"], "path": job["source"]["path"], "newlines": reader.newlines,
            "nbytes": reader.nbytes, "local_offsets": reader.local_offsets,
            "range": {k: v for k, v in job["range"].items() if k != "streams"}}


def titles_task(job: dict) -> dict:
    """Merge the Wikidata title shards into `titles/part-00000.parquet` for the chosen languages."""
    from xlmk.knowledge.resolve import finalize_titles

    counts, dropped = finalize_titles([Path(p) for p in job["chunks"]], Path(job["out"]), job["languages"])
    return {"by_lang": counts, "duplicates_dropped": dropped}


def resolve_task(job: dict) -> dict:
    """Resolve one language's links (skipping shards already resolved); returns the shards it did."""
    from xlmk.knowledge.resolve import resolve_language

    work, out = Path(job["work_dir"]), Path(job["out_dir"])
    done_now: list[int] = []

    def done(i: int) -> bool:
        return (work / f"resolved-{i:05d}.json").is_file()

    def on_shard(i: int, counts: dict) -> None:
        write_marker(work / f"resolved-{i:05d}.json", {"index": i, **counts})
        done_now.append(i)

    for table in ("mentions", "descriptions"):
        (out / table).mkdir(parents=True, exist_ok=True)
    resolve_language(job["lang"], job["shards"], work, out, out / "titles" / "part-00000.parquet",
                     max_hops=job["max_hops"], batch_links=job["batch_links"], done=done, on_shard=on_shard)
    return {"lang": job["lang"], "resolved": done_now}


def streams_task(job: dict) -> dict:
    """{streams: [(offset, pages), …]} of a multistream dump, from its index (cached under cache_dir)."""
    from xlmk.knowledge.ranges import cached_streams

    return {"streams": cached_streams(job["source"], Path(job["cache_dir"]))}


def manifest_task(job: dict) -> dict:
    """Give every table at least an empty shard, then assemble the manifest from the markers and the
    shards' Parquet footers (the coordinator need not load pyarrow for it)."""
    from xlmk.knowledge.manifest import assemble_manifest, ensure_tables

    out = Path(job["out"])
    ensure_tables(out)
    return assemble_manifest(out, job["state"], job["fingerprint"], job["languages"])


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
