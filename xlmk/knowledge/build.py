"""`build_knowledge`: dumps -> knowledge directory, in resumable phases, top to bottom.

1. Wikidata: the dump's lines are cut into chunks; a worker parses each chunk and writes its triples,
   relations and title shards; then the title shards are merged into `titles/part-00000.parquet`.
2. Wikipedia, per input: pages are cut into shards; a worker cleans each shard's pages and writes
   unresolved mentions, descriptions and redirects under `_work/`.
3. Resolution, per language: link targets and page titles are mapped to QIDs through the titles
   index and the redirects, and the final `mentions/` and `descriptions/` shards are written.
4. `manifest.json`, from the per-shard markers, so a resumed build reports the same counts.

Every shard is written atomically and followed by a small JSON marker; a restarted build skips every
shard whose marker exists. Shard boundaries depend only on the input and the options (never on the
number of workers or on timing), so a resumed build ends identical to an uninterrupted one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from xlmk.errors import DataError, XlmkError
from xlmk.io import atomic_write_json
from xlmk.knowledge.chunking import group, line_blocks
from xlmk.knowledge.dumps import STREAM_ERRORS, Dump
from xlmk.knowledge.malformed import MalformedLog, problem
from xlmk.knowledge.options import BUILDER_VERSION, BuildOptions, WikipediaInput
from xlmk.knowledge.parallel import ordered_map
from xlmk.knowledge.schema import TABLES, table_files

# Testing aid: exit abruptly (as a crash would) after this many shard markers in this process.
EXIT_AFTER_ENV = "XLMK_KNOWLEDGE_EXIT_AFTER_SHARDS"


class _Run:
    """State shared by the phases of one invocation."""

    def __init__(self, options: BuildOptions, progress) -> None:
        self.options = options
        self.out = options.out
        self.work = options.out / "_work"
        self.log = MalformedLog(options.strict)  # only raises under --strict; counts come from markers
        self.progress = progress
        self.stream_problems: list[dict] = []
        self.inputs: list[dict] = []
        self.timings: dict = {}
        self.skipped = 0
        self.markers_written = 0
        self.exit_after = int(os.environ.get(EXIT_AFTER_ENV, "0") or 0)

    def stream_problem(self, item: dict) -> None:
        """A damaged stream (not a record): raises under --strict, else kept for the manifest."""
        self.log.add(item)
        self.stream_problems.append(item)

    def marker(self, path: Path, data: dict) -> None:
        atomic_write_json(path, data, indent=None)
        self.markers_written += 1
        if self.exit_after and self.markers_written >= self.exit_after:
            os._exit(75)

    def skip(self, path: Path) -> bool:
        """True when a shard's marker exists; under --strict its recorded problems are errors."""
        if not path.is_file():
            return False
        self.skipped += 1
        if self.options.strict:
            for items in json.loads(path.read_text()).get("malformed", {}).get("examples", {}).values():
                self.log.extend(items[:1])
        return True


def build_knowledge(options: BuildOptions, *, progress=None) -> dict:
    """Build (or resume, or confirm) the knowledge directory `options.out`; return its manifest.

    A build that stops with an error leaves `BUILD-FAILED.json` (the error) beside its partial tables;
    the stages refuse such a directory until a build into it finishes."""
    from xlmk.rundir import lock

    started = time.time()
    sites = _check_inputs(options)
    # one build writes a directory at a time; its shard tasks share it (rundir.lock(..., shared=True))
    with lock(_outdir(options.out), what="knowledge build"):
        return _build_or_confirm(options, sites, started, progress)


