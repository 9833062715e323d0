"""`build_knowledge`: dumps -> knowledge directory, as a list of shard tasks plus a deterministic merge.

1. Inputs: each dump is described (plain, gzip, bz2, multistream with its index), hashed and, when it
   is compressed without a multistream index, block-indexed once; all in tasks (`xlmk.knowledge.tasks`).
2. Reading: every input is cut into ranges (`xlmk.knowledge.ranges`); one shard task per range
   decompresses and parses its own bytes and writes its shards: Wikidata ranges give triples,
   relations and titles (of every Wikipedia language); Wikipedia ranges give unresolved mentions,
   descriptions and redirects under `_work/`. Ranges of every input run together, interleaved, so
   languages run concurrently. `--shard I/N` runs only every N-th task from the I-th (a job array).
3. Merge (`merge_knowledge`, also `xlmk knowledge merge`): once every shard task is done, the title
   shards become `titles/part-00000.parquet` (the chosen languages), each language's links are
   resolved (one task per language), and `manifest.json` is written from the per-shard markers.

Every shard is written atomically and followed by a small JSON marker; a restarted build skips every
shard whose marker exists, without reading its range again. Ranges depend only on the input and the
options (never on workers, engine, shard split or timing), so the output is the same however it ran.
Inputs are fingerprinted one by one: a Wikipedia added to a finished directory is read and resolved
without reading Wikidata again.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from xlmk.errors import DataError, XlmkError
from xlmk.io import atomic_write_json
from xlmk.knowledge.engines import run_tasks
from xlmk.knowledge.malformed import MalformedLog
from xlmk.knowledge.options import BUILDER_VERSION, BuildOptions
from xlmk.knowledge.schema import TABLES, table_files
from xlmk.knowledge.tasks import (EXIT_AFTER_ENV, FAULT_ENV, input_task, manifest_task, read_task, resolve_task,
                                  streams_task, titles_task, write_marker)

__all__ = ["EXIT_AFTER_ENV", "build_knowledge", "merge_knowledge"]


class _Run:
    """State shared by the phases of one invocation."""

    def __init__(self, options: BuildOptions, progress) -> None:
        self.options = options
        self.out = options.out
        self.work = options.out / "_work"
        self.log = MalformedLog(options.strict)  # only raises under --strict; counts come from markers
        self.progress = progress
        self.timings: dict = {}
        self.skipped = 0
        self.read: list[str] = []  # ids of the ranges this invocation read
        self.pool = None  # one process pool for every phase (spawning one per phase costs seconds)

    def engine(self, fn, jobs):
        o = self.options
        return run_tasks(fn, jobs, engine=o.engine, workers=o.workers, ray_address=o.ray_address, pool=self.pool)

    @contextlib.contextmanager
    def pooled(self):
        from xlmk.knowledge.parallel import spawn_pool

        if self.options.engine != "process" or self.options.workers <= 1:
            yield
            return
        with spawn_pool(self.options.workers) as self.pool:
            yield
        self.pool = None


def build_knowledge(options: BuildOptions, *, progress=None) -> dict:
    """Build (or resume, extend, or confirm) the knowledge directory `options.out`.

    Returns its manifest with a `run` entry (timings, shards read and skipped); with `--shard I/N`,
    a summary of that shard task group instead (the merge writes the manifest). A build that stops with
    an error leaves `BUILD-FAILED.json` (the error) beside its partial tables; the stages refuse such a
    directory until a build into it finishes.
    """
    from xlmk.rundir import lock

    started = time.time()
    shard = options.shard_of()  # a bad I/N stops here, before anything is read or written
    if options.shard is not None and options.fresh:
        raise XlmkError("--fresh with --shard would let every task of the array discard the others' shards; "
                        f"empty {options.out} once before starting the array instead")
    sites = _check_inputs(options)
    # one build writes a directory at a time; the shard tasks of one sharded build share it (each also
    # holds its own group's lock), and a whole build or a merge holds it alone
    with lock(_outdir(options.out), shared=options.shard is not None, what="knowledge build"):
        try:
            return _build(options, sites, shard, started, progress)
        except Exception as exc:
            from xlmk.contracts import mark_build_failed

            mark_build_failed(options.out, exc)  # later stages refuse the partial directory, naming the error
            raise


def _outdir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise DataError("--out names a directory, this is a file", path=out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _build(options: BuildOptions, sites: list, shard, started: float, progress) -> dict:
    inputs = _inputs(options, sites)
    state = _prepare(options, inputs)
    languages = _languages(options, state)
    if (options.shard is None and _finished(options.out, state, languages)):
        manifest = json.loads((options.out / "manifest.json").read_text())
        return {**manifest, "run": {"shards_read": 0, "shards_skipped": 0, "read": [], "timings": {}}}
    run = _Run(options, progress)
    with _bars(progress) as run.progress, run.pooled():
        t = time.time()
        _input_phase(run, inputs, state)
        run.timings["inputs_s"] = round(time.time() - t, 3)
        jobs = _plan(run, inputs, state)
        mine = jobs if shard is None else jobs[shard[0]::shard[1]]
        t = time.time()
        with _shard_lock(run.work, options.shard):
            _read_phase(run, mine)
        run.timings["read_s"] = round(time.time() - t, 3)
        if shard is not None:
            return {"shard": options.shard, "tasks": len(mine), "shards_read": len(run.read),
                    "shards_skipped": run.skipped, "missing": _missing(run.work)}
        return _merge(run, state, languages, started)


def merge_knowledge(out: str | Path, *, workers: int = 1, engine: str = "process",
                    ray_address: str | None = None, keep_work: bool = False, progress=None) -> dict:
    """Finish a directory whose shard tasks (`--shard I/N`) all ran: titles, resolution, manifest.

    Raises XlmkError naming the shard tasks still missing."""
    out = Path(out)
    state_path = out / "_work" / "state.json"
    if not state_path.is_file():
        raise DataError("no _work/state.json: not a knowledge build started with --shard", path=out)
    state = json.loads(state_path.read_text())
    options = BuildOptions.model_validate({**state["build_options"], "out": out, "workers": workers,
                                           "engine": engine, "ray_address": ray_address, "keep_work": keep_work,
                                           "shard": None})
    missing = _missing(out / "_work")
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise XlmkError(f"{len(missing)} shard task(s) of {out} have not finished: {shown}; "
                        "run their --shard I/N groups (again) first")
    from xlmk.rundir import lock

    run = _Run(options, progress)
    with lock(out, what="knowledge merge"), _bars(progress) as run.progress, run.pooled():
        return _merge(run, state, _languages(options, state), time.time())


# ---------------------------------------------------------------- inputs and state
def _check_inputs(options: BuildOptions) -> list:
    """Validate the inputs and read each Wikipedia input's site information (language, case)."""
    from xlmk.knowledge.dumps import Dump
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
        if w.index is not None:
            require_file(w.index, "--index")
        safe_names([w.lang] if w.lang else None, "--wikipedia LANG")
    sites = []
    for inp in options.wikipedia:
        if inp.format == "wikiextractor":
            if not inp.lang:
                raise XlmkError(f"wikiextractor output has no siteinfo: give LANG={inp.path}")
            sites.append(SiteInfo(lang=inp.lang))
            continue
        with Dump(inp.path) as dump:  # the header only: a few kilobytes
            sites.append(siteinfo_from_xml(PageStream(dump.stream, str(inp.path)).header, inp.lang, str(inp.path)))
    safe_names([s.lang for s in sites], "Wikipedia language (from the dump's siteinfo)")
    seen: dict[str, Path] = {}
    for inp, site in zip(options.wikipedia, sites):
        if site.lang in seen:
            raise XlmkError(f"two inputs for language {site.lang!r}: {seen[site.lang]} and {inp.path}")
        seen[site.lang] = inp.path
    return sites


