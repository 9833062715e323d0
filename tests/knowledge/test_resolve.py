"""The title index and redirect resolution, vectorised over Arrow columns."""
import pyarrow as pa
import pyarrow.parquet as pq

from xlmk.knowledge.resolve import finalize_titles, load_titles, redirect_map, resolve_batch


def chunked(rows, names):
    """A table in several chunks, as reading several row groups or files gives."""
    half = len(rows) // 2
    parts = [pa.Table.from_pylist([dict(zip(names, r)) for r in part]) for part in (rows[:half], rows[half:]) if part]
    return pa.concat_tables(parts)


def test_redirect_chains_loops_hops_and_title_precedence():
    titles = chunked([("A", "Q1"), ("B", "Q2"), ("Both", "Q3")], ["title", "qid"])
    redirects = chunked([("R1", "A"), ("R2", "R1"), ("R3", "R2"), ("L1", "L2"), ("L2", "L1"),
                         ("Both", "A"), ("Dead", "Nowhere"), ("R1", "B")], ["src", "dst"])
    got = {r["title"]: r["qid"] for r in redirect_map(titles, redirects, max_hops=5).to_pylist()}
    # R1 -> A (its first redirect row wins), chains resolve, loops and dead ends do not,
    # and a title with its own QID is never overridden by a redirect of the same name
    assert got == {"R1": "Q1", "R2": "Q1", "R3": "Q1"}
    assert {r["title"] for r in redirect_map(titles, redirects, max_hops=2).to_pylist()} == {"R1", "R2"}
    lookup = pa.concat_tables([titles, redirect_map(titles, redirects, max_hops=5)])
    assert resolve_batch(pa.array(["R3", "Both", "L1", "Dead", "B", None]), lookup).to_pylist() == \
        ["Q1", "Q3", None, None, "Q2", None]


def test_titles_merge_sorted_per_language_first_occurrence_wins(tmp_path):
    rows = [[("en", "B", "Q2"), ("en", "A", "Q1"), ("de", "A", "Q1")],
            [("en", "A", "Q9"), ("en", "C", "Q2"), ("fr", "X", "Q5")]]
    files = []
    for i, part in enumerate(rows):
        files.append(tmp_path / f"t{i}.parquet")
        pq.write_table(pa.Table.from_pylist([dict(zip(["lang", "title", "qid"], r)) for r in part]), files[-1])
    (tmp_path / "titles").mkdir()
    out = tmp_path / "titles" / "part-00000.parquet"
    counts, dropped = finalize_titles(files, out)
    assert counts == {"de": 1, "en": 2, "fr": 1} and dropped == 2  # (en, A, Q9) and (en, C, Q2)
    assert [tuple(r.values()) for r in pq.read_table(out).to_pylist()] == [
        ("de", "A", "Q1"), ("en", "A", "Q1"), ("en", "B", "Q2"), ("fr", "X", "Q5")]
    assert pq.ParquetFile(out).metadata.num_row_groups == 3  # one per language: filters skip the rest
    assert load_titles(out, "en").to_pylist() == [{"title": "A", "qid": "Q1"}, {"title": "B", "qid": "Q2"}]