def _outdir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise DataError("--out names a directory, this is a file", path=out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _build_or_confirm(options: BuildOptions, sites: list, started: float, progress) -> dict:
    languages = options.languages or sorted({s.lang for s in sites}) or None
    fingerprint = _fingerprint(options, sites)
    done = _prepare(options, fingerprint)
    if done is not None:
        return done
    try:
        return _build(options, sites, languages, fingerprint, progress, started)
    except Exception as exc:
        from xlmk.contracts import mark_build_failed

        mark_build_failed(options.out, exc)  # later stages refuse the partial directory, naming the error
        raise


def _build(options: BuildOptions, sites: list, languages: list[str] | None, fingerprint: str, progress,
           started: float) -> dict:
    from xlmk.contracts import BUILD_FAILED
    from xlmk.knowledge.manifest import assemble_manifest

    run = _Run(options, progress)
    langs = [s.lang for s in sites if languages is None or s.lang in languages]
    # Reading shows bytes (with ETA); resolving shows shards: two bars, one after the other.
    with _bars(progress, bytes_=True) as run.progress:
        if options.wikidata is not None:
            t = time.time()
            _wikidata_phase(run, languages)
            _check_not_empty(run)
            run.timings["wikidata_s"] = round(time.time() - t, 3)
        for inp, site in zip(options.wikipedia, sites):
            if site.lang in langs:
                t = time.time()
                _wikipedia_phase(run, inp, site)
                run.timings.setdefault("wikipedia_s", {})[site.lang] = round(time.time() - t, 3)
    with _bars(progress, bytes_=False) as run.progress:
        for lang in langs:
            t = time.time()
            _resolve_phase(run, lang)
            run.timings.setdefault("resolve_s", {})[lang] = round(time.time() - t, 3)
    _ensure_tables(options.out)
    run.timings["total_s"] = round(time.time() - started, 3)
    manifest = assemble_manifest(run, fingerprint, languages)
    atomic_write_json(options.out / "manifest.json", manifest)
    (options.out / BUILD_FAILED).unlink(missing_ok=True)
    if not options.keep_work:
        shutil.rmtree(run.work, ignore_errors=True)
    return manifest


def _check_not_empty(run: _Run) -> None:
    """A Wikidata dump without a single entity is an error under --strict, else a warning."""
    import warnings

    from xlmk.errors import XlmkWarning

    markers = (json.loads(p.read_text()) for p in (run.work / "wikidata").glob("done-*.json"))
    seen = sum(m["stats"].get("items", 0) + m["stats"].get("properties", 0) for m in markers)
    if seen:
        return
    message = "holds no Wikidata entity (0 items, 0 properties): an empty or wrong file?"
    if run.options.strict:
        raise DataError(message, path=run.options.wikidata)
    warnings.warn(f"{run.options.wikidata}: {message} The knowledge directory will have 0 rows.", XlmkWarning,
                  stacklevel=3)


@contextlib.contextmanager
def _bars(progress, *, bytes_: bool):
    """The caller's progress display, or a fresh one for this part of the build."""
    if progress is not None:
        yield progress
        return
    from xlmk.progress import make_progress

    with make_progress(bytes_=bytes_) as own:
        yield own


def _check_inputs(options: BuildOptions) -> list:
    """Validate the inputs and read each Wikipedia input's site information (language, case)."""
    from xlmk.knowledge.titles import SiteInfo
    from xlmk.knowledge.wikipedia import PageStream, siteinfo_from_xml

    if options.wikidata is None and not options.wikipedia:
        raise XlmkError("nothing to build: give a Wikidata dump and/or Wikipedia dumps")
    if options.wikipedia and options.wikidata is None:
        raise XlmkError("Wikipedia links resolve to QIDs through Wikidata sitelinks: give --wikidata too")
    from xlmk.contracts import require_file, safe_names

    safe_names(options.languages, "--languages")  # they become directory and file names
    if options.wikidata is not None:
        require_file(options.wikidata, "--wikidata")
    for w in options.wikipedia:
        if w.format == "xml":
            require_file(w.path, "--wikipedia")
        elif not w.path.exists():
            raise DataError("--wikiextractor: input not found", path=w.path)
        safe_names([w.lang] if w.lang else None, "--wikipedia LANG")
    sites = []
    for inp in options.wikipedia:
        if inp.format == "wikiextractor":
            if not inp.lang:
                raise XlmkError(f"wikiextractor output has no siteinfo: give LANG={inp.path}")
            sites.append(SiteInfo(lang=inp.lang))
            continue
        with Dump(inp.path) as dump:
            sites.append(siteinfo_from_xml(PageStream(dump.stream, str(inp.path)).header, inp.lang, str(inp.path)))
    safe_names([s.lang for s in sites], "Wikipedia language (from the dump's siteinfo)")
    seen: dict[str, Path] = {}
    for inp, site in zip(options.wikipedia, sites):
        if site.lang in seen:
            raise XlmkError(f"two inputs for language {site.lang!r}: {seen[site.lang]} and {inp.path}")
        seen[site.lang] = inp.path
    return sites


def _fingerprint(options: BuildOptions, sites) -> str:
    def ident(path: Path) -> list:
        st = path.stat()
        return [str(path.resolve()), st.st_size, st.st_mtime_ns]

    blob = {"builder": BUILDER_VERSION, "options": options.fingerprint_fields(),
            "wikidata": ident(options.wikidata) if options.wikidata else None,
            "wikipedia": [[s.lang, w.format] + ident(w.path) for w, s in zip(options.wikipedia, sites)]}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _prepare(options: BuildOptions, fingerprint: str) -> dict | None:
    """Return the manifest of a finished identical build; otherwise make `out` ready to (re)start."""
    out, work = options.out, options.out / "_work"
    manifest_path, state_path = out / "manifest.json", work / "state.json"
    previous = None
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("fingerprint") == fingerprint:
            return manifest
        previous = "a finished build of other inputs or options"
    elif state_path.is_file():
        if json.loads(state_path.read_text()).get("fingerprint") == fingerprint:
            _remove_temporaries(out)  # left by a process killed mid-write
            return None  # resume
        previous = "a partial build of other inputs or options"
    elif any(table_files(out, t) for t in TABLES):
        previous = "knowledge shards of an unknown build"
    if previous is not None:
        if not options.fresh:
            raise XlmkError(f"{out} holds {previous}; pass --fresh to discard it")
        for name in TABLES + ("_work",):
            shutil.rmtree(out / name, ignore_errors=True)
        manifest_path.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(state_path, {"fingerprint": fingerprint, "builder_version": BUILDER_VERSION})
    return None


def _remove_temporaries(out: Path) -> None:
    for folder in [out / t for t in TABLES] + [out / "_work"]:
        if folder.is_dir():
            for tmp in folder.rglob(".*.tmp"):
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)