def _ident(path: Path) -> list:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _inputs(options: BuildOptions, sites) -> list[dict]:
    """One entry per input: key (`wikidata`, `wiki/LANG`), role, files, and what identifies them."""
    from xlmk.knowledge.wikiextractor import input_files

    found = []
    if options.wikidata is not None:
        found.append({"key": "wikidata", "role": "wikidata", "files": [options.wikidata], "index": None})
    for inp, site in zip(options.wikipedia, sites):
        files = [inp.path] if inp.format == "xml" else input_files(inp.path)
        found.append({"key": f"wiki/{site.lang}", "role": "pages" if inp.format == "xml" else "lines",
                      "lang": site.lang, "site": site, "files": files, "index": inp.index, "format": inp.format})
    for item in found:
        item["ident"] = [item["role"], [_ident(f) for f in item["files"]],
                         _ident(item["index"]) if item["index"] else None]
    return found


def _prepare(options: BuildOptions, inputs: list[dict]) -> dict:
    """Check `out` against its state (per-input fingerprints), or start one; returns the state.

    An input seen before with the same files is reused (its finished shards are not read again); a
    new input is added; an input whose files changed, or other options, need `--fresh`."""
    out, work = options.out, options.out / "_work"
    state_path = work / "state.json"
    fields = options.fingerprint_fields()
    state = json.loads(state_path.read_text()) if state_path.is_file() else None
    problem = None
    if state is not None:
        if state.get("builder_version") != BUILDER_VERSION or state.get("options") != fields:
            problem = "a build with other options (or an older builder)"
        else:
            changed = [i["key"] for i in inputs if i["key"] in state["inputs"]
                       and state["inputs"][i["key"]]["ident"] != i["ident"]]
            if changed:
                problem = f"a build of other files for {', '.join(changed)}"
    elif (out / "manifest.json").is_file() or any(table_files(out, t) for t in TABLES):
        problem = "knowledge shards of an unknown build"
    if problem is not None:
        if not options.fresh:
            raise XlmkError(f"{out} holds {problem}; pass --fresh to discard it")
        for name in TABLES + ("_work",):
            shutil.rmtree(out / name, ignore_errors=True)
        (out / "manifest.json").unlink(missing_ok=True)
        state = None
    _remove_temporaries(out)  # left by a process killed mid-write
    if state is None:
        state = {"builder_version": BUILDER_VERSION, "options": fields, "inputs": {}}
    for item in inputs:
        state["inputs"].setdefault(item["key"], {"ident": item["ident"], "role": item["role"],
                                                  "lang": item.get("lang"), "format": item.get("format"),
                                                  "sources": None})
    state["build_options"] = options.model_dump(mode="json", exclude={"out", "fresh"})
    state["build_options"]["languages"] = options.languages
    work.mkdir(parents=True, exist_ok=True)
    atomic_write_json(state_path, state)
    return state


