"""`manifest.json` of a knowledge directory: what went in, what came out, what was skipped.

It is assembled from the per-shard markers (not from this run's memory), so a build resumed after a
crash reports the same counts as one that ran through. `knowledge_stats` reads it back and checks that
every shard it lists is present with the rows it says, and that no shard is there that it does not list.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from xlmk.errors import DataError
from xlmk.knowledge.malformed import MalformedLog
from xlmk.knowledge.options import BUILDER_VERSION
from xlmk.knowledge.schema import TABLES, table_files

MANIFEST_VERSION = 2


def _markers(folder: Path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{prefix}-*.json"))]


def _files(out: Path, table: str) -> dict[str, int]:
    from xlmk.contracts import parquet_info  # a damaged shard is an error naming it

    return {p.name: parquet_info(p)[0] for p in table_files(out, table)}


def globalise(item: dict, base: tuple[int, int] | None, local_offsets: bool) -> dict:
    """A problem's line (and, for a multistream range, byte offset) counted from the file's start;
    with `base` None (an earlier shard not done yet) the line stays counted from the shard's start."""
    item = dict(item)
    if base is None:
        if item.get("line") is not None:
            item["message"] += " (line counted from the start of its shard)"
        return item
    if item.get("line") is not None:
        item["line"] += base[0]
    if local_offsets and item.get("byte_offset") is not None and item["kind"] != "damaged_stream":
        item["byte_offset"] += base[1]
    return item


def range_bases(work: Path, path: str, upto: int) -> tuple[int, int] | None:
    """(lines, bytes) of the file `path` before shard `upto` of `work`, from the markers of its earlier
    shards of the same file; None when one of them is not done yet."""
    lines = nbytes = 0
    for i in range(upto - 1, -1, -1):
        marker = work / f"done-{i:05d}.json"
        if not marker.is_file():
            return None
        m = json.loads(marker.read_text())
        if m["path"] != path:
            break
        lines, nbytes = lines + m["newlines"], nbytes + m["nbytes"]
    return lines, nbytes


def _read_markers(work: Path, malformed: MalformedLog) -> Counter:
    """Sum the stats of a work folder's read markers and fold in their problems, located in the file."""
    stats: Counter = Counter()
    base, path = (0, 0), None
    for m in _markers(work, "done"):
        if m["path"] != path:
            base, path = (0, 0), m["path"]
        stats.update(m["stats"])
        examples = {kind: [globalise(x, base, m["local_offsets"]) for x in items]
                    for kind, items in m["malformed"]["examples"].items()}
        malformed.merge_counts(m["malformed"]["counts"], examples)
        base = (base[0] + m["newlines"], base[1] + m["nbytes"])
    return stats


def ensure_tables(out: Path) -> None:
    """Every table directory holds at least one (possibly empty) shard, so readers find its schema."""
    from xlmk.knowledge.shards import empty_table, write_table

    for table in TABLES:
        if not table_files(out, table):
            write_table(out / table / "part-00000.parquet", empty_table(table))