def _read_lines(dump: Dump, run: _Run) -> Iterator[bytes]:
    """Lines of a dump; a damaged compressed stream ends the input with a recorded problem."""
    offset = 0
    it = iter(dump.stream)
    while True:
        try:
            raw = next(it)
        except StopIteration:
            return
        except STREAM_ERRORS as exc:
            run.stream_problem(problem("truncated_stream", str(dump.path), None, offset,
                                       f"{type(exc).__name__}: {exc}"))
            return
        offset += len(raw)
        yield raw


def _track(run: _Run, dump: Dump, label: str):
    task = run.progress.add_task(label, total=dump.size)
    start = time.time()

    def update(records: int) -> None:
        rate = records / max(time.time() - start, 1e-6)
        run.progress.update(task, completed=dump.compressed_bytes, info=f"{records:,} records, {rate:,.0f}/s")

    return update


def _wikidata_phase(run: _Run, languages: list[str] | None) -> None:
    from xlmk.knowledge.resolve import finalize_titles
    from xlmk.knowledge.wikidata import process_chunk

    opts, work = run.options, run.work / "wikidata"
    work.mkdir(parents=True, exist_ok=True)
    dump = Dump(opts.wikidata)
    update = _track(run, dump, "wikidata")
    counter = {"lines": 0}

    def jobs():
        blocks = line_blocks(dump, opts.wikidata_shard_lines, opts.shard_bytes, run.stream_problem)
        for index, (data, first_line, first_offset, n) in enumerate(blocks):
            counter["lines"] += n
            update(counter["lines"])
            if run.skip(work / f"done-{index:05d}.json"):
                continue
            yield {"index": index, "path": str(opts.wikidata), "first_line": first_line,
                   "first_offset": first_offset, "data": data,
                   "languages": languages, "work_dir": str(work), "out_dir": str(run.out)}

    for result in ordered_map(process_chunk, jobs(), opts.workers):
        _finish_shard(run, work / f"done-{result['index']:05d}.json", result)
    run.inputs.append({"role": "wikidata", **dump.finish()})
    if not (work / "titles.json").is_file():
        counts, dropped = finalize_titles(sorted(work.glob("titles-*.parquet")), run.out / "titles" / "part-00000.parquet")
        atomic_write_json(work / "titles.json", {"by_lang": counts, "duplicates_dropped": dropped})