def _languages(options: BuildOptions, state: dict) -> list[str] | None:
    """The languages of the titles table: chosen, else those of every Wikipedia input built here."""
    if options.languages:
        return sorted(options.languages)
    langs = sorted(v["lang"] for v in state["inputs"].values() if v.get("lang"))
    return langs or None


def _fingerprint(state: dict, languages) -> str:
    blob = {"builder": BUILDER_VERSION, "options": state["options"], "languages": languages,
            "inputs": {k: v["ident"] for k, v in sorted(state["inputs"].items())}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _finished(out: Path, state: dict, languages) -> bool:
    path = out / "manifest.json"
    return path.is_file() and json.loads(path.read_text()).get("fingerprint") == _fingerprint(state, languages)


def _remove_temporaries(out: Path) -> None:
    for folder in [out / t for t in TABLES] + [out / "_work"]:
        if folder.is_dir():
            for tmp in folder.rglob(".*.tmp"):
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _bars(progress):
    """The caller's progress display, or a fresh one for this build."""
    if progress is not None:
        yield progress
        return
    from xlmk.progress import make_progress

    with make_progress() as own:
        yield own


@contextlib.contextmanager
def _shard_lock(work: Path, shard: str | None):
    """With --shard I/N, `_work/locks/shard-I-of-N.lock` is held while the group runs, so the same
    group started twice fails at once instead of writing the same shards twice. (Other groups write
    other shards and run freely; a killed holder releases the lock with its process.)"""
    if shard is None:
        yield
        return
    path = work / "locks" / f"shard-{shard.replace('/', '-of-')}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise XlmkError(f"shard group {shard} of {work.parent} is being built by another process "
                            f"({fh.read().strip() or 'unknown'})") from None
        fh.truncate(0)
        fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        fh.flush()
        yield


# ---------------------------------------------------------------- phase 1: inputs
def _input_phase(run: _Run, inputs: list[dict], state: dict) -> None:
    """Describe every input file; hash and index (in tasks) the ones this directory has not seen."""
    from xlmk.knowledge.ranges import describe

    todo, where = [], []
    described_all = [[describe(f, index=item["index"], streams=False) for f in item["files"]] for item in inputs]
    _read_indexes(run, [src for described in described_all for src in described])
    for item, described in zip(inputs, described_all):
        entry = state["inputs"][item["key"]]
        if entry["sources"] is not None:  # hashed and indexed by an earlier run
            for src, known in zip(described, entry["sources"]):
                known.update({k: v for k, v in src.items() if k == "streams"})
            item["sources"] = entry["sources"]
            continue
        item["sources"] = [None] * len(described)
        for k, src in enumerate(described):
            todo.append({"source": src, "cache_dir": str(run.work / "index"), "threads": run.options.workers})
            where.append((item, k, src.get("streams")))
    if todo:
        task = run.progress.add_task("hashing and indexing inputs", total=len(todo))
        for (item, k, streams), result in zip(where, run.engine(input_task, todo)):
            item["sources"][k] = {**result, **({"streams": streams} if streams is not None else {})}
            run.progress.advance(task)
        for item in inputs:
            if any(i is item for i, _, _ in where):
                state["inputs"][item["key"]]["sources"] = [
                    {k: v for k, v in s.items() if k != "streams"} for s in item["sources"]]
        atomic_write_json(run.work / "state.json", state)


