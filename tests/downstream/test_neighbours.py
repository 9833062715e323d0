"""Nearest neighbours: the bfloat16 shortlist re-scored in float32 gives the float32 search's neighbours,
similarities, mined pairs and accuracy, on random data and on data built to break it (near-ties below
bfloat16's resolution, anisotropic embeddings, duplicated sentences, k larger than the set)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from xlmk.downstream import neighbours  # noqa: E402
from xlmk.downstream.retrieval import best_matches, mine_pairs, normalize  # noqa: E402

TIE = 1e-6  # similarities this close are float ties: float32 products in another order may swap them


def _random(n: int, m: int, d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return normalize(torch.randn(n, d, generator=g)), normalize(torch.randn(m, d, generator=g))


def _anisotropic(n: int, d: int, seed: int):
    """What encoders give: every state shares a large direction, each language its own mean; x are noisy
    translations of y in another order."""
    g = torch.Generator().manual_seed(seed)
    common = 3 * torch.randn(d, generator=g)
    y = torch.randn(n, d, generator=g)
    x = y[torch.randperm(n, generator=g)] + 0.7 * torch.randn(n, d, generator=g)
    return normalize(x + common + torch.randn(d, generator=g)), normalize(y + common + torch.randn(d, generator=g))


def _near_ties(n: int, d: int, seed: int):
    """40 targets that differ by 1e-4 (bfloat16 cannot order them) near every query: the shortlist
    of k + SPARE is a lottery among them, so only the certificate and the float32 re-search save the result."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.randn(d, generator=g)
    y = torch.cat([centre + 1e-4 * torch.randn(40, d, generator=g), torch.randn(n - 40, d, generator=g)])
    x = centre + 0.3 * torch.randn(n, d, generator=g)
    return normalize(x), normalize(y)


def _assert_true_top_k(q, keys, sims, inds, k):
    """Every row's neighbours are a top k of the float64 similarities (up to float ties), best first,
    with their similarities to float32 accuracy."""
    truth = q.double() @ keys.double().T
    best = torch.topk(truth, k, dim=1).values
    got = torch.gather(truth, 1, inds)
    assert torch.allclose(got, best, atol=TIE, rtol=0), (got - best).abs().max()
    assert torch.allclose(sims.double(), got, atol=TIE, rtol=0)
    assert bool((sims[:, :-1] >= sims[:, 1:]).all())


def _same(a, b, x, y):
    """Both searches' results agree: identical where no float tie, true top-k everywhere."""
    for (sims, inds), (q, keys) in (((a[0], a[1]), (x, y)), ((a[2], a[3]), (y, x))):
        if sims.shape[1]:
            _assert_true_top_k(q, keys, sims, inds, sims.shape[1])
    for i in range(4):
        assert a[i].shape == b[i].shape
    assert torch.allclose(a[0], b[0], atol=TIE) and torch.allclose(a[2], b[2], atol=TIE)


@pytest.mark.parametrize("make", ["random", "anisotropic", "near_ties"])
def test_the_bfloat16_shortlist_finds_the_float32_neighbours_in_both_directions(make):
    if make == "random":
        x, y = _random(700, 500, 96, 0)
    elif make == "anisotropic":
        x, y = _anisotropic(600, 96, 1)
    else:
        x, y = _near_ties(600, 96, 2)
    exact = neighbours.knn(x, y, 4, 5, block=256, search="float32")
    short = neighbours.knn(x, y, 4, 5, block=256, search="bfloat16")
    _same(short, exact, x, y)
    _same(exact, short, x, y)
    if make == "random":  # no ties there: the very same indices
        assert torch.equal(short[1], exact[1]) and torch.equal(short[3], exact[3])


def test_rows_without_a_certificate_are_searched_again_in_float32(monkeypatch):
    x, y = _near_ties(300, 64, 3)
    searched_again: list[int] = []
    exact = neighbours._exact

    def spy(q, keys, kx, ky, block):
        searched_again.append(q.shape[0])
        return exact(q, keys, kx, ky, block)

    monkeypatch.setattr(neighbours, "_exact", spy)
    sims, inds, _, _ = neighbours.knn(x, y, 4, 0, block=128, search="bfloat16")
    assert searched_again and 0 < searched_again[0] <= x.shape[0]
    _assert_true_top_k(x, y, sims, inds, 4)
    # random data: almost every row is certified, so the re-search is a small share of the work
    searched_again.clear()
    x, y = _random(400, 400, 64, 4)
    neighbours.knn(x, y, 4, 4, block=128, search="bfloat16")
    assert sum(searched_again) < 0.1 * 800


