"""Candidate lists drawn from the descriptions table: deterministic, language agnostic, gold kept."""
import collections

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from xlmk.errors import DataError, XlmkError
from xlmk.knowledge.candidates import build_candidate_list, load_or_build_candidates

LANGS = ["en", "de", "zh", "hi"]


@pytest.fixture()
def kdir(tmp_path):
    """200 descriptions over 4 languages in two files with several row groups each."""
    root = tmp_path / "k"
    (root / "descriptions").mkdir(parents=True)
    for part in range(2):
        rows = [
            {"qid": f"Q{i}", "lang": LANGS[i % 4], "title": f"T{i}", "text": f"text {i} {LANGS[i % 4]}"}
            for i in range(part * 100, part * 100 + 100)
        ]
        pq.write_table(pa.Table.from_pylist(rows), root / "descriptions" / f"part-{part:05d}.parquet",
                       row_group_size=16)
    return root


def test_draw_is_deterministic_unique_and_complete_rows(kdir):
    a = build_candidate_list(kdir, 50, seed=3)
    b = build_candidate_list(kdir, 50, seed=3)
    c = build_candidate_list(kdir, 50, seed=4)
    assert a.column_names == ["qid", "lang", "title", "text"]
    assert a.num_rows == 50 and a.equals(b) and not a.equals(c)
    rows = a.to_pylist()
    assert len({r["qid"] for r in rows}) == 50
    for r in rows:  # each row is intact, not stitched from different source rows
        i = int(r["qid"][1:])
        assert r == {"qid": f"Q{i}", "lang": LANGS[i % 4], "title": f"T{i}", "text": f"text {i} {LANGS[i % 4]}"}


def test_draw_spans_languages_and_files(kdir):
    rows = build_candidate_list(kdir, 120, seed=0).to_pylist()
    by_lang = collections.Counter(r["lang"] for r in rows)
    assert set(by_lang) == set(LANGS)
    assert min(by_lang.values()) >= 15  # uniform over rows: about 30 each
    assert any(int(r["qid"][1:]) < 100 for r in rows) and any(int(r["qid"][1:]) >= 100 for r in rows)


def test_language_filter_and_must_include(kdir):
    gold = [("Q5", "de"), ("Q199", "hi"), ("Q5", "de")]
    t = build_candidate_list(kdir, 10, seed=1, languages=["de", "hi"], must_include=gold)
    rows = t.to_pylist()
    assert t.num_rows == 10
    assert {r["lang"] for r in rows} <= {"de", "hi"}
    pairs = [(r["qid"], r["lang"]) for r in rows]
    assert ("Q5", "de") in pairs and ("Q199", "hi") in pairs
    assert len(set(pairs)) == 10  # a gold pair is not drawn a second time
    # gold answers are shuffled in, not always first
    firsts = {tuple(build_candidate_list(kdir, 10, seed=s, must_include=gold).column("qid").to_pylist()[:2])
              for s in range(6)}
    assert len(firsts) > 1


def test_small_table_returns_everything(kdir):
    t = build_candidate_list(kdir, 1000, seed=0, languages=["zh"])
    assert t.num_rows == 50 and set(t.column("lang").to_pylist()) == {"zh"}


def test_errors_name_the_problem(kdir, tmp_path):
    with pytest.raises(DataError, match="Q99999"):
        build_candidate_list(kdir, 5, must_include=[("Q99999", "en")])
    with pytest.raises(DataError, match="Q1"):  # Q1 exists, but only in German
        build_candidate_list(kdir, 5, must_include=[("Q1", "en")])
    with pytest.raises(XlmkError, match="outside languages"):
        build_candidate_list(kdir, 5, languages=["en"], must_include=[("Q1", "de")])
    with pytest.raises(XlmkError, match="more than the list size"):
        build_candidate_list(kdir, 1, must_include=[("Q1", "de"), ("Q2", "zh")])
    with pytest.raises(DataError, match="no descriptions"):
        build_candidate_list(tmp_path / "empty", 5)


def test_cache_reuses_and_keys_on_options(kdir, tmp_path):
    cache = tmp_path / "cache"
    a = load_or_build_candidates(kdir, 20, 7, cache)
    files = list(cache.glob("candidates-*.parquet"))
    assert len(files) == 1 and not list(cache.glob(".*"))
    assert load_or_build_candidates(kdir, 20, 7, cache).equals(a)
    assert len(list(cache.glob("*.parquet"))) == 1
    load_or_build_candidates(kdir, 20, 8, cache)
    load_or_build_candidates(kdir, 20, 7, cache, must_include=[("Q3", "hi")])
    assert len(list(cache.glob("*.parquet"))) == 3
    # a rebuilt knowledge directory (new manifest) never reuses a stale list
    (kdir / "manifest.json").write_text('{"build": 2}')
    load_or_build_candidates(kdir, 20, 7, cache)
    assert len(list(cache.glob("*.parquet"))) == 4
