"""The XTREME table over result rows: per model, each task's average over its languages in XTREME's task
order, and the XTREME score.

- Tasks in the order of XTREME's results table: PAWS-X, XNLI (classification), UD-POS, PAN-X
  (structured prediction), XQuAD, MLQA, TyDiQA-GoldP (QA), BUCC, Tatoeba (retrieval).
- A cell is the mean over seeds of the plain mean over the task's languages present in the rows
  (accuracy; F1 for tagging and BUCC; F1 / EM for QA). Fine-tuned tasks use the rows of XTREME's
  selection protocol (`xtreme-en-dev`) where a run recorded it, else its only protocol.
- The XTREME score is the mean of the nine task averages, QA by F1 (`--` until all nine are there;
  the note names the missing tasks). Zero-shot and translate-train runs are separate rows (the model
  label says `[translate-train]`); where a task's rows differ in version only the newest are averaged
  and the difference is flagged.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from xlmk.results import ResultRow
from xlmk.tables import Table, _fmt, model_label, summarise_seeds, version_conflicts

XTREME_TASKS = [("paws-x", "PAWS-X", ("accuracy",)), ("xnli", "XNLI", ("accuracy",)), ("udpos", "POS", ("f1",)),
                ("panx", "NER", ("f1",)), ("xquad", "XQuAD", ("f1", "exact_match")),
                ("mlqa", "MLQA", ("f1", "exact_match")), ("tydiqa", "TyDiQA", ("f1", "exact_match")),
                ("bucc", "BUCC", ("f1",)), ("tatoeba", "Tatoeba", ("accuracy",))]
XTREME_SELECTION = "xtreme-en-dev"


def task_average(rows: list[ResultRow], task: str, metric: str) -> tuple[float, list[int | None]] | None:
    """(mean over seeds of the language average, seeds) of one model's rows of a task, or None."""
    sub = [r for r in rows if r.name == task and r.metric == metric and r.subset is None
           and r.language not in (None, "avg")]
    protocols = {r.protocol for r in sub}
    if XTREME_SELECTION in protocols:
        sub = [r for r in sub if r.protocol == XTREME_SELECTION]
    elif len(protocols) > 1:
        sub = [r for r in sub if r.protocol == sorted(protocols, key=str)[0]]
    if not sub:
        return None
    newest = max(r.version for r in sub)  # other versions are flagged in the notes, never averaged in
    sub = [r for r in sub if r.version == newest]
    values: dict[int | None, dict[str, float]] = defaultdict(dict)
    for r in sub:
        values[r.seed][r.language] = r.value
    langs = sorted({r.language for r in sub if r.language})
    try:
        summary = summarise_seeds(values, langs)
    except ValueError:
        return None
    return summary.avg["Avg"], sorted(summary.per_seed, key=lambda s: (s is None, s))


def xtreme_table(rows: Iterable[ResultRow], *, split: str = "test") -> Table:
    rows = [r for r in rows if r.stage == "finetune" and r.split == split]
    columns = ["model"] + [label + (" F1/EM" if len(metrics) > 1 else "") for _, label, metrics in XTREME_TASKS]
    table = Table(f"XTREME ({split}, average over each task's languages, mean over seeds)", columns + ["XTREME"], [])
    table.notes += version_conflicts(rows)
    by_model: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        by_model[model_label(r)].append(r)
    for model in sorted(by_model):
        cells, scores, missing = [], [], []
        for task, label, metrics in XTREME_TASKS:
            found = [task_average(by_model[model], task, m) for m in metrics]
            if found[0] is None:
                cells.append("-")
                missing.append(label)
                continue
            cells.append("/".join(_fmt(f[0]) if f else "-" for f in found))
            scores.append(found[0][0])
        score = sum(scores) / len(scores) if not missing else None
        if missing and scores:
            table.notes.append(f"{model}: the XTREME score needs all nine tasks (missing: {', '.join(missing)})")
        table.rows.append([model, *cells, _fmt(score)])
    return table
