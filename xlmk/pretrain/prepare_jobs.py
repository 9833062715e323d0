"""The per-batch work of preparation, as plain functions of a picklable job, run in order on workers.

A job carries its rows as Arrow arrays (Python objects are made on the worker) and the tokenizer either as itself (one process) or as a saved
directory that each worker loads once. A job's result is a few numpy arrays; the preparing process
only writes them, in job order, so any number of workers gives the same files as one.
Corpus files are read here too: `.txt`, `.gz`, `.bz2`, `.xz` or `.zst`, as streams.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from xlmk.io import COMPRESSED_SUFFIXES as COMPRESSED
from xlmk.io import corpus_language  # noqa: F401  (re-exported for prepare)
from xlmk.pretrain.heldout import below, mention_key

_TOKENIZERS: dict[str, Any] = {}


class BackendTokenizer:
    """The part of a fast tokenizer's call that preparation uses, on the `tokenizers` backend alone, so a
    worker starts in a fraction of a second instead of importing transformers (several seconds)."""

    def __init__(self, spec: dict) -> None:
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_file(spec["file"])
        self.backend.no_padding()
        self.cls_token_id, self.sep_token_id = spec["cls"], spec["sep"]

    def __call__(self, texts: list[str], *, truncation: bool = False, max_length: int | None = None,
                 add_special_tokens: bool = True, return_offsets_mapping: bool = False) -> dict:
        if truncation:
            self.backend.enable_truncation(max_length)
        else:
            self.backend.no_truncation()
        encs = self.backend.encode_batch(texts, add_special_tokens=add_special_tokens)
        out = {"input_ids": [e.ids for e in encs]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encs]
        return out


def tokenizer_of(job: dict):
    """The job's tokenizer: itself (one process), or loaded once per worker from what it names."""
    tok = job["tok"]
    if not isinstance(tok, (str, dict)):
        return tok
    key = tok if isinstance(tok, str) else tok["file"]
    if key not in _TOKENIZERS:
        if isinstance(tok, dict):
            _TOKENIZERS[key] = BackendTokenizer(tok)
        else:
            from transformers import AutoTokenizer

            _TOKENIZERS[key] = AutoTokenizer.from_pretrained(tok)
    return _TOKENIZERS[key]


def _flat(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(lengths.sum()))
    return flat, lengths


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


def description_batch(job: dict) -> dict:
    """<s> text </s>, cut to `max_length` tokens."""
    tok = tokenizer_of(job)
    texts = job["texts"].to_pylist()
    # the tokenizer fails on an empty list (an empty shard, or no row of the languages asked for)
    ids = tok(texts, truncation=True, max_length=job["max_length"])["input_ids"] if texts else []
    flat, lengths = _flat(ids)
    return {"flat": flat, "lengths": lengths, "q": job["q"], "l": job["l"]}


def mention_batch(job: dict) -> dict:
    """Each sentence tokenized with offsets; the tokens touching [start, end) are the mention, and a
    window of at most `max_length` tokens is kept around it. Returns the kept rows' arrays."""
    tok = tokenizer_of(job)
    rows = job["rows"]
    texts, starts, ends = (rows[c].to_pylist() for c in ("text", "start", "end"))
    enc = tok(texts, add_special_tokens=False, return_offsets_mapping=True) if texts else \
        {"input_ids": [], "offset_mapping": []}
    # a row is held out when a stable hash of its content falls below the fraction (same split in every run)
    held = below((mention_key(*r) for r in zip(
        rows["lang"].to_pylist(), rows["page_title"].to_pylist(), starts, ends, rows["qid"].to_pylist())),
        job["heldout"])
    seqs, spans, kept = [], [], []
    no_context = dropped = 0
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
        cut = window(full, (touched[0] + 1, touched[-1] + 2), job["max_length"])
        if cut is None:
            dropped += 1
            continue
        seqs.append(cut[0])
        spans.append(cut[1])
        kept.append(i)
    lengths = np.asarray([len(s) for s in seqs], dtype=np.int64)
    kept_idx = np.asarray(kept, dtype=np.int64)
    return {"flat": np.concatenate(seqs) if seqs else np.zeros(0, np.int32), "lengths": lengths,
            "spans": np.asarray(spans, dtype=np.int32).reshape(-1, 2), "q": job["q"][kept_idx],
            "l": job["l"][kept_idx], "source": job["source"][kept_idx], "held": held[kept_idx],
            "no_context": no_context, "dropped": dropped}


def corpus_batch(job: dict) -> dict:
    """The lines' tokens, each line followed by </s> (RoBERTa's full-sentence packing), concatenated."""
    tok = tokenizer_of(job)
    ids = tok(job["lines"], add_special_tokens=False)["input_ids"]
    sep = tok.sep_token_id
    return {"ids": np.fromiter((t for s in ids for t in (*s, sep)), dtype=np.int32,
                               count=sum(len(s) + 1 for s in ids))}


# ---------------------------------------------------------------- corpus files
def open_binary(path: Path, raw):
    """The uncompressed bytes of `raw` (the opened file `path`) as a stream, by the file's suffix."""
    kind = COMPRESSED.get(path.suffix)
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "bz2":
        import bz2

        return bz2.BZ2File(raw, "rb")
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw, "rb")
    if kind == "zstd":
        try:
            import zstandard
        except ImportError:
            from xlmk.errors import DataError

            raise DataError("a .zst corpus needs zstandard: pip install 'xlmk[scale]'", path=path) from None
        import io

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=False))
    return raw


def corpus_lines(path: Path, chunk: int) -> Iterator[tuple[list[str], int]]:
    """Lists of up to `chunk` non-blank stripped lines, with the file's bytes read so far.

    A line that is not UTF-8, or a damaged compressed stream, is a DataError naming the file and line."""
    import lzma

    from xlmk.errors import DataError

    errors = (EOFError, OSError, zlib.error, lzma.LZMAError)
    try:
        import zstandard

        errors += (zstandard.ZstdError,)
    except ImportError:  # no .zst can be open then: opening one says which extra it needs
        pass
    lines: list[str] = []
    lineno = 0
    with open(path, "rb") as raw:
        stream = open_binary(path, raw)
        try:
            for lineno, line in enumerate(stream, 1):
                try:
                    text = line.decode("utf-8").strip()
                except UnicodeDecodeError as exc:
                    raise DataError(f"not UTF-8 (byte {exc.start} of the line)", path=path, line=lineno) from None
                if text:
                    lines.append(text)
                if len(lines) == chunk:
                    yield lines, raw.tell()
                    lines = []
        except errors as exc:
            raise DataError(f"damaged compressed stream after line {lineno}: {type(exc).__name__}: {exc}",
                            path=path, line=lineno + 1) from None
        finally:
            if stream is not raw:
                stream.close()
    yield lines, path.stat().st_size
