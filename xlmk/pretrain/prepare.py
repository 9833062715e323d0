"""Tokenize a knowledge directory and a text corpus once, into memory-mapped token arrays.

Pre-training draws millions of random examples; tokenizing each time would cost more than the model
on a small encoder, and holding token lists in Python objects would not fit a full Wikipedia. So the
tables are tokenized once (rank 0 of a distributed run; the others wait) into a cache directory keyed
by the knowledge manifest (or the corpus files), the tokenizer and the lengths, in the layout of
fairseq's indexed datasets: one flat int32 file of tokens plus an int64 offsets array per table. QIDs,
languages and relations become small integers through Arrow's hash tables (`pyarrow.compute.index_in`),
never Python dictionaries. Rows stream through in batches into files (`xlmk.pretrain.columns`) and
the triples are filtered batch by batch, so memory stays at a few batches whatever the size; the
batches are tokenized on `workers` processes (`xlmk.pretrain.prepare_jobs`) and written in order, so
any number of workers gives the same files. Corpus files may be compressed (.gz, .bz2, .xz, .zst).

Layout of a prepared knowledge directory:
    meta.json                           languages, relations, counts, what it was built from
    qids.parquet                        qid strings; a QID's index is its row
    desc.tokens / desc.offsets.npy      descriptions with <s> ... </s>, first `description_max` tokens
    desc_qid.npy, desc_lang.npy
    mention.tokens / mention.offsets.npy  mention sentences with <s> ... </s>, a window of at most
    mention_qid.npy, mention_lang.npy     `mention_max` tokens around the mention
    mention_span.npy [n, 2]             first and last+1 token of the mention inside the ids
    mention_heldout.npy, mention_source.npy (the row in the mentions table), triple_{s,r,o,heldout}.npy
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from xlmk.errors import DataError
from xlmk.io import atomic_dir, atomic_write_json
from xlmk.pretrain.columns import Column, TokenArray, TokenWriter
from xlmk.pretrain.prepare_jobs import window  # noqa: F401 - re-exported: the loaders and tests use it from here

PREPARE_VERSION = 3  # bump whenever what is prepared changes: it keys the cache (not workers: same files)
CHUNK = 2048  # rows tokenized per job: big enough for the Rust tokenizer's batching, small in memory

__all__ = ["PreparedCorpus", "PreparedKnowledge", "TokenArray", "prepare_corpus", "prepare_knowledge", "window"]


# ---------------------------------------------------------------- keys
def tokenizer_fingerprint(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    blob = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


# ---------------------------------------------------------------- knowledge
class PreparedKnowledge:
    """The tokenized knowledge directory, memory-mapped."""

    def __init__(self, root: Path):
        import pyarrow.parquet as pq

        self.root = Path(root)
        self.meta = json.loads((self.root / "meta.json").read_text(encoding="utf-8"))
        self.languages: list[str] = self.meta["languages"]
        self.relations: list[str] = self.meta["relations"]
        self.qids: list[str] = pq.read_table(self.root / "qids.parquet").column("qid").to_pylist()
        self.desc = TokenArray(self.root, "desc")
        self.desc_qid = np.load(self.root / "desc_qid.npy")
        self.desc_lang = np.load(self.root / "desc_lang.npy")
        self.mention = TokenArray(self.root, "mention")
        # per-mention and per-triple arrays are memory-mapped: pages come in as they are used, and the
        # processes of a distributed run share one copy in the page cache
        self.mention_qid = np.load(self.root / "mention_qid.npy", mmap_mode="r")
        self.mention_lang = np.load(self.root / "mention_lang.npy", mmap_mode="r")
        self.mention_span = np.load(self.root / "mention_span.npy", mmap_mode="r")
        self.mention_heldout = np.load(self.root / "mention_heldout.npy", mmap_mode="r")
        self.mention_source = np.load(self.root / "mention_source.npy", mmap_mode="r")  # row in the mentions table
        self.triple_s, self.triple_r, self.triple_o = (np.load(self.root / f"triple_{c}.npy", mmap_mode="r")
                                                       for c in "sro")
        self.triple_heldout = np.load(self.root / "triple_heldout.npy", mmap_mode="r")
        # descriptions of each QID: rows by_qid[qid_start[q]:qid_start[q + 1]]
        self.by_qid = np.argsort(self.desc_qid, kind="stable")
        self.qid_start = np.searchsorted(self.desc_qid[self.by_qid], np.arange(len(self.qids) + 1))
        nl = len(self.languages)
        self._codes = np.unique(self.desc_qid.astype(np.int64) * nl + self.desc_lang)
        self.n_langs_of = np.bincount(self._codes // nl, minlength=len(self.qids))

    def has_description(self, qids: np.ndarray, lang: int | np.ndarray) -> np.ndarray:
        codes = np.asarray(qids, dtype=np.int64) * len(self.languages) + lang
        pos = np.searchsorted(self._codes, codes)
        pos = np.minimum(pos, len(self._codes) - 1)
        return self._codes[pos] == codes if len(self._codes) else np.zeros(len(codes), dtype=bool)

    def description_rows(self, qid: int) -> np.ndarray:
        return self.by_qid[self.qid_start[qid]:self.qid_start[qid + 1]]

    @property
    def data_hash(self) -> str:
        return self.meta["source"]


class _Table:
    """The Parquet shards of one knowledge table, read shard by shard and row group by row group (a
    dataset scanner opens every shard at once: tens of megabytes more for every ten shards)."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def count_rows(self) -> int:
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)

    def column(self, name: str) -> list:
        return [v for batch in _batches(self, [name], 1 << 16) for v in batch[name].to_pylist()]


