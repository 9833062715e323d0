"""Numbers that say nothing, named as such: constant predictors and scores at chance.

A classifier that predicts one class for every example scores the share of that class; a tiny model
often does. Tables mark such a model `[constant predictor]`, and one whose accuracy is within two
standard errors of the majority-class rate `[at chance]`, with a note giving the numbers, so that
a reader does not take either for a measurement of what the model learnt. The rows carry what this
needs (`extra.predicted_classes`, `extra.majority_baseline`, written by the accuracy metric).
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

from xlmk.results import ResultRow

CONSTANT = "constant predictor"
AT_CHANCE = "at chance"


def classifier_verdict(rows: Iterable[ResultRow]) -> tuple[str, str] | None:
    """(flag, note) for one model's accuracy rows of a classification task, or None when they say something."""
    rows = [r for r in rows if r.metric == "accuracy" and "majority_baseline" in r.extra and r.n]
    if not rows:
        return None
    constant = [r for r in rows if r.extra.get("predicted_classes") == 1]
    n = sum(r.n for r in rows)
    acc = sum(r.value * r.n for r in rows) / n
    base = sum(r.extra["majority_baseline"] * r.n for r in rows) / n
    if len(constant) == len(rows):
        return CONSTANT, (f"every prediction is one class, in all {len(rows)} language/seed results: accuracy {acc:.1f} "
                          f"is the share of that class (majority-class rate {base:.1f})")
    se = 100 * math.sqrt(max(base / 100 * (1 - base / 100), 1e-12) / n)
    if acc <= base + 2 * se:
        extra = f"; one class only in {len(constant)} of {len(rows)} results" if constant else ""
        return AT_CHANCE, (f"accuracy {acc:.1f} is within two standard errors ({se:.1f}) of the majority-class rate "
                           f"{base:.1f} over {n} examples{extra}")
    return None


def probe_notes(rows: Iterable[ResultRow], model_label: Callable[[ResultRow], str]) -> list[str]:
    """One note per model whose LAMA/mLAMA P@1 is zero everywhere: no fact was recovered."""
    by_model: dict[tuple[str, str], list[ResultRow]] = {}
    for r in rows:
        if r.stage == "probe" and r.name in ("lama", "mlama") and r.metric == "p@1":
            by_model.setdefault((model_label(r), r.name), []).append(r)
    notes = []
    for (model, name), group in sorted(by_model.items()):
        if all(r.value == 0 for r in group):
            facts = max((r.n or 0) for r in group)
            notes.append(f"{model}: {name.upper()} P@1 is 0.0 in all {len(group)} cells ({facts} facts): no fact recovered, "
                         "the model is at chance on this probe")
    return notes
