"""The sample world's knowledge is built once, cached by content, and matches the seed's counts."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from xlmk.components import SampleKnowledge


def test_sample_knowledge_is_cached_and_complete(xlmk_cache, sample_world):
    first = SampleKnowledge(cache_dir=str(xlmk_cache)).build()
    mtime = (first / "manifest.json").stat().st_mtime_ns
    again = SampleKnowledge(cache_dir=str(xlmk_cache)).build()
    assert again == first and (again / "manifest.json").stat().st_mtime_ns == mtime  # not rebuilt
    expected = json.loads((sample_world / "expected_knowledge.json").read_text())
    assert pq.read_table(first / "triples").num_rows == expected["triples"]
    mentions = pq.read_table(first / "mentions", columns=["lang"]).column("lang").to_pylist()
    assert {l: mentions.count(l) for l in expected["mentions"]} == expected["mentions"]