def _read_indexes(run: _Run, sources: list[dict]) -> None:
    """Each multistream source's streams, read from its index in a task (one pass over a file of ~1 GB
    for the largest Wikipedias, cached under `_work/index/`): the coordinator's work stays in
    proportion to the ranges. An index that does not match its dump stops the build here."""
    jobs = [{"source": src, "cache_dir": str(run.work / "index")} for src in sources if src["reader"] == "multistream"]
    if not jobs:
        return
    task = run.progress.add_task("reading multistream indexes", total=len(jobs))
    for job, result in zip(jobs, run.engine(streams_task, jobs)):
        job["source"]["streams"] = result["streams"]
        run.progress.advance(task)


# ---------------------------------------------------------------- phase 2: reading
def _plan(run: _Run, inputs: list[dict], state: dict) -> list[dict]:
    """Every read task of every input, interleaved across inputs; also written to `_work/plan.json`."""
    from xlmk.knowledge.ranges import plan_ranges

    o = run.options
    per_input, plan = [], {}
    for item in inputs:
        work = run.work / item["key"]
        work.mkdir(parents=True, exist_ok=True)
        jobs, index = [], 0
        for src in item["sources"]:
            for rng in plan_ranges(src, o.shard_bytes, o.wikipedia_shard_pages):
                job = {"id": f"{item['key']}/{index:05d}", "index": index, "role": item["role"],
                       "source": src, "range": rng, "work_dir": str(work), "out_dir": str(run.out)}
                if item["role"] != "wikidata":
                    job.update(site=item["site"], description_chars=o.description_chars)
                if os.environ.get(FAULT_ENV):
                    job.update(fault=os.environ[FAULT_ENV], fault_dir=str(run.work / "faults"))
                jobs.append(job)
                index += 1
        per_input.append(jobs)
        plan[item["key"]] = {"shards": index, "files": [str(f) for f in item["files"]]}
    previous = json.loads((run.work / "plan.json").read_text()) if (run.work / "plan.json").is_file() else {}
    atomic_write_json(run.work / "plan.json", {**previous, **plan})
    interleaved = []
    for k in range(max((len(j) for j in per_input), default=0)):
        interleaved.extend(jobs[k] for jobs in per_input if k < len(jobs))
    return interleaved


def _read_phase(run: _Run, jobs: list[dict]) -> None:
    task = run.progress.add_task("reading shards", total=len(jobs))

    def todo():
        for job in jobs:
            marker = Path(job["work_dir"]) / f"done-{job['index']:05d}.json"
            if marker.is_file():
                run.skipped += 1
                if run.options.strict:
                    _strict_check(run, marker, json.loads(marker.read_text()))
                run.progress.advance(task)
                continue
            yield job

    for result in run.engine(read_task, todo()):
        work = run.work / result["id"].rsplit("/", 1)[0]
        marker = work / f"done-{result['index']:05d}.json"
        problems = result.pop("problems")
        local = MalformedLog()
        local.extend(problems)
        result["malformed"] = {"counts": dict(local.counts), "examples": local.examples}
        if run.options.strict and problems:
            _strict_check(run, marker, result, problems)
        write_marker(marker, result)
        run.read.append(result["id"])
        run.progress.advance(task)


def _strict_check(run: _Run, marker: Path, result: dict, problems: list | None = None) -> None:
    """Under --strict, the first problem of a shard is an error with its global line where known."""
    items = problems if problems is not None else [
        x for xs in result.get("malformed", {}).get("examples", {}).values() for x in xs[:1]]
    if not items:
        return
    from xlmk.knowledge.manifest import globalise, range_bases

    base = range_bases(marker.parent, result["path"], upto=result["index"])
    run.log.extend([globalise(items[0], base, result.get("local_offsets", False))])


