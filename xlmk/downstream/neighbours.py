"""k nearest neighbours of normalised rows, both directions from one pass of blocked matrix products.

Two searches give the same neighbours and the same float32 similarities:

- `float32`: each block of x rows is multiplied by all of y in float32; the block's row top-k and a
  running top-k of every y column come from that one product.
- `bfloat16`: the same pass in bfloat16 only shortlists k + `SPARE` candidates a side, which are then
  re-scored in float32 (the dot products of those pairs alone) and cut to k. A certificate proves per
  row and per column that nothing outside the shortlist can beat the k-th re-scored similarity; rows or
  columns without it are searched again in float32, so the result is always the float32 one (up to
  float ties: the two compute a similarity in different orders, ~1e-7 apart).

Exact ties (duplicated sentences) go to the lowest index in both searches, whatever the blocks.

The bound behind the certificate: the rows are first lifted so that one bfloat16 product gives
x·y − c for one constant c with small values (x − mean(x), y − mean(y), plus one column each carrying
the mean terms: x·y = (x−a)·(y−b) + a·y + x·b − a·b), which shrinks both the inputs' and the output's
rounding for the anisotropic embeddings real encoders give. For lifted rows u, v and their bfloat16
copies û, v̂: |û·v̂ − u·v| ≤ ‖û‖‖v̂ − v‖ + ‖û − u‖‖v‖ (Cauchy-Schwarz, the rounding residuals measured,
not assumed), plus float32 accumulation (≤ d·2⁻²⁴‖û‖‖v̂‖) and the product's rounding to bfloat16
(≤ 2⁻⁷ of its value, enough for round-to-nearest and for truncation). Every candidate left out scored
at most the shortlist's last bfloat16 score T, so its true score is at most T + 2⁻⁷|T| + that bound.

`bfloat16` pays where bfloat16 products are native (measured here: 10k×768 by 768×10k is 3.5× faster
than float32 on a CPU with avx512_bf16; 1.6× slower on AVX-512 without it and over 20× slower on
AVX2, where bfloat16 is emulated), so `auto` takes it on CUDA and on CPUs that report avx512_bf16 or
amx_bf16, and float32 elsewhere.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

Search = Literal["auto", "float32", "bfloat16"]
SPARE = 12  # shortlisted candidates beyond k: more fail fewer certificates (10k random rows: 1.4% at 8, 0.04% at 12), cost more re-scoring
_OUT_ROUNDING = 2.0 ** -7


@functools.lru_cache(maxsize=4)
def native_bfloat16_cpu(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU's flags (Linux `cpuinfo`) say it multiplies bfloat16 natively."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:  # not Linux: no flags to read, and float32 is the safe choice
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(set(line.split(":", 1)[1].split()) & {"avx512_bf16", "amx_bf16"})
    return False


def resolve(search: Search, device: Any) -> str:
    """The search `auto` means on this device: bfloat16 where it is native, float32 elsewhere."""
    if search != "auto":
        return search
    if device.type == "cuda":
        return "bfloat16"
    return "bfloat16" if device.type == "cpu" and native_bfloat16_cpu() else "float32"


def knn(x: Any, y: Any, kx: int, ky: int = 0, *, block: int = 4096, search: Search = "float32") -> tuple[Any, ...]:
    """(x->y sims, x->y indices, y->x sims, y->x indices): each x row's kx most similar y rows and each y
    row's ky most similar x rows (ky = 0: that direction is skipped, its results are empty), best first,
    equal similarities (duplicated sentences) lowest index first, so the result depends neither on the
    search nor on the blocks. Rows must be normalised float32; kx and ky are capped at the other side's size."""
    kx, ky = min(kx, y.shape[0]), min(ky, x.shape[0])
    if resolve(search, x.device) == "bfloat16" and x.shape[0] and y.shape[0]:
        return _shortlisted(x, y, kx, ky, block)
    return _exact(x, y, kx, ky, block)


def _exact(x: Any, y: Any, kx: int, ky: int, block: int) -> tuple[Any, ...]:
    """float32 products; one more candidate than asked shows where a tie crosses the k-th place."""
    import torch

    row_s, row_i, col_s, col_i = [], [], [], []
    y_t = y.T
    for start in range(0, x.shape[0], block):
        sims = x[start:start + block] @ y_t
        s, i = torch.topk(sims, min(kx + 1, y.shape[0]), dim=1)
        row_s.append(s)
        row_i.append(i)
        if ky:
            s, i = torch.topk(sims, min(ky + 1, sims.shape[0]), dim=0)
            col_s.append(s.T)
            col_i.append(i.T + start)
    fwd = _settle(_cat(row_s, 0, x.shape[0], kx), _cat(row_i, 0, x.shape[0], kx), kx, lambda rows: x[rows] @ y_t)
    bwd = _settle(_cat(col_s, 1, y.shape[0], ky), _cat(col_i, 1, y.shape[0], ky), ky, lambda rows: y[rows] @ x.T)
    return (*fwd, *bwd)


