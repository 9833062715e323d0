"""`manifest.json` of a knowledge directory: what went in, what came out, what was skipped.

It is assembled from the per-shard markers (not from this run's memory), so a build resumed after a
crash reports the same counts as one that ran through. `knowledge_stats` reads it back and checks that
every shard it lists is present with the rows it says, and that no shard is there that it does not list.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from xlmk.errors import DataError
from xlmk.knowledge.malformed import MalformedLog
from xlmk.knowledge.options import BUILDER_VERSION
from xlmk.knowledge.schema import TABLES, table_files

MANIFEST_VERSION = 1


def _markers(folder: Path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob(f"{prefix}-*.json"))]


def _files(out: Path, table: str) -> dict[str, int]:
    from xlmk.contracts import parquet_info  # a damaged shard is an error naming it

    return {p.name: parquet_info(p)[0] for p in table_files(out, table)}


def assemble_manifest(run, fingerprint: str, languages: list[str] | None) -> dict:
    """The manifest of the build `run` (a `build._Run`), from its markers and its record of inputs."""
    from xlmk.results import xlmk_version

    out, work = run.out, run.work
    malformed = MalformedLog()
    wikidata_stats: Counter = Counter()
    for m in _markers(work / "wikidata", "done"):
        wikidata_stats.update(m["stats"])
        malformed.merge_counts(m["malformed"]["counts"], m["malformed"]["examples"])
    titles_info = {}
    if (work / "wikidata" / "titles.json").is_file():
        titles_info = json.loads((work / "wikidata" / "titles.json").read_text())

    wikipedia, links, mentions_by_lang, descriptions_by_lang = {}, {}, {}, {}
    wiki = work / "wiki"
    for lang in sorted(p.name for p in wiki.iterdir() if p.is_dir()) if wiki.is_dir() else []:
        stats: Counter = Counter()
        for m in _markers(work / "wiki" / lang, "done"):
            stats.update(m["stats"])
            malformed.merge_counts(m["malformed"]["counts"], m["malformed"]["examples"])
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
    malformed.merge_counts(Counter(p["kind"] for p in run.stream_problems),
                           _group_examples(run.stream_problems))

    tables = {t: {"rows": 0, "files": _files(out, t)} for t in TABLES}
    for t in TABLES:
        tables[t]["rows"] = sum(tables[t]["files"].values())
    tables["titles"]["by_lang"] = titles_info.get("by_lang", {})
    tables["mentions"]["by_lang"] = mentions_by_lang
    tables["descriptions"]["by_lang"] = descriptions_by_lang
    wikidata_stats["titles_duplicates_dropped"] = titles_info.get("duplicates_dropped", 0)
    return {
        "manifest_version": MANIFEST_VERSION,
        "builder_version": BUILDER_VERSION,
        "xlmk_version": xlmk_version(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": fingerprint,
        "languages": languages,
        "inputs": run.inputs,
        "tables": tables,
        "links": links,
        "wikidata": dict(sorted(wikidata_stats.items())),
        "wikipedia": wikipedia,
        "malformed": malformed.summary(),
        "timings": run.timings,
        "resume": {"shards_skipped": run.skipped},
        "options": run.options.model_dump(mode="json"),
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