def assemble_manifest(out: Path, state: dict, fingerprint: str, languages: list[str] | None) -> dict:
    """The manifest of the directory `out`, from its markers and its state (the inputs, hashed).

    Nothing in it depends on how the build ran (workers, engine, shard split, timing), so two builds
    of the same inputs write the same bytes; a run's timings go to `_work/last-run.json`."""
    from xlmk.results import xlmk_version

    work = out / "_work"
    malformed = MalformedLog()
    wikidata_stats = _read_markers(work / "wikidata", malformed)
    titles_info = {}
    if (work / "wikidata" / "titles.json").is_file():
        titles_info = json.loads((work / "wikidata" / "titles.json").read_text())

    wikipedia, links, mentions_by_lang, descriptions_by_lang = {}, {}, {}, {}
    wiki = work / "wiki"
    for lang in sorted(p.name for p in wiki.iterdir() if p.is_dir()) if wiki.is_dir() else []:
        stats = _read_markers(work / "wiki" / lang, malformed)
        resolved: Counter = Counter()
        for m in _markers(work / "wiki" / lang, "resolved"):
            resolved.update({k: v for k, v in m.items() if k != "index"})
        wikipedia[lang] = dict(sorted(stats.items()))
        links[lang] = {
            "resolved": resolved["mentions"],
            "unresolved": resolved["unresolved"],
            "by_kind": {k[len("links_"):]: v for k, v in sorted(stats.items()) if k.startswith("links_")},
        }
        mentions_by_lang[lang] = resolved["mentions"]
        descriptions_by_lang[lang] = resolved["descriptions"]
        wikipedia[lang]["articles_without_qid"] = resolved["articles_without_qid"]

    tables = {t: {"rows": 0, "files": _files(out, t)} for t in TABLES}
    for t in TABLES:
        tables[t]["rows"] = sum(tables[t]["files"].values())
    tables["titles"]["by_lang"] = titles_info.get("by_lang", {})
    tables["mentions"]["by_lang"] = mentions_by_lang
    tables["descriptions"]["by_lang"] = descriptions_by_lang
    wikidata_stats["titles_duplicates_dropped"] = titles_info.get("duplicates_dropped", 0)
    inputs = []
    for key, entry in sorted(state["inputs"].items(), key=lambda kv: (kv[0] != "wikidata", kv[0])):
        for src in entry["sources"] or []:
            inputs.append({"role": "wikidata" if key == "wikidata" else "wikipedia",
                           **({"lang": entry["lang"], "format": entry["format"]} if entry.get("lang") else {}),
                           "path": src["path"], "size": src["compressed_size"], "compression": src["compression"],
                           "reader": src["reader"].replace("-stdlib", ""), "sha256": src["sha256"]})
    return {
        "manifest_version": MANIFEST_VERSION,
        "builder_version": BUILDER_VERSION,
        "xlmk_version": xlmk_version(),
        "fingerprint": fingerprint,
        "languages": languages,
        "inputs": inputs,
        "tables": tables,
        "links": links,
        "wikidata": dict(sorted(wikidata_stats.items())),
        "wikipedia": wikipedia,
        "malformed": malformed.summary(),
        "options": state["options"],
    }


def _group_examples(items: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for item in items:
        grouped.setdefault(item["kind"], []).append(item)
    return grouped


def knowledge_stats(kdir: str | Path) -> dict:
    """Counts per table and language from the manifest, after checking every listed shard.

    Raises DataError naming the first shard that is missing or whose row count differs.
    """
    from xlmk.contracts import check_finished

    kdir = Path(kdir)
    manifest = check_finished(kdir)
    present = {t: _files(kdir, t) for t in TABLES}
    for table, info in manifest["tables"].items():
        for name, rows in info["files"].items():
            if name not in present[table]:
                raise DataError("shard listed in the manifest is missing", path=kdir / table / name)
            if present[table][name] != rows:
                raise DataError(f"shard holds {present[table][name]} rows, the manifest says {rows}",
                                path=kdir / table / name)
    # shards the manifest does not list: another build wrote into this directory, or its manifest is stale
    for table, files in present.items():
        listed = manifest["tables"].get(table, {}).get("files", {})
        extra = sorted(set(files) - set(listed))
        if extra:
            raise DataError(f"{len(extra)} shard(s) of table {table} are not in the manifest ({', '.join(extra[:3])}"
                            f"{', …' if len(extra) > 3 else ''}): the manifest does not describe this directory; "
                            "rebuild it with `xlmk knowledge build --fresh`", path=kdir / "manifest.json")
    return {
        "tables": {t: {"rows": i["rows"], "files": len(i["files"]), "by_lang": i.get("by_lang")}
                   for t, i in manifest["tables"].items()},
        "links": manifest["links"],
        "malformed": manifest["malformed"]["by_kind"],
        "inputs": [{k: i.get(k) for k in ("role", "lang", "path", "size")} for i in manifest["inputs"]],
        "builder_version": manifest["builder_version"],
    }