def test_k_larger_than_the_set_and_empty_sides():
    x, y = _random(9, 6, 32, 5)
    for search in ("float32", "bfloat16"):
        xs, xi, ys, yi = neighbours.knn(x, y, 20, 20, block=4, search=search)
        assert xs.shape == (9, 6) and ys.shape == (6, 9)
        _assert_true_top_k(x, y, xs, xi, 6)
        _assert_true_top_k(y, x, ys, yi, 9)
        xs, xi, ys, yi = neighbours.knn(x[:0], y, 3, 3, search=search)
        assert xs.shape == (0, 3) and ys.shape == (6, 0)


def _classes(rows):
    """Index -> index of the first identical row: duplicated sentences embed identically."""
    first: dict[tuple, int] = {}
    return [first.setdefault(tuple(r.tolist()), i) for i, r in enumerate(rows)]


@pytest.mark.parametrize("scoring", ["margin", "cosine"])
def test_mined_pairs_and_best_matches_equal_the_float32_computation(scoring):
    x, y = _random(800, 600, 128, 6)
    exact = mine_pairs(x, y, scoring=scoring, k=4, block=300, search="float32")
    short = mine_pairs(x, y, scoring=scoring, k=4, block=300, search="bfloat16")
    assert [p[:2] for p in short] == [p[:2] for p in exact]
    assert [p[2] for p in short] == pytest.approx([p[2] for p in exact], abs=1e-6)
    best_e, score_e = best_matches(y, x, scoring=scoring, k=4, search="float32")
    best_s, score_s = best_matches(y, x, scoring=scoring, k=4, search="bfloat16")
    assert torch.equal(best_s, best_e) and torch.allclose(score_s, score_e, atol=1e-6)


def test_mining_with_duplicated_sentences_and_anisotropic_translations():
    x, y = _anisotropic(400, 64, 7)
    y = torch.cat([y, y[:50]])  # the same target sentence twice
    x = torch.cat([x, x[:30]])
    cx, cy = _classes(x), _classes(y)
    for scoring in ("margin", "cosine"):
        exact = mine_pairs(x, y, scoring=scoring, k=4, block=128, search="float32")
        short = mine_pairs(x, y, scoring=scoring, k=4, block=128, search="bfloat16")
        assert [p[2] for p in short] == pytest.approx([p[2] for p in exact], abs=1e-6)
        # a duplicate may be taken for its twin (a true tie); nothing else may differ
        assert [(cx[s], cy[t]) for s, t, _ in short] == [(cx[s], cy[t]) for s, t, _ in exact]
    # the blocks change nothing either, ties included
    one, other = (neighbours.knn(x, y, 4, 4, block=b, search="float32") for b in (37, 4096))
    assert all(torch.equal(a, b) for a, b in zip(one[1::2], other[1::2]))
    best_e, _ = best_matches(y, x, search="float32")
    best_s, _ = best_matches(y, x, search="bfloat16")
    assert [cx[i] for i in best_s.tolist()] == [cx[i] for i in best_e.tolist()]


def test_sampled_and_batched_dot_products_agree_with_float64():
    x, y = _random(300, 200, 64, 8)
    cand = torch.randint(0, 200, (300, 7), generator=torch.Generator().manual_seed(0))
    truth = torch.gather(x.double() @ y.double().T, 1, cand)
    for f in (neighbours.dots, neighbours.batched_dots):
        assert torch.allclose(f(x, y, cand).double(), truth, atol=1e-6)


def test_auto_takes_bfloat16_only_where_it_is_native(tmp_path):
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    fast.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    slow.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n")
    assert neighbours.native_bfloat16_cpu(str(fast)) is True
    assert neighbours.native_bfloat16_cpu(str(slow)) is False
    assert neighbours.native_bfloat16_cpu(str(tmp_path / "absent")) is False
    assert neighbours.resolve("auto", torch.device("cuda")) == "bfloat16"
    assert neighbours.resolve("float32", torch.device("cuda")) == "float32"
    native = neighbours.native_bfloat16_cpu()
    assert neighbours.resolve("auto", torch.device("cpu")) == ("bfloat16" if native else "float32")


@pytest.mark.parametrize("block", [3, 50, 1000])
def test_running_column_best_keeps_every_columns_top_values(block):
    g = torch.Generator().manual_seed(9)
    sims = torch.randn(400, 70, generator=g).bfloat16()
    sims[:, 5] = 0.25  # a column of equal values: any 17 rows are its best
    best = neighbours._ColumnBest(17)
    for start in range(0, sims.shape[0], block):
        best.update(sims[start:start + block], start)
    want = torch.topk(sims, 17, dim=0).values
    assert torch.equal(best.best, want)
    assert torch.equal(torch.gather(sims, 0, best.rows), best.best)  # the rows hold those values
    assert all(len(set(best.rows[:, j].tolist())) == 17 for j in range(70))