def _missing(work: Path) -> list[str]:
    plan_path = work / "plan.json"
    if not plan_path.is_file():
        return ["(no plan: no shard task has started)"]
    plan = json.loads(plan_path.read_text())
    return [f"{key}/{i:05d}" for key, info in plan.items() for i in range(info["shards"])
            if not (work / key / f"done-{i:05d}.json").is_file()]


# ---------------------------------------------------------------- phase 3: merge
def _merge(run: _Run, state: dict, languages, started: float) -> dict:
    _check_not_empty(run)
    t = time.time()
    _titles_phase(run, languages)
    run.timings["titles_s"] = round(time.time() - t, 3)
    t = time.time()
    _resolve_phase(run, state)
    run.timings["resolve_s"] = round(time.time() - t, 3)
    fingerprint = _fingerprint(state, languages)
    job = {"out": str(run.out), "state": state, "fingerprint": fingerprint, "languages": languages}
    manifest = list(run.engine(manifest_task, [job]))[0]  # in a worker: the coordinator stays light
    atomic_write_json(run.out / "manifest.json", manifest)
    from xlmk.contracts import BUILD_FAILED

    (run.out / BUILD_FAILED).unlink(missing_ok=True)  # this build finished: the directory is whole again
    run.timings["total_s"] = round(time.time() - started, 3)
    info = {"shards_read": len(run.read), "shards_skipped": run.skipped, "read": run.read, "timings": run.timings,
            "engine": run.options.engine, "workers": run.options.workers}
    atomic_write_json(run.work / "last-run.json", info)
    if not run.options.keep_work:
        _drop_work_shards(run.work)
    return {**manifest, "run": info}


def _check_not_empty(run: _Run) -> None:
    """A Wikidata dump without a single entity is an error under --strict, else a warning."""
    import warnings

    from xlmk.errors import XlmkWarning

    if run.options.wikidata is None:
        return
    markers = (json.loads(p.read_text()) for p in (run.work / "wikidata").glob("done-*.json"))
    seen = sum(m.get("stats", {}).get("items", 0) + m.get("stats", {}).get("properties", 0) for m in markers)
    if seen:
        return
    message = "holds no Wikidata entity (0 items, 0 properties): an empty or wrong file?"
    if run.options.strict:
        raise DataError(message, path=run.options.wikidata)
    warnings.warn(f"{run.options.wikidata}: {message} The knowledge directory will have 0 rows.", XlmkWarning,
                  stacklevel=3)


def _titles_phase(run: _Run, languages) -> None:
    """`titles/part-00000.parquet` from the Wikidata title shards, for `languages`; redone only when
    the languages (or the Wikidata shards) changed."""
    work = run.work / "wikidata"
    chunks = sorted(work.glob("titles-*.parquet"))
    record = work / "titles.json"
    if record.is_file() and json.loads(record.read_text()).get("languages") == languages:
        return
    if not chunks and record.is_file():
        raise XlmkError(f"{run.out}: the titles of other languages are asked for, but the Wikidata title "
                        "shards were removed; rebuild with --fresh (or keep _work/wikidata)")
    job = {"chunks": [str(c) for c in chunks], "out": str(run.out / "titles" / "part-00000.parquet"),
           "languages": languages}
    result = list(run.engine(titles_task, [job]))[0]  # in a worker: the coordinator stays light
    atomic_write_json(record, {"languages": languages, **result})


def _resolve_phase(run: _Run, state: dict) -> None:
    plan = json.loads((run.work / "plan.json").read_text())
    jobs = []
    for key, info in sorted(plan.items()):
        if not key.startswith("wiki/"):
            continue
        lang = key.split("/", 1)[1]
        work = run.work / key
        shards = list(range(info["shards"]))
        if all((work / f"resolved-{i:05d}.json").is_file() for i in shards):
            run.skipped += len(shards)
            continue
        jobs.append({"lang": lang, "shards": shards, "work_dir": str(work), "out_dir": str(run.out),
                     "max_hops": run.options.max_redirect_hops, "batch_links": run.options.resolve_batch_links})
    if not jobs:
        return
    task = run.progress.add_task("resolving links", total=len(jobs))
    for _ in run.engine(resolve_task, jobs):
        run.progress.advance(task)


def _drop_work_shards(work: Path) -> None:
    """Remove the bulky intermediate shards of resolved languages; markers, the plan, the state and
    the Wikidata title shards stay, so that a language added later needs no Wikidata pass."""
    for path in work.glob("wiki/*/[mdr]-*.parquet"):
        path.unlink(missing_ok=True)
    for path in work.glob("index/*idx"):
        path.unlink(missing_ok=True)