def _cat(parts: list, dim: int, n: int, k: int) -> Any:
    import torch

    return torch.cat(parts, dim) if parts else torch.zeros((n, k))


def _settle(sims: Any, inds: Any, k: int, full: Any) -> tuple[Any, Any]:
    """The k best of each row's candidates, best first, ties lowest index first. A row whose k-th value
    equals the next candidate's (a tie across the cut, when every source kept k + 1) is settled from
    its full row of similarities, `full(rows)` (None: the caller rules such ties out itself). Only rows
    with a tie among their k + 1 best pay for the stable sorts."""
    import torch

    m = sims.shape[1]
    top, pos = torch.topk(sims, min(k + 1, m), dim=1)
    out_s, out_i = top[:, :k].contiguous(), torch.gather(inds, 1, pos[:, :k]).long()
    if top.shape[1] < 2:
        return out_s, out_i
    tied = (top[:, 1:] == top[:, :-1]).any(1).nonzero().flatten()
    if tied.numel():
        t_i, order = torch.sort(inds[tied].long(), dim=1)
        t_s, order = torch.sort(torch.gather(sims[tied], 1, order), dim=1, descending=True, stable=True)
        t_i = torch.gather(t_i, 1, order)
        out_s[tied], out_i[tied] = t_s[:, :k], t_i[:, :k]
        if full is not None and m > k > 0:
            crossing = tied[t_s[:, k] == t_s[:, k - 1]]
            if crossing.numel():
                s, i = torch.sort(full(crossing), dim=1, descending=True, stable=True)
                out_s[crossing], out_i[crossing] = s[:, :k], i[:, :k]
    return out_s, out_i


def _lift(x: Any, y: Any) -> tuple[Any, Any, float, Any, Any]:
    """bfloat16 rows whose products are x·y − shift, the shift, and each side's error bound."""
    import torch

    d = x.shape[1]
    a, b = x.mean(0), y.mean(0)
    ay, xb = y @ a, x @ b
    alpha, beta = ay.mean(), xb.mean()
    shift = float(alpha + beta - a @ b)  # x·y = u·v + shift
    sides = []
    for rows, centre, own, other in ((x, a, None, xb - beta), (y, b, ay - alpha, None)):
        u = torch.empty((rows.shape[0], d + 2), dtype=torch.float32, device=rows.device)
        torch.sub(rows, centre, out=u[:, :d])
        u[:, d] = 1 if own is None else own  # x's ones meet y's a·y column, y's ones meet x's x·b column
        u[:, d + 1] = 1 if other is None else other
        uh = u.bfloat16()
        du = u - uh.float()
        norm, err = u[:, :d].norm(dim=1), du[:, :d].norm(dim=1)
        extra = du[:, d:].abs().sum(1)  # the rounding of the one extra column that is not 1
        full = ((norm + err).square() + u[:, d:].square().sum(1)).sqrt().mul(1.01)  # ≥ ‖û‖
        sides.append((uh, norm, err, norm + err, extra, full))
    (uh, nu, eu, nuh, xu, fu), (vh, nv, ev, nvh, xv, fv) = sides
    gamma = 1.01 * (d + 2) * 2.0 ** -24  # float32 accumulation over the lifted width
    slack = 4 * gamma * (1 + abs(shift))  # the lifting's and the re-scoring's own float32 rounding
    # the body by Cauchy-Schwarz, |û·v̂ − u·v| ≤ ‖û‖‖v̂ − v‖ + ‖û − u‖‖v‖; each extra column meets an exact 1
    bound_x = nuh * ev.max() + eu * nv.max() + xu + xv.max() + gamma * fu * fv.max() + slack
    bound_y = nvh * eu.max() + ev * nu.max() + xv + xu.max() + gamma * fv * fu.max() + slack
    return uh, vh, shift, bound_x, bound_y


def _shortlisted(x: Any, y: Any, kx: int, ky: int, block: int) -> tuple[Any, ...]:
    import torch

    uh, vh, shift, bound_x, bound_y = _lift(x, y)
    px, py = min(kx + SPARE, y.shape[0]), min(ky + SPARE, x.shape[0]) if ky else 0
    row_s, row_i = [], []
    columns = _ColumnBest(py)
    v_t = vh.T
    for start in range(0, x.shape[0], block):
        sims = uh[start:start + block] @ v_t
        s, i = torch.topk(sims, px, dim=1)
        row_s.append(s)
        row_i.append(i)
        if py:
            columns.update(sims, start)
    fwd = _rescore(x, y, torch.cat(row_s).float(), torch.cat(row_i), kx, shift, bound_x, block)
    if not ky:
        return (*fwd, torch.zeros((y.shape[0], 0)), torch.zeros((y.shape[0], 0), dtype=torch.long))
    return (*fwd, *_rescore(y, x, columns.best.T.float(), columns.rows.T, ky, shift, bound_y, block))