def _dataset(kdir: Path, table: str) -> _Table | None:
    from xlmk.knowledge.schema import table_files

    files = table_files(kdir, table)
    return _Table(files) if files else None


def _batches(table: _Table, columns: list[str], size: int):
    """Record batches of a table in order; memory stays at one row group whatever the number of rows."""
    import pyarrow.parquet as pq

    for f in table.files:
        with pq.ParquetFile(f) as pf:
            yield from pf.iter_batches(batch_size=size, columns=columns)


def _progress_rows(progress, label: str, total: int):
    return progress.add_task(label, total=total or None) if progress is not None else None


def prepare_knowledge(kdir: str | Path, tokenizer: Any, *, languages: list[str] | None = None,
                      description_max: int = 256, mention_max: int = 256, heldout: float = 0.02,
                      cache_dir: str | Path | None = None, workers: int = 1) -> PreparedKnowledge:
    """Tokenize `kdir` (descriptions, mentions, triples) once, on `workers` processes; later calls reuse
    the cache. Memory stays at a few batches, whatever the number of rows."""
    from xlmk.modeling import cache_root

    kdir = Path(kdir)
    manifest = kdir / "manifest.json"
    if not manifest.is_file():
        raise DataError("not a knowledge directory (no manifest.json)", path=kdir)
    from xlmk.io import sha256_file

    source = sha256_file(manifest)
    params = dict(v=PREPARE_VERSION, source=source, tokenizer=tokenizer_fingerprint(tokenizer),
                  languages=sorted(languages) if languages else None, description_max=description_max,
                  mention_max=mention_max, heldout=heldout)
    target = cache_root(cache_dir) / "prepared" / f"knowledge-{_key(params)}"
    if not (target / "meta.json").is_file():
        with atomic_dir(target) as tmp:
            with _worker_tokenizer(tokenizer, workers, tmp) as tok, _mapper(workers) as run:
                _build_knowledge(kdir, tok, tmp, params, languages, run)
    return PreparedKnowledge(target)


@contextlib.contextmanager
def _mapper(workers: int):
    """`run(fn, jobs)`: fn over jobs, results in job order, on one pool of `workers` processes kept for
    every phase (or in this process)."""
    from xlmk.knowledge.parallel import ordered_map, spawn_pool

    if workers <= 1:
        yield lambda fn, jobs: ordered_map(fn, jobs, 1)
        return
    with spawn_pool(workers) as pool:
        yield lambda fn, jobs: ordered_map(fn, jobs, workers, pool=pool)


