"""Tokenize a knowledge directory and a text corpus once, into memory-mapped token arrays.

Pre-training draws millions of random examples; tokenizing each time would cost more than the model
on a small encoder, and holding token lists in Python objects would not fit a full Wikipedia. So the
tables are tokenized once (rank 0 of a distributed run; the others wait) into a cache directory keyed
by the knowledge manifest (or the corpus files), the tokenizer and the lengths, in the layout of
fairseq's indexed datasets: one flat int32 file of tokens plus an int64 offsets array per table. QIDs,
languages and relations become small integers through Arrow's hash tables (`pyarrow.compute.index_in`),
never Python dictionaries, so memory stays at a few bytes per row.

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

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xlmk.errors import DataError
from xlmk.io import atomic_dir, atomic_write_json

PREPARE_VERSION = 3  # bump whenever what is prepared changes: it keys the cache
CHUNK = 2048  # rows tokenized per call: big enough for the Rust tokenizer's batching, small in memory


# ---------------------------------------------------------------- token arrays
class TokenArray:
    """Variable-length sequences stored flat: `NAME.tokens` (int32) and `NAME.offsets.npy` (int64, n + 1)."""

    def __init__(self, root: Path, name: str):
        self.offsets = np.load(root / f"{name}.offsets.npy", mmap_mode="r")
        total = int(self.offsets[-1])
        self.tokens = (np.memmap(root / f"{name}.tokens", dtype=np.int32, mode="r", shape=(total,))
                       if total else np.zeros(0, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[self.offsets[i]:self.offsets[i + 1]])

    def lengths(self) -> np.ndarray:
        return np.diff(np.asarray(self.offsets))


class _TokenWriter:
    def __init__(self, root: Path, name: str):
        self.root, self.name = root, name
        self.fh = open(root / f"{name}.tokens", "wb")
        self.offsets = [0]

    def add(self, ids: Sequence[int]) -> None:
        arr = np.asarray(ids, dtype=np.int32)
        self.fh.write(arr.tobytes())
        self.offsets.append(self.offsets[-1] + len(arr))

    def close(self) -> None:
        self.fh.close()
        np.save(self.root / f"{self.name}.offsets.npy", np.asarray(self.offsets, dtype=np.int64))


# ---------------------------------------------------------------- keys
def tokenizer_fingerprint(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    blob = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:20]


def _heldout(keys: Iterable[str], fraction: float) -> np.ndarray:
    """A row is held out when a stable hash of its content falls below `fraction` (same split in every run)."""
    cut = int(fraction * 2**32)
    return np.fromiter((zlib.crc32(k.encode("utf-8")) < cut for k in keys), dtype=bool)


def window(ids: np.ndarray, span: tuple[int, int], max_length: int) -> tuple[np.ndarray, tuple[int, int]] | None:
    """At most `max_length` ids (<s> ... </s> kept) centred on the span; None when the span cannot fit."""
    body, (a, b) = ids[1:-1], (span[0] - 1, span[1] - 1)
    room = max_length - 2
    if len(body) <= room:
        return ids, span
    if b - a > room:
        return None
    start = max(0, min(a - (room - (b - a)) // 2, len(body) - room))
    out = np.concatenate([ids[:1], body[start:start + room], ids[-1:]])
    return out, (a - start + 1, b - start + 1)


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
        self.mention_qid = np.load(self.root / "mention_qid.npy")
        self.mention_lang = np.load(self.root / "mention_lang.npy")
        self.mention_span = np.load(self.root / "mention_span.npy")
        self.mention_heldout = np.load(self.root / "mention_heldout.npy")
        self.mention_source = np.load(self.root / "mention_source.npy")  # row in the knowledge's mentions table
        self.triple_s, self.triple_r, self.triple_o = (np.load(self.root / f"triple_{c}.npy") for c in "sro")
        self.triple_heldout = np.load(self.root / "triple_heldout.npy")
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


def _dataset(kdir: Path, table: str):
    import pyarrow.dataset as ds

    from xlmk.knowledge.schema import table_files

    files = table_files(kdir, table)
    return ds.dataset([str(f) for f in files], format="parquet") if files else None


def _progress_rows(progress, label: str, total: int):
    return progress.add_task(label, total=total or None) if progress is not None else None


def prepare_knowledge(kdir: str | Path, tokenizer: Any, *, languages: list[str] | None = None,
                      description_max: int = 256, mention_max: int = 256, heldout: float = 0.02,
                      cache_dir: str | Path | None = None) -> PreparedKnowledge:
    """Tokenize `kdir` (descriptions, mentions, triples) once; later calls reuse the cache."""
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
            _build_knowledge(kdir, tokenizer, tmp, params, languages)
    return PreparedKnowledge(target)


def _build_knowledge(kdir: Path, tok: Any, out: Path, params: dict, languages: list[str] | None) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from xlmk.progress import make_progress

    desc_ds = _dataset(kdir, "descriptions")
    if desc_ds is None:
        raise DataError("the knowledge directory has no descriptions table (descriptions/*.parquet)", path=kdir)
    head = desc_ds.to_table(columns=["qid", "lang"])
    if languages:
        head = head.filter(pc.is_in(head["lang"], value_set=pa.array(languages)))
    ment_ds = _dataset(kdir, "mentions")
    langs = set(pc.unique(head["lang"].combine_chunks()).to_pylist())
    for batch in ment_ds.to_batches(columns=["lang"], batch_size=1 << 16) if ment_ds else []:
        langs |= set(pc.unique(batch["lang"]).to_pylist())  # a language may have mentions and no descriptions
    langs = sorted(langs & set(languages)) if languages else sorted(langs)
    if languages:
        missing = sorted(set(languages) - set(langs))
        if missing:
            raise DataError(f"data.knowledge.languages asks for {missing}, which have neither descriptions nor mentions", path=kdir)
    qids = pc.unique(head["qid"].combine_chunks()).sort()
    lang_arr = pa.array(langs, pa.string())  # typed even when empty (a null-typed set cannot match)
    counts: dict[str, Any] = {}

    with make_progress() as progress:
        # descriptions: <s> text </s>, first `description_max` tokens
        task = _progress_rows(progress, "tokenizing descriptions", head.num_rows)
        w, dq, dl = _TokenWriter(out, "desc"), [], []
        for batch in desc_ds.to_batches(columns=["qid", "lang", "text"], batch_size=CHUNK):
            q = pc.index_in(batch["qid"], value_set=qids)
            l = pc.index_in(batch["lang"], value_set=lang_arr)
            keep = pc.and_(pc.is_valid(q), pc.is_valid(l))
            q, l = q.filter(keep).to_numpy(), l.filter(keep).to_numpy()
            texts = batch["text"].filter(keep).to_pylist()
            # the tokenizer fails on an empty list (an empty shard, or no row of the languages asked for)
            for ids in tok(texts, truncation=True, max_length=params["description_max"])["input_ids"] if texts else []:
                w.add(ids)
            dq.append(q.astype(np.int32))
            dl.append(l.astype(np.int16))
            if task is not None:
                progress.advance(task, len(texts))
        w.close()
        np.save(out / "desc_qid.npy", np.concatenate(dq) if dq else np.zeros(0, np.int32))
        np.save(out / "desc_lang.npy", np.concatenate(dl) if dl else np.zeros(0, np.int16))
        counts["descriptions"] = sum(len(x) for x in dq)

        # mentions: the sentence tokenized with offsets; the tokens touching [start, end) are the mention
        w = _TokenWriter(out, "mention")
        mq, ml, ms, mh, msrc = [], [], [], [], []
        dropped = no_context = undescribed = base = 0
        task = _progress_rows(progress, "tokenizing mentions", ment_ds.count_rows() if ment_ds else 0)
        for batch in ment_ds.to_batches(columns=["lang", "page_title", "text", "start", "end", "qid"],
                                        batch_size=CHUNK) if ment_ds else []:
            q = pc.index_in(batch["qid"], value_set=qids)
            l = pc.index_in(batch["lang"], value_set=lang_arr)
            keep = pc.and_(pc.is_valid(q), pc.is_valid(l))
            source = np.flatnonzero(keep.to_numpy(zero_copy_only=False)) + base  # row in the mentions table
            base += batch.num_rows
            undescribed += batch.num_rows - len(source)
            rows = batch.filter(keep)
            q, l = q.filter(keep).to_numpy(), l.filter(keep).to_numpy()
            texts = rows["text"].to_pylist()
            starts, ends = rows["start"].to_pylist(), rows["end"].to_pylist()
            enc = tok(texts, add_special_tokens=False, return_offsets_mapping=True) if texts else \
                {"input_ids": [], "offset_mapping": []}
            keys = (f"{a}\t{b}\t{s}\t{e}\t{c}" for a, b, s, e, c in zip(
                rows["lang"].to_pylist(), rows["page_title"].to_pylist(), starts, ends, rows["qid"].to_pylist()))
            held = _heldout(keys, params["heldout"])
            for i, (ids, offs) in enumerate(zip(enc["input_ids"], enc["offset_mapping"])):
                # a "sentence" that is only its anchor (a list item, a caption) leaves nothing to predict from
                if not any(ch.isalnum() for ch in texts[i][:starts[i]] + texts[i][ends[i]:]):
                    no_context += 1
                    continue
                touched = [j for j, (s, e) in enumerate(offs) if s < ends[i] and e > starts[i]]
                if not touched:
                    dropped += 1
                    continue
                full = np.asarray([tok.cls_token_id, *ids, tok.sep_token_id], dtype=np.int32)
                cut = window(full, (touched[0] + 1, touched[-1] + 2), params["mention_max"])
                if cut is None:
                    dropped += 1
                    continue
                w.add(cut[0])
                mq.append(q[i]), ml.append(l[i]), ms.append(cut[1]), mh.append(held[i]), msrc.append(source[i])
            if task is not None:
                progress.advance(task, batch.num_rows)
        w.close()
        np.save(out / "mention_qid.npy", np.asarray(mq, dtype=np.int32))
        np.save(out / "mention_lang.npy", np.asarray(ml, dtype=np.int16))
        np.save(out / "mention_span.npy", np.asarray(ms, dtype=np.int32).reshape(-1, 2))
        np.save(out / "mention_heldout.npy", np.asarray(mh, dtype=bool))
        np.save(out / "mention_source.npy", np.asarray(msrc, dtype=np.int64))
        counts.update(mentions=len(mq), mentions_dropped=dropped, mentions_without_context=no_context,
                      mentions_of_undescribed_entities=undescribed)

    # triples whose subject and object both have a description (no other can be an example)
    trip_ds, rel_ds = _dataset(kdir, "triples"), _dataset(kdir, "relations")
    trip = trip_ds.to_table(columns=["subject", "relation", "object"]) if trip_ds else None
    relations: list[str] = []
    if trip is not None and trip.num_rows:
        s, o = pc.index_in(trip["subject"], value_set=qids), pc.index_in(trip["object"], value_set=qids)
        keep = pc.and_(pc.is_valid(s), pc.is_valid(o))
        trip = trip.filter(keep)
        counts["triples_dropped"] = int(len(keep) - trip.num_rows)
        known = rel_ds.to_table(columns=["pid"])["pid"].to_pylist() if rel_ds else []
        relations = sorted(set(known) | set(trip["relation"].to_pylist()))
    rel_arr = pa.array(relations, pa.string())
    if trip is not None and trip.num_rows:
        for col, name in (("subject", "s"), ("relation", "r"), ("object", "o")):
            idx = pc.index_in(trip[col], value_set=rel_arr if col == "relation" else qids)
            np.save(out / f"triple_{name}.npy", idx.to_numpy().astype(np.int32))
        keys = ("\t".join(t) for t in zip(*(trip[c].to_pylist() for c in ("subject", "relation", "object"))))
        np.save(out / "triple_heldout.npy", _heldout(keys, params["heldout"]))
    else:
        for name in "sro":
            np.save(out / f"triple_{name}.npy", np.zeros(0, np.int32))
        np.save(out / "triple_heldout.npy", np.zeros(0, bool))
    counts["triples"] = trip.num_rows if trip is not None else 0

    pq.write_table(pa.table({"qid": qids}), out / "qids.parquet")
    atomic_write_json(out / "meta.json", {**params, "kdir": str(kdir), "languages": langs,
                                          "relations": relations, "counts": counts})


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
                   cache_dir: str | Path | None = None) -> PreparedCorpus:
    """Tokenize plain-text files (one language per file, named by its stem) into packed MLM blocks."""
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
            _build_corpus([Path(f) for f in files], tokenizer, tmp, params)
    return PreparedCorpus(target)


def _build_corpus(files: list[Path], tok: Any, out: Path, params: dict) -> None:
    from xlmk.progress import make_progress

    langs = sorted({f.stem for f in files})
    room = params["max_length"] - 2
    w, block_lang = _TokenWriter(out, "blocks"), []
    with make_progress() as progress:
        task = progress.add_task("tokenizing corpus", total=sum(f.stat().st_size for f in files))
        for f in files:
            lang, buf = langs.index(f.stem), []
            with open(f, encoding="utf-8") as fh:
                lines: list[str] = []
                for lineno, line in enumerate(fh, 1):
                    progress.advance(task, len(line.encode("utf-8")))
                    if line.strip():
                        lines.append(line.strip())
                    if len(lines) == CHUNK:
                        buf = _pack(tok, lines, buf, room, w, block_lang, lang)
                        lines = []
                buf = _pack(tok, lines, buf, room, w, block_lang, lang)
            if buf:  # the tail of the file is a shorter block
                w.add([tok.cls_token_id, *buf, tok.sep_token_id])
                block_lang.append(lang)
    w.close()
    if not block_lang:
        raise DataError(f"the corpus files hold no text: {', '.join(str(f) for f in files)}")
    np.save(out / "block_lang.npy", np.asarray(block_lang, dtype=np.int16))
    counts = dict(zip(langs, np.bincount(block_lang, minlength=len(langs)).tolist()))
    atomic_write_json(out / "meta.json", {**params, "files": [str(f) for f in files], "languages": langs,
                                          "blocks": counts})


def _pack(tok: Any, lines: list[str], buf: list[int], room: int, w: _TokenWriter, block_lang: list, lang: int) -> list[int]:
    """Append the lines (separated by </s>, as RoBERTa's full-sentence packing) and write every full block."""
    if not lines:
        return buf
    for ids in tok(lines, add_special_tokens=False)["input_ids"]:
        buf.extend(ids + [tok.sep_token_id])
        while len(buf) >= room:
            w.add([tok.cls_token_id, *buf[:room], tok.sep_token_id])
            block_lang.append(lang)
            buf = buf[room:]
    return buf
