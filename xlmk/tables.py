"""Tables over result rows, in the paper's layouts.

- fine-tuning (Tables 1-3): models x languages with an Avg column; per model an `avg` row (mean over
  seeds) and a `max` row (the seed with the best Avg), and the std over seeds of the Avg;
- the ablation table (Table 4): the Avg of MLQA F1, NER F1 and XNLI accuracy per model;
- LAMA (Table 5): P@1 per relation, with corpus Totals and T-REx 1-1/N-1/N-M as means over relations;
- XEP/XOR (Table 7): accuracy per model (and per language).
Rows whose task/probe/recipe versions differ for the same cell are never merged: they are flagged.
Rows of two different models (model hashes) are never merged either: when their labels collide, each
gets its run directory's name (`distinct_models`) and the table says so in a note.
"""
from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from xlmk.degenerate import classifier_verdict
from xlmk.results import ResultRow

XGLUE = "xglue-avg-dev"  # epoch chosen by the mean dev score over all languages, as the paper
FINETUNE_METRICS = {"xnli": ["accuracy"], "mlqa": ["f1", "exact_match"], "ner": ["f1"], "panx": ["f1"],
                    "paws-x": ["accuracy"], "xquad": ["f1", "exact_match"], "tydiqa": ["f1", "exact_match"],
                    "udpos": ["f1"], "bucc": ["f1"], "tatoeba": ["accuracy"]}


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)

    def to_records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


def model_label(row: ResultRow) -> str:
    # translate-train runs of a model are a row of their own, never averaged with its zero-shot runs
    suffix = " [translate-train]" if row.extra.get("transfer") == "translate-train" else ""
    if row.model_name:
        return row.model_name + suffix
    p = Path(row.model.rstrip("/"))
    return ((p.parent.name if p.name == "final" else p.name) or row.model) + suffix


def _model_id(row: ResultRow) -> str:
    return row.model_hash or row.model


def distinct_models(rows: Iterable[ResultRow]) -> tuple[list[ResultRow], list[str]]:
    """The rows with labels that name one model each, and a note per label that had to be split.

    A label shared by rows of different models (e.g. two runs' `final`) becomes `label [run]` (the run
    directory that trained each model), or `label [hash prefix]` when the run names do not tell them apart.
    """
    rows = list(rows)
    ids: dict[str, dict[str, ResultRow]] = defaultdict(dict)
    for r in rows:
        ids[model_label(r)].setdefault(_model_id(r), r)
    renamed: dict[tuple[str, str], str] = {}
    notes = []
    for label, models in sorted(ids.items()):
        if len(models) < 2:
            continue
        by_run = {mid: f"{label} [{r.model_run}]" for mid, r in models.items() if r.model_run}
        if len(by_run) == len(models) and len(set(by_run.values())) == len(models):
            names, how = by_run, "their run directories"
        else:
            names, how = {mid: f"{label} [{(mid or '?')[:8]}]" for mid in models}, "their model hashes"
        renamed.update({(label, mid): name for mid, name in names.items()})
        notes.append(f"{len(models)} different models are labelled {label!r}: shown as "
                     f"{', '.join(repr(n) for n in sorted(names.values()))} ({how})")
    if not renamed:
        return rows, []
    out = [r.model_copy(update={"model_name": renamed[(model_label(r), _model_id(r))]})
           if (model_label(r), _model_id(r)) in renamed else r for r in rows]
    return out, notes


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def version_conflicts(rows: Iterable[ResultRow]) -> list[str]:
    """One line per (model, name) whose rows disagree on the version of the task/probe or recipe."""
    seen: dict[tuple[str, str, str], set[tuple]] = defaultdict(set)
    for r in rows:
        seen[(model_label(r), r.stage, r.name)].add((r.version, r.recipe, r.recipe_version))
    out = []
    for (model, stage, name), versions in sorted(seen.items()):
        if len(versions) > 1:
            desc = "; ".join(f"{name} v{v}" + (f", recipe {rc} v{rv}" if rc else "") for v, rc, rv in sorted(versions, key=str))
            out.append(f"{model}: {stage} rows of different versions are not merged ({desc})")
    return out