@contextlib.contextmanager
def _worker_tokenizer(tokenizer: Any, workers: int, tmp: Path):
    """The tokenizer as jobs carry it: itself in one process, else a saved copy each worker loads once
    (the `tokenizers` backend file of a fast tokenizer, else the whole tokenizer)."""
    if workers <= 1:
        yield tokenizer
        return
    import shutil

    saved = tmp / ".tokenizer"
    saved.mkdir()
    try:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:
            backend.save(str(saved / "tokenizer.json"))
            yield {"file": str(saved / "tokenizer.json"), "cls": tokenizer.cls_token_id, "sep": tokenizer.sep_token_id}
        else:
            tokenizer.save_pretrained(saved)
            yield str(saved)
    finally:
        shutil.rmtree(saved, ignore_errors=True)


def _unique(ds, column: str, keep=None):
    """Sorted unique values of a column, scanned in batches (optionally of the rows `keep(batch)` selects)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    for batch in _batches(ds, [column] + (["lang"] if keep and column != "lang" else []), 1 << 16):
        values = batch[column].filter(keep(batch)) if keep else batch[column]
        parts.append(pc.unique(values))
    if not parts:
        return pa.array([], pa.string())
    return pc.unique(pa.concat_arrays(parts)).sort()


def _build_knowledge(kdir: Path, tok: Any, out: Path, params: dict, languages: list[str] | None, run) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from xlmk.progress import make_progress
    from xlmk.pretrain.prepare_jobs import description_batch, mention_batch

    desc_ds = _dataset(kdir, "descriptions")
    if desc_ds is None:
        raise DataError("the knowledge directory has no descriptions table (descriptions/*.parquet)", path=kdir)
    wanted = pa.array(languages or [], pa.string())
    keep = (lambda b: pc.is_in(b["lang"], value_set=wanted)) if languages else None
    ment_ds = _dataset(kdir, "mentions")
    langs = set(_unique(desc_ds, "lang").to_pylist())
    if ment_ds is not None:
        langs |= set(_unique(ment_ds, "lang").to_pylist())  # a language may have mentions and no descriptions
    langs = sorted(langs & set(languages)) if languages else sorted(langs)
    if languages:
        missing = sorted(set(languages) - set(langs))
        if missing:
            raise DataError(f"data.knowledge.languages asks for {missing}, which have neither descriptions nor mentions", path=kdir)
    qids = _unique(desc_ds, "qid", keep)
    lang_arr = pa.array(langs, pa.string())
    counts: dict[str, Any] = {}

    def codes(batch):
        q = pc.index_in(batch["qid"], value_set=qids)
        l = pc.index_in(batch["lang"], value_set=lang_arr)
        return q, l, pc.and_(pc.is_valid(q), pc.is_valid(l))

    with make_progress() as progress:
        # descriptions: <s> text </s>, first `description_max` tokens
        task = _progress_rows(progress, "tokenizing descriptions", desc_ds.count_rows())

        def desc_jobs():
            for batch in _batches(desc_ds, ["qid", "lang", "text"], CHUNK):
                q, l, ok = codes(batch)
                yield {"tok": tok, "texts": batch["text"].filter(ok), "max_length": params["description_max"],
                       "q": q.filter(ok).to_numpy().astype(np.int32), "l": l.filter(ok).to_numpy().astype(np.int16),
                       "rows": batch.num_rows}

        w, dq, dl = TokenWriter(out, "desc"), Column(out, "desc_qid", np.int32), Column(out, "desc_lang", np.int16)
        for r in run(description_batch, desc_jobs()):
            w.add_many(r["flat"], r["lengths"])
            dq.add(r["q"]), dl.add(r["l"])
            if task is not None:
                progress.advance(task, len(r["lengths"]))
        counts["descriptions"] = len(w)
        for c in (w, dq, dl):
            c.close()

        # mentions: the sentence tokenized with offsets; the tokens touching [start, end) are the mention
        task = _progress_rows(progress, "tokenizing mentions", ment_ds.count_rows() if ment_ds else 0)
        base = {"rows": 0, "undescribed": 0}

        def mention_jobs():
            for batch in _batches(ment_ds, ["lang", "page_title", "text", "start", "end", "qid"], CHUNK) if ment_ds else []:
                q, l, ok = codes(batch)
                source = np.flatnonzero(ok.to_numpy(zero_copy_only=False)) + base["rows"]  # row in the mentions table
                base["rows"] += batch.num_rows
                base["undescribed"] += batch.num_rows - len(source)
                rows = batch.filter(ok)
                yield {"tok": tok, "rows": rows,  # an Arrow batch: Python objects are made on the worker
                       "q": q.filter(ok).to_numpy().astype(np.int32), "l": l.filter(ok).to_numpy().astype(np.int16),
                       "source": source.astype(np.int64), "heldout": params["heldout"],
                       "max_length": params["mention_max"]}

        w = TokenWriter(out, "mention")
        cols = {"q": Column(out, "mention_qid", np.int32), "l": Column(out, "mention_lang", np.int16),
                "spans": Column(out, "mention_span", np.int32, 2), "held": Column(out, "mention_heldout", bool),
                "source": Column(out, "mention_source", np.int64)}
        dropped = no_context = 0
        for r in run(mention_batch, mention_jobs()):
            w.add_many(r["flat"], r["lengths"])
            for key, col in cols.items():
                col.add(r[key])
            dropped, no_context = dropped + r["dropped"], no_context + r["no_context"]
            if task is not None:
                progress.advance(task, len(r["lengths"]) + r["dropped"] + r["no_context"])
        counts.update(mentions=len(w), mentions_dropped=dropped, mentions_without_context=no_context,
                      mentions_of_undescribed_entities=base["undescribed"])
        for c in (w, *cols.values()):
            c.close()

    relations, counts["triples"], counts["triples_dropped"] = _prepare_triples(kdir, out, qids, params["heldout"])
    if not counts["triples_dropped"] and not counts["triples"]:
        del counts["triples_dropped"]
    pq.write_table(pa.table({"qid": qids}), out / "qids.parquet")
    atomic_write_json(out / "meta.json", {**params, "kdir": str(kdir), "languages": langs,
                                          "relations": relations, "counts": counts})


def _prepare_triples(kdir: Path, out: Path, qids, fraction: float) -> tuple[list[str], int, int]:
    """Triples whose subject and object both have a description (no other can be an example), filtered
    and coded in batches: one pass for the relation names, one for the rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from xlmk.pretrain.heldout import below, triple_key

    trip_ds, rel_ds = _dataset(kdir, "triples"), _dataset(kdir, "relations")
    cols = {name: Column(out, f"triple_{name}", np.int32) for name in "sro"}
    held = Column(out, "triple_heldout", bool)
    kept = total = 0
    relations: list[str] = []
    if trip_ds is not None and trip_ds.count_rows():
        def batches():
            for batch in _batches(trip_ds, ["subject", "relation", "object"], 1 << 16):
                s = pc.index_in(batch["subject"], value_set=qids)
                o = pc.index_in(batch["object"], value_set=qids)
                ok = pc.and_(pc.is_valid(s), pc.is_valid(o))
                yield batch.filter(ok), s.filter(ok), o.filter(ok), batch.num_rows

        names = set(rel_ds.column("pid")) if rel_ds else set()
        for batch, _, _, _ in batches():
            names |= set(pc.unique(batch["relation"]).to_pylist())
        relations = sorted(names)
        rel_arr = pa.array(relations, pa.string())
        for batch, s, o, n in batches():
            total += n
            kept += batch.num_rows
            cols["s"].add(s.to_numpy(zero_copy_only=False))
            cols["r"].add(pc.index_in(batch["relation"], value_set=rel_arr).to_numpy(zero_copy_only=False))
            cols["o"].add(o.to_numpy(zero_copy_only=False))
            keys = (triple_key(*t) for t in zip(*(batch[c].to_pylist() for c in ("subject", "relation", "object"))))
            held.add(below(keys, fraction))
    for c in (*cols.values(), held):
        c.close()
    return relations, kept, total - kept


