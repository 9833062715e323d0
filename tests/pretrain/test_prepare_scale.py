"""Preparation at scale: compressed corpus files, any number of tokenizing workers, clear bad-input errors."""
import bz2
import gzip
import lzma
import shutil

import numpy as np
import pytest

from xlmk.errors import DataError
from xlmk.pretrain.prepare import prepare_corpus, prepare_knowledge


def _arrays(root):
    return {p.name: (np.load(p) if p.suffix == ".npy" else p.read_bytes())
            for p in sorted(root.iterdir()) if p.name != "meta.json"}


def _same(a, b):
    x, y = _arrays(a.root), _arrays(b.root)
    assert x.keys() == y.keys()
    for name in x:
        assert np.array_equal(x[name], y[name]) if name.endswith(".npy") else x[name] == y[name], name


def _compress(src, dst, kind):
    data = src.read_bytes()
    if kind == "zst":
        import zstandard

        blob = zstandard.ZstdCompressor().compress(data)
    else:
        blob = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[kind](data)
    dst.write_bytes(blob)


def test_compressed_corpus_files_give_the_blocks_of_plain_ones(world, tokenizer, tmp_path):
    plain = sorted(world[1].glob("*.txt"))
    packed = []
    for f, kind in zip(plain, ["gz", "bz2", "xz", "zst"] * 2):
        packed.append(tmp_path / f"{f.name}.{kind}")  # CC-100's naming: en.txt.xz
        _compress(f, packed[-1], kind)
    a = prepare_corpus(plain, tokenizer, max_length=32, cache_dir=tmp_path / "a")
    b = prepare_corpus(packed, tokenizer, max_length=32, cache_dir=tmp_path / "b")
    assert b.languages == a.languages == sorted(f.stem for f in plain)
    _same(a, b)
    assert b.meta["blocks"] == a.meta["blocks"] and len(b.blocks) > 10


def test_bad_corpus_files_name_the_file_and_line(world, tokenizer, tmp_path):
    bad = tmp_path / "en.txt.gz"
    bad.write_bytes(gzip.compress("good line\nsecond line\n".encode() + b"caf\xe9\n"))
    with pytest.raises(DataError, match=r"en.txt.gz:3: not UTF-8"):
        prepare_corpus([bad], tokenizer, cache_dir=tmp_path / "c")
    cut = tmp_path / "de.txt.bz2"
    cut.write_bytes(bz2.compress(("eine Zeile\n" * 5000).encode())[:-40])
    with pytest.raises(DataError, match=r"de.txt.bz2:\d+: damaged compressed stream"):
        prepare_corpus([cut], tokenizer, cache_dir=tmp_path / "c")
    assert not list((tmp_path / "c").rglob("meta.json"))  # nothing half-prepared is left as finished


@pytest.mark.slow  # spawns two tokenizing workers: ~5 s idle
def test_two_workers_prepare_the_same_files_as_one(world, tokenizer, tmp_path):
    kdir, corpus = world[0], sorted(world[1].glob("*.txt"))
    one = prepare_knowledge(kdir, tokenizer, heldout=0.1, cache_dir=tmp_path / "one")
    two = prepare_knowledge(kdir, tokenizer, heldout=0.1, cache_dir=tmp_path / "two", workers=2)
    assert one.root.name == two.root.name  # workers do not key the cache: the files are the same
    _same(one, two)
    assert len(two.mention) > 50 and len(two.triple_s) > 0
    c1 = prepare_corpus(corpus, tokenizer, max_length=32, cache_dir=tmp_path / "one")
    shutil.rmtree(tmp_path / "two" / "prepared" / c1.root.name, ignore_errors=True)
    c2 = prepare_corpus(corpus, tokenizer, max_length=32, cache_dir=tmp_path / "two", workers=2)
    _same(c1, c2)
