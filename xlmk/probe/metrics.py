"""Ranking metrics shared by every probe, and the `Score` a probe reports before it becomes a result row.

Precision-style metrics (P@1, P@k, accuracy@1, hits@10) are percentages, 0-100 as the paper prints
them; MRR is a fraction, 0-1. Ranks are 1-based and count every competitor scoring at least as high as
the gold answer, so ties count against the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence


@dataclass
class Score:
    """One number of one probe: `subset` names the corpus/relation/aggregate (e.g. 'TREx/N-1')."""

    subset: str
    metric: str
    value: float
    n: int
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def ranking_metrics(ranks: Sequence[int], *, k: int = 10, mrr_cutoff: int | None = None,
                    names: tuple[str, str, str] = ("p@1", "p@{k}", "mrr")) -> dict[str, float]:
    """P@1 and P@k (0-100) and MRR (0-1) over 1-based ranks; ranks beyond `mrr_cutoff` add 0 to MRR."""
    n = len(ranks)
    if n == 0:
        return {}
    p1 = 100.0 * sum(r == 1 for r in ranks) / n
    pk = 100.0 * sum(r <= k for r in ranks) / n
    mrr = sum((1.0 / r) if (mrr_cutoff is None or r <= mrr_cutoff) else 0.0 for r in ranks) / n
    return {names[0]: p1, names[1].format(k=k): pk, names[2]: mrr}