def _finish_shard(run: _Run, marker: Path, result: dict) -> None:
    """Check a worker's problems (strict raises) and record the shard as done."""
    problems = result.pop("problems")
    run.log.extend(problems)
    local = MalformedLog()
    local.extend(problems)
    result["malformed"] = {"counts": dict(local.counts), "examples": local.examples}
    run.marker(marker, result)


def _wikipedia_phase(run: _Run, inp: WikipediaInput, site) -> None:
    from xlmk.knowledge.wikiextractor import input_files, process_lines
    from xlmk.knowledge.wikipedia import PageStream, process_pages

    opts, work = run.options, run.work / "wiki" / site.lang
    work.mkdir(parents=True, exist_ok=True)
    base = {"site": site, "work_dir": str(work), "description_chars": opts.description_chars}
    counter = {"index": 0, "pages": 0}

    def shard_jobs(pages, path: str, update):
        for chunk in group(pages, opts.wikipedia_shard_pages, opts.shard_bytes):
            index = counter["index"]
            counter["index"] += 1
            counter["pages"] += len(chunk)
            update(counter["pages"])
            if not run.skip(work / f"done-{index:05d}.json"):
                yield {**base, "index": index, "path": path, "pages": chunk}

    def jobs():
        if inp.format == "xml":
            dump = Dump(inp.path)
            stream = PageStream(dump.stream, str(inp.path))
            yield from shard_jobs(stream.pages(), str(inp.path), _track(run, dump, f"wikipedia {site.lang}"))
            for item in stream.problems:
                run.stream_problem(item)
            run.inputs.append({"role": "wikipedia", "lang": site.lang, "format": "xml", **dump.finish()})
            return
        for path in input_files(inp.path):
            dump = Dump(path)
            yield from shard_jobs(_numbered_lines(dump, run), str(path),
                                  _track(run, dump, f"wikipedia {site.lang} {path.name}"))
            run.inputs.append({"role": "wikipedia", "lang": site.lang, "format": "wikiextractor",
                               **dump.finish()})

    fn = process_pages if inp.format == "xml" else process_lines
    for result in ordered_map(fn, jobs(), opts.workers):
        _finish_shard(run, work / f"done-{result['index']:05d}.json", result)
    atomic_write_json(work / "shards.json", {"shards": counter["index"]})


def _numbered_lines(dump: Dump, run: _Run):
    """(line, line number, byte offset) of the non-blank lines of a wikiextractor file."""
    line, offset = 1, 0
    for raw in _read_lines(dump, run):
        if raw.strip():
            yield raw, line, offset
        line, offset = line + 1, offset + len(raw)


def _resolve_phase(run: _Run, lang: str) -> None:
    from xlmk.knowledge.resolve import resolve_language

    work = run.work / "wiki" / lang
    shards = list(range(json.loads((work / "shards.json").read_text())["shards"]))
    for table in ("mentions", "descriptions"):
        (run.out / table).mkdir(parents=True, exist_ok=True)
    task = run.progress.add_task(f"resolve {lang}", total=len(shards))

    def done(i: int) -> bool:
        return run.skip(work / f"resolved-{i:05d}.json")

    def on_shard(i: int, counts: dict) -> None:
        run.marker(work / f"resolved-{i:05d}.json", {"index": i, **counts})
        run.progress.update(task, completed=i + 1)

    resolve_language(lang, shards, work, run.out, run.out / "titles" / "part-00000.parquet",
                     max_hops=run.options.max_redirect_hops, batch_links=run.options.resolve_batch_links,
                     done=done, on_shard=on_shard)


def _ensure_tables(out: Path) -> None:
    """Every table directory holds at least one (possibly empty) shard, so readers find its schema."""
    from xlmk.knowledge.shards import empty_table, write_table

    for table in TABLES:
        if not table_files(out, table):
            write_table(out / table / "part-00000.parquet", empty_table(table))