def _version_key(r: ResultRow) -> tuple:
    return (r.version, r.recipe, r.recipe_version)


# ---------------------------------------------------------------- fine-tuning
@dataclass
class SeedSummary:
    """Per language: mean over seeds (avg), values of the best seed by Avg (max), std over seeds."""

    languages: list[str]
    per_seed: dict[int | None, dict[str, float]]
    avg: dict[str, float]
    best: dict[str, float]
    best_seed: int | None
    std: dict[str, float | None]


def summarise_seeds(values: dict[int | None, dict[str, float]], languages: Sequence[str]) -> SeedSummary:
    """`values[seed][lang]`; the Avg of a seed is the plain mean over `languages` (all must be present)."""
    per_seed = {}
    for seed, by_lang in values.items():
        if all(lang in by_lang for lang in languages):
            per_seed[seed] = {**{l: by_lang[l] for l in languages}, "Avg": statistics.fmean(by_lang[l] for l in languages)}
    if not per_seed:
        raise ValueError("no seed has a value for every language")
    keys = list(languages) + ["Avg"]
    avg = {k: statistics.fmean(s[k] for s in per_seed.values()) for k in keys}
    best_seed = max(per_seed, key=lambda s: (per_seed[s]["Avg"], -(s or 0)))
    std = {k: (statistics.stdev(s[k] for s in per_seed.values()) if len(per_seed) > 1 else None) for k in keys}
    return SeedSummary(list(languages), per_seed, avg, per_seed[best_seed], best_seed, std)


def _languages(rows: list[ResultRow], task: str) -> list[str]:
    present = sorted({r.language for r in rows if r.language})
    try:
        from xlmk.config import load_table

        order = list((load_table("finetune_languages") or {}).get(task, {}).get("languages", []))
    except Exception:  # noqa: BLE001 - an order table is a nicety; without it languages sort by name
        order = []
    ranked = [l for l in order if l in present] + [l for l in present if l not in order]
    if "en" in ranked:
        ranked.remove("en")
        ranked.insert(0, "en")
    return ranked


