"""Fixtures of the knowledge tests: real-layout dump snippets written in each compression."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `import snippets`

import snippets  # noqa: E402
from snippets import compress  # noqa: E402


@pytest.fixture()
def dumps(tmp_path):
    """Writes the snippet dumps; returns a function kind -> (wikidata path, enwiki path)."""

    def make(kind: str = "plain", wikidata: bytes | None = None, enwiki: bytes | None = None):
        suffix = {"plain": "", "gz": ".gz", "bz2": ".bz2"}[kind]
        wd = tmp_path / f"latest-all.json{suffix}"
        en = tmp_path / f"enwiki-20240101-pages-articles.xml{suffix}"
        wd.write_bytes(compress(wikidata if wikidata is not None else snippets.wikidata_dump(), kind))
        en.write_bytes(compress(enwiki if enwiki is not None else snippets.wikipedia_dump(), kind))
        return wd, en

    return make