class _ColumnBest:
    """Each column's k best (values and row indices, k x columns, best first) over the blocks seen.

    Once k rows are in, a column's k-th best is a bar: a later block hands over only its entries above
    their column's bar (a compare and a nonzero, instead of a top-k down every column of the block,
    which costs twice a row-wise top-k), and those are merged column by column. Entries left out are at
    most the final k-th best, which is all the certificate needs."""

    def __init__(self, k: int):
        self.k = k
        self.best: Any = None
        self.rows: Any = None

    def update(self, sims: Any, start: int) -> None:
        import torch

        if self.best is None or self.best.shape[0] < self.k:  # not k rows yet: plain top-k and merge
            s, i = torch.topk(sims, min(self.k, sims.shape[0]), dim=0)
            if self.best is not None:
                s, i = torch.cat([self.best, s]), torch.cat([self.rows, i + start])
                s, pick = torch.topk(s, min(self.k, s.shape[0]), dim=0)
                self.best, self.rows = s, torch.gather(i, 0, pick)
            else:
                self.best, self.rows = s, i + start
            return
        r, c = (sims > self.best[-1]).nonzero(as_tuple=True)
        if not r.numel():
            return
        values = sims[r, c]
        c, order = torch.sort(c, stable=True)
        r, values = r[order], values[order]
        counts = torch.bincount(c, minlength=sims.shape[1])
        rank = torch.arange(c.numel(), device=c.device) - (torch.cumsum(counts, 0) - counts)[c]
        merged = torch.full((self.k + int(counts.max()), sims.shape[1]), float("-inf"), dtype=sims.dtype,
                            device=sims.device)
        rows = torch.zeros(merged.shape, dtype=torch.long, device=sims.device)
        merged[:self.k], rows[:self.k] = self.best, self.rows
        merged[self.k + rank, c], rows[self.k + rank, c] = values, r + start
        self.best, pick = torch.topk(merged, self.k, dim=0)
        self.rows = torch.gather(rows, 0, pick)


def _rescore(q: Any, keys: Any, short_s: Any, short_i: Any, k: int, shift: float, bound: Any,
             block: int) -> tuple[Any, Any]:
    """The shortlist's k best by exact float32 similarity; rows without a certificate searched again."""
    import torch

    cand, _ = torch.sort(short_i, dim=1)
    sims, inds = _settle(dots(q, keys, cand, by_index=True), cand, k, None)
    if short_s.shape[1] < keys.shape[0]:
        last = short_s[:, -1]
        ceiling = last + _OUT_ROUNDING * last.abs() + bound  # the best score a left-out candidate can have
        # strict: a left-out candidate tied with the k-th could hold the lower index
        doubtful = (sims[:, -1] - shift <= ceiling).nonzero().flatten()
        if doubtful.numel():
            s, i, _, _ = _exact(q[doubtful], keys, k, 0, block)
            sims[doubtful], inds[doubtful] = s, i
    return sims, inds


def dots(q: Any, keys: Any, cand: Any, *, by_index: bool = False) -> Any:
    """q[i] · keys[cand[i, j]] for every i, j, in float32. On CPU one sampled product whose sparsity
    pattern is the candidates (nothing gathered: 5x faster than batched products here); elsewhere
    batched products. `by_index`: each row of `cand` is already sorted."""
    import warnings

    import torch

    if q.device.type != "cpu" or not cand.numel():
        return batched_dots(q, keys, cand)
    cols, order = (cand, None) if by_index else torch.sort(cand, dim=1)  # CSR wants each row's columns sorted
    n, k = cand.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta", on every call
        pattern = torch.sparse_csr_tensor(torch.arange(0, n * k + 1, k), cols.flatten(), torch.zeros(n * k),
                                          size=(n, keys.shape[0]))
        values = torch.sparse.sampled_addmm(pattern, q, keys.T, beta=0.0).values().view(n, k)
    return values if order is None else torch.empty_like(values).scatter_(1, order, values)


def batched_dots(q: Any, keys: Any, cand: Any, *, chunk: int = 512) -> Any:
    """`dots` as batched products, a chunk of rows at a time so the gathered keys stay small."""
    import torch

    out = torch.empty(cand.shape, dtype=torch.float32, device=q.device)
    for start in range(0, q.shape[0], chunk):
        rows = slice(start, start + chunk)
        out[rows] = torch.bmm(keys[cand[rows]], q[rows].unsqueeze(2)).squeeze(2)
    return out