def finetune_table(rows: Iterable[ResultRow], task: str, *, split: str = "test", protocol: str | None = None) -> Table:
    """Tables 1-3: models x languages (+Avg), avg and max over seeds, std of the Avg."""
    rows = [r for r in rows if r.stage == "finetune" and r.name == task and r.split == split
            and r.seed is not None and r.subset is None and r.language not in (None, "avg")]
    if protocol is None:  # a fine-tuning run records both protocols; the paper reports XGLUE's
        protocol = XGLUE if any(r.protocol == XGLUE for r in rows) else None
    rows = [r for r in rows if protocol is None or r.protocol in (None, protocol)]
    rows, renamed = distinct_models(rows)
    metrics = [m for m in FINETUNE_METRICS.get(task, []) if any(r.metric == m for r in rows)] or \
        sorted({r.metric for r in rows})[:1]
    langs = _languages(rows, task)
    title = f"{task} {split} ({'/'.join(m.upper() for m in metrics)})" + (f", protocol {protocol}" if protocol else "")
    table = Table(title.replace("EXACT_MATCH", "EM"), ["model", "seeds", *langs, "Avg"], [])
    table.notes += renamed + version_conflicts(rows)
    groups: dict[tuple, list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[(model_label(r), _version_key(r))].append(r)
    for (model, vkey), group in sorted(groups.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        summaries = {}
        for metric in metrics:
            values: dict[int | None, dict[str, float]] = defaultdict(dict)
            for r in group:
                if r.metric == metric:
                    values[r.seed][r.language] = r.value
            model_langs = [l for l in langs if any(l in v for v in values.values())]
            try:
                summaries[metric] = summarise_seeds(values, model_langs)
            except ValueError:
                table.notes.append(f"{model}: no seed has {metric} for every language")
        if not summaries:
            continue
        label = model if len(groups) == len({k[0] for k in groups}) else f"{model} (v{vkey[0]})"
        verdict = classifier_verdict(group)
        if verdict is not None:  # a number that measures nothing says so where it is read
            label = f"{label} [{verdict[0]}]"
            table.notes.append(f"{model}: {verdict[1]}")
        first = summaries[metrics[0]]
        n = len(first.per_seed)
        for kind in ("avg", "max") if n > 1 else ("avg",):
            cells = []
            for lang in langs + ["Avg"]:
                parts = []
                for metric, s in summaries.items():
                    src = s.avg if kind == "avg" else s.best
                    parts.append(_fmt(src.get(lang)))
                cell = "/".join(parts)
                if lang == "Avg" and kind == "avg" and first.std["Avg"] is not None:
                    cell += " ± " + "/".join(_fmt(s.std["Avg"]) for s in summaries.values())
                cells.append(cell)
            name = f"{label} ({kind})" if n > 1 else label
            seeds = ",".join(str(s) for s in sorted(first.per_seed, key=lambda x: (x is None, x))) if kind == "avg" else str(first.best_seed)
            table.rows.append([name, seeds, *cells])
    return table


def ablation_table(rows: Iterable[ResultRow], *, split: str = "test") -> Table:
    """Table 4: per model, the seed-averaged Avg of MLQA F1, NER F1 and XNLI accuracy."""
    rows, renamed = distinct_models(r for r in rows if r.stage == "finetune")
    # NER is XGLUE's NER in the paper; runs that only have PAN-X (WikiANN) fill the column from it
    ner = "ner" if any(r.stage == "finetune" and r.name == "ner" for r in rows) else "panx"
    tasks = [("mlqa", "f1", "MLQA"), (ner, "f1", "NER" if ner == "ner" else "NER (PAN-X)"), ("xnli", "accuracy", "XNLI")]
    table = Table(f"ablation ({split}, Avg over languages, mean over seeds)", ["model"] + [t[2] for t in tasks], [])
    table.notes += renamed + version_conflicts(rows)
    models = sorted({model_label(r) for r in rows if r.stage == "finetune"})
    for model in models:
        cells = []
        for task, metric, _ in tasks:
            sub = [r for r in rows if r.stage == "finetune" and r.name == task and r.metric == metric
                   and r.split == split and model_label(r) == model and r.subset is None
                   and r.language not in (None, "avg") and r.protocol in (None, XGLUE)]
            values: dict[int | None, dict[str, float]] = defaultdict(dict)
            for r in sub:
                values[r.seed][r.language] = r.value
            langs = sorted({r.language for r in sub if r.language})
            try:
                cell = _fmt(summarise_seeds(values, langs).avg["Avg"]) if langs else "-"
            except ValueError:
                cell = "-"
            verdict = classifier_verdict(sub) if cell != "-" else None
            if verdict is not None:
                cell += f" [{verdict[0]}]"
                table.notes.append(f"{model} {task}: {verdict[1]}")
            cells.append(cell)
        table.rows.append([model, *cells])
    return table


# ---------------------------------------------------------------- rendering
def render(table: Table, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps({"title": table.title, "columns": table.columns, "rows": table.rows, "notes": table.notes},
                          ensure_ascii=False, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(table.columns)
        w.writerows(table.rows)
        return buf.getvalue()
    if fmt == "markdown":
        cols = [c.replace("\n", " ") for c in table.columns]
        lines = [f"**{table.title}**", "", "| " + " | ".join(cols) + " |",
                 "|" + "|".join("---" for _ in table.columns) + "|"]
        lines += ["| " + " | ".join(_fmt(c).replace("\n", " ") for c in row) + " |" for row in table.rows]
        lines += [f"> {n}" for n in table.notes]
        return "\n".join(lines) + "\n"
    if fmt == "table":
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table as RichTable

        rt = RichTable(title=escape(table.title), title_justify="left")
        for c in table.columns:
            rt.add_column(escape(c), justify="left" if c in ("model", "Corpus", "Relation") else "right")
        for row in table.rows:
            rt.add_row(*[escape(_fmt(c)) for c in row])
        console = Console(record=True, width=max(80, 14 * len(table.columns)))
        with console.capture() as cap:
            console.print(rt)
            for n in table.notes:
                console.print(f"[yellow]! {escape(n)}[/]")
        return cap.get()
    raise ValueError(f"unknown format {fmt!r} (table, markdown, csv, json)")