# ---------------------------------------------------------------- corpus
class PreparedCorpus:
    """MLM blocks of a text corpus: <s> + up to max_length - 2 tokens of running text + </s>."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.meta = json.loads((self.root / "meta.json").read_text(encoding="utf-8"))
        self.languages: list[str] = self.meta["languages"]
        self.blocks = TokenArray(self.root, "blocks")
        self.block_lang = np.load(self.root / "block_lang.npy")

    @property
    def data_hash(self) -> str:
        return self.meta["source"]


def prepare_corpus(files: list[Path], tokenizer: Any, *, max_length: int = 512,
                   cache_dir: str | Path | None = None, workers: int = 1) -> PreparedCorpus:
    """Tokenize text files (one language per file, named by it: `en.txt`, or compressed as CC-100 ships
    them, `en.txt.xz`; also .gz, .bz2, .zst) into packed MLM blocks, on `workers` processes."""
    from xlmk.modeling import cache_root

    if not files:
        raise DataError("the corpus has no files")
    for f in files:
        if not Path(f).is_file():
            raise DataError("corpus file not found", path=f)
    # size and mtime rather than a content hash: corpora run to gigabytes
    source = _key([(str(Path(f).resolve()), Path(f).stat().st_size, Path(f).stat().st_mtime_ns) for f in files])
    params = dict(v=PREPARE_VERSION, source=source, tokenizer=tokenizer_fingerprint(tokenizer), max_length=max_length)
    target = cache_root(cache_dir) / "prepared" / f"corpus-{_key(params)}"
    if not (target / "meta.json").is_file():
        with atomic_dir(target) as tmp:
            with _worker_tokenizer(tokenizer, workers, tmp) as tok, _mapper(workers) as run:
                _build_corpus([Path(f) for f in files], tok, tmp, params, run)
    return PreparedCorpus(target)


def _build_corpus(files: list[Path], tok: Any, out: Path, params: dict, run) -> None:
    from xlmk.progress import make_progress
    from xlmk.pretrain.prepare_jobs import corpus_batch, corpus_language, corpus_lines, tokenizer_of

    names = [corpus_language(f) for f in files]
    langs = sorted(set(names))
    room = params["max_length"] - 2
    special = tokenizer_of({"tok": tok})
    cls, sep = special.cls_token_id, special.sep_token_id
    w, block_lang = TokenWriter(out, "blocks"), Column(out, "block_lang", np.int16)
    per_lang = np.zeros(len(langs), dtype=np.int64)
    with make_progress() as progress:
        task = progress.add_task("tokenizing corpus", total=sum(f.stat().st_size for f in files))
        done = 0
        for f, name in zip(files, names):
            lang, carry = langs.index(name), np.zeros(0, np.int32)
            positions = []

            def jobs():
                for lines, position in corpus_lines(f, CHUNK):
                    positions.append(position)
                    yield {"tok": tok, "lines": lines}

            for k, r in enumerate(run(corpus_batch, jobs())):
                buf = np.concatenate([carry, r["ids"]])
                full = len(buf) // room
                if full:
                    _add_blocks(w, buf[:full * room].reshape(full, room), cls, sep)
                    block_lang.add(np.full(full, lang, np.int16))
                    per_lang[lang] += full
                carry = buf[full * room:]
                progress.update(task, completed=done + positions[k])
            if len(carry):  # the tail of the file is a shorter block
                _add_blocks(w, carry.reshape(1, -1), cls, sep)
                block_lang.add(np.full(1, lang, np.int16))
                per_lang[lang] += 1
            done += f.stat().st_size
    w.close()
    block_lang.close()
    if not len(w):
        raise DataError(f"the corpus files hold no text: {', '.join(str(f) for f in files)}")
    atomic_write_json(out / "meta.json", {**params, "files": [str(f) for f in files], "languages": langs,
                                          "blocks": dict(zip(langs, per_lang.tolist()))})


def _add_blocks(w: TokenWriter, body: np.ndarray, cls: int, sep: int) -> None:
    """<s> + each row + </s>."""
    n, k = body.shape
    blocks = np.empty((n, k + 2), np.int32)
    blocks[:, 0], blocks[:, 1:-1], blocks[:, -1] = cls, body, sep
    w.add_many(blocks.ravel(), np.full(n, k + 2, np.int64))
