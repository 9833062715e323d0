"""Wikidata JSON dump -> titles (from Wikipedia sitelinks), triples and relations.

The dump is a JSON array with one entity per line (`[` first, `]` last, a comma after each entity).
Lines are grouped into chunks of a fixed number of lines, so shard boundaries depend on the input
only, never on the number of workers; each chunk is parsed by one worker, which writes its shards.

Rules (XLM-K Sec. 3.1, Appendix A):
- titles: sitelinks of Wikipedia sites only (`enwiki`, `zh_yuewiki` -> `zh-yue`), never
  `commonswiki`, `enwikiquote`, `specieswiki` and the like;
- triples: statements of items whose main snak has `snaktype == "value"` and datatype
  `wikibase-item` (an item as object), rank not `deprecated`; qualifiers and references are ignored;
- relations: every property entity, with its English label.
"""
from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

from xlmk.knowledge.malformed import problem
from xlmk.knowledge.sites import wikipedia_language


_SITE_LANGUAGE: dict[str, str | None] = {}  # site -> language, memoised (a few hundred sites)


def _site_language(site: str) -> str | None:
    try:
        return _SITE_LANGUAGE[site]
    except KeyError:
        lang = _SITE_LANGUAGE[site] = wikipedia_language(site)
        return lang


def entity_rows(entity: dict, languages: frozenset[str] | None, stats: Counter):
    """(titles, triples, relation) of one entity: lists of tuples, and a (pid, label) or None.

    This runs once per entity of a 100-million-entity dump: the common path is kept to a few dict
    lookups, and skipped statements are only classified (for the manifest) off that path.
    """
    kind = entity.get("type")
    eid = entity.get("id")
    if not isinstance(eid, str):
        raise ValueError("entity without an id")
    titles, triples = [], []
    if kind == "property":
        stats["properties"] += 1
        label = ((entity.get("labels") or {}).get("en") or {}).get("value")
        return titles, triples, (eid, label)
    if kind != "item":
        stats[f"entities_{kind}"] += 1
        return titles, triples, None
    stats["items"] += 1
    not_wikipedia = 0
    for site, link in (entity.get("sitelinks") or {}).items():
        lang = _site_language(site)
        if lang is None:
            not_wikipedia += 1
        elif languages is None or lang in languages:
            titles.append((lang, link["title"], eid))
    if not_wikipedia:
        stats["sitelinks_not_wikipedia"] += not_wikipedia
    for pid, statements in (entity.get("claims") or {}).items():
        for st in statements:
            snak = st["mainsnak"]
            if (snak.get("datatype") == "wikibase-item" and snak["snaktype"] == "value"
                    and st.get("rank") != "deprecated"):
                value = snak["datavalue"]["value"]
                triples.append((eid, pid, value.get("id") or f"Q{value['numeric-id']}"))
            elif st.get("rank") == "deprecated":
                stats["statements_deprecated"] += 1
            elif snak["snaktype"] != "value":
                stats[f"statements_{snak['snaktype']}"] += 1
            else:
                stats["statements_not_item"] += 1
    return titles, triples, None


try:  # orjson (the [scale] extra) parses entities 2-4x faster; its errors are re-read by json for their kind
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - the standard library is the fallback
    _fast_loads = json.loads


def parse_line(raw: bytes):
    """The entity on one dump line, or None for the array brackets and blank lines."""
    line = raw.strip()
    if line.endswith(b","):
        line = line[:-1]
    if not line or line in (b"[", b"]"):
        return None
    try:
        return _fast_loads(line)
    except ValueError:
        return json.loads(line)  # raises UnicodeDecodeError or JSONDecodeError with its position


def process_chunk(job: dict) -> dict:
    """Parse one chunk of dump lines and write its shards; runs in a worker process.

    job: index, path (for messages), first_line, first_offset, data (whole lines, one bytes object;
    or lines, a list of them), languages, work_dir, out_dir. Returns counts, shard row counts and
    the malformed lines found.
    """
    from xlmk.knowledge.shards import write_rows

    languages = frozenset(job["languages"]) if job["languages"] is not None else None
    stats: Counter = Counter()
    titles, triples, relations, problems = [], [], [], []
    offset = job["first_offset"]
    # BytesIO splits at b"\n" only (bytes.splitlines would also split at a stray b"\r")
    lines = job["lines"] if "lines" in job else io.BytesIO(job["data"]).readlines()
    for k, raw in enumerate(lines):
        line_no = job["first_line"] + k
        try:
            entity = parse_line(raw)
            if entity is not None:
                t, tr, rel = entity_rows(entity, languages, stats)
                titles.extend(t)
                triples.extend(tr)
                if rel is not None:
                    relations.append(rel)
        except UnicodeDecodeError as exc:
            problems.append(problem("non_utf8", job["path"], line_no, offset + exc.start,
                                    f"invalid UTF-8 byte: {exc.reason}", raw))
        except json.JSONDecodeError as exc:
            problems.append(problem("bad_json", job["path"], line_no, offset, str(exc), raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # valid JSON, wrong shape
            problems.append(problem("bad_entity", job["path"], line_no, offset,
                                    f"{type(exc).__name__}: {exc}", raw))
        offset += len(raw)
    i = job["index"]
    work, out = Path(job["work_dir"]), Path(job["out_dir"])
    write_rows(work / f"titles-{i:05d}.parquet", "titles", sorted(titles))
    write_rows(out / "triples" / f"part-{i:05d}.parquet", "triples", triples)
    if relations:
        write_rows(out / "relations" / f"part-{i:05d}.parquet", "relations", relations)
    stats["titles"] = len(titles)
    stats["triples"] = len(triples)
    stats["relations"] = len(relations)
    return {"index": i, "stats": dict(stats), "problems": problems,
            "titles_by_lang": dict(Counter(lang for lang, _, _ in titles))}
