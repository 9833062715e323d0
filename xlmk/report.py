"""`xlmk results` as a library function: read rows of any runs, build every table they allow, plot."""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Iterable, Sequence

from xlmk.errors import XlmkError
from xlmk.results import RESULTS_FILE, ResultRow, read_rows
from xlmk.tables import (FINETUNE_METRICS, Table, ablation_table, distinct_models, finetune_table, render,
                         version_conflicts)

FINETUNE_TASKS = list(FINETUNE_METRICS)
XTREME_NAMES = ("paws-x", "xnli", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba")
XTREME_ONLY = ("paws-x", "udpos", "xquad", "tydiqa", "bucc", "tatoeba")  # not in the paper's XGLUE tables
PROBE_TASKS = ["lama", "mlama", "xep", "xor"]
SWEEP_SCORES = [("mlqa", "f1", "MLQA F1"), ("ner", "f1", "NER F1"), ("xnli", "accuracy", "XNLI acc"),
                ("xep", "accuracy", "XEP acc"), ("xor", "accuracy", "XOR acc")]


def _from_rich(rt: Any, notes: list[str]) -> Table:
    """A rich table (the probe stage's layouts) as a plain Table, so every format can render it."""
    columns = [str(c.header) for c in rt.columns]
    cells = [[str(x) for x in c.cells] for c in rt.columns]
    rows = [list(r) for r in zip(*cells)] if cells else []
    caption = [str(rt.caption)] if getattr(rt, "caption", None) else []
    return Table(str(rt.title or ""), columns, rows, caption + notes)


def build_tables(rows: Sequence[ResultRow], tasks: Iterable[str] | None = None, *, split: str = "test") -> list[Table]:
    present = {r.name for r in rows}
    # the XTREME table joins the per-task tables once a task that only XTREME has is among the rows
    xtreme_present = len(present & set(XTREME_NAMES)) >= 2 and bool(present & set(XTREME_ONLY))
    wanted = list(tasks) if tasks else [t for t in FINETUNE_TASKS + ["ablation", "xtreme"] + PROBE_TASKS
                                        if t in present or (t == "ablation" and len(present & {"mlqa", "ner", "xnli"}) >= 2)
                                        or (t == "xtreme" and xtreme_present)]
    known = FINETUNE_TASKS + PROBE_TASKS + ["ablation", "xtreme"]
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise XlmkError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(known)}")
    tables: list[Table] = []
    for t in wanted:
        if t in FINETUNE_TASKS:
            tables.append(finetune_table(rows, t, split=split))
        elif t == "ablation":
            tables.append(ablation_table(rows, split=split))
        elif t == "xtreme":
            from xlmk.xtreme_table import xtreme_table

            tables.append(xtreme_table(rows, split=split))
    probe_wanted = [t for t in wanted if t in PROBE_TASKS]
    if probe_wanted:
        from xlmk.probe.table import knowledge_table, lama_table, mlama_table

        from xlmk.degenerate import probe_notes
        from xlmk.tables import model_label

        probe_rows, notes = distinct_models(r for r in rows if r.stage == "probe")
        notes += version_conflicts(probe_rows)
        zero = probe_notes(probe_rows, model_label)
        if "lama" in probe_wanted:
            tables.append(_from_rich(lama_table(probe_rows), notes + [z for z in zero if ": LAMA " in z]))
        if "mlama" in probe_wanted:
            tables.append(_from_rich(mlama_table(probe_rows), notes + [z for z in zero if ": MLAMA " in z]))
        if {"xep", "xor"} & set(probe_wanted):
            tables.append(_from_rich(knowledge_table(probe_rows), notes))
    return tables


def report(runs: Sequence[str | Path], *, tasks: Iterable[str] | None = None, split: str = "test",
           fmt: str = "table", plot: str | Path | None = None) -> str:
    rows = read_rows(runs)
    if not rows:
        raise XlmkError("the runs hold no result rows")
    tables = build_tables(rows, tasks, split=split)
    if fmt == "json":
        text = json.dumps([json.loads(render(t, "json")) for t in tables], ensure_ascii=False, indent=2) + "\n"
    else:
        text = "\n".join(render(t, fmt) for t in tables)
    if plot is not None:
        written = write_plots(rows, runs, plot, split=split)
        if fmt in ("table", "markdown"):
            text += "\n" + "\n".join(f"plot: {p}" for p in written) + "\n"
    return text


def sweep_points(runs: Sequence[str | Path], split: str = "test") -> tuple[str, dict]:
    """From sweep directories (sweep.json): {label: [(value, mean, std)]} for MLQA F1, NER F1, XNLI
    accuracy, XEP, XOR.

    A point is the mean of the Avg over languages of every run behind it, its std over those runs (None
    for one run): the fine-tuning seeds of a member and, when several sweep directories vary the same key
    (one per pre-training seed, say), the replicates. A member's rows are read from its own directory, so
    replicates whose models share a name never mix.
    """
    from xlmk.tables import model_label, summarise_seeds

    sweeps = [Path(r) for r in runs if (Path(r) / "sweep.json").is_file()]
    if not sweeps:
        return "", {}
    manifests = {d: json.loads((d / "sweep.json").read_text(encoding="utf-8")) for d in sweeps}
    parameters = sorted({m["parameter"] for m in manifests.values()})
    if len(parameters) > 1:
        raise XlmkError(f"the sweep directories vary different keys ({', '.join(parameters)}); plot them one key at a time")
    runs_at: dict[str, dict[float, list[float]]] = {}
    for d, manifest in manifests.items():
        for member in manifest["members"]:
            mdir = d / member["dir"]
            if not mdir.is_dir() or not any(mdir.rglob(RESULTS_FILE)):
                continue
            rows = [r for r in read_rows([mdir]) if model_label(r) == member["model_name"]]
            for task, metric, label in SWEEP_SCORES:
                sub = [r for r in rows if r.name == task and r.metric == metric
                       and (r.stage == "probe" or r.split == split) and r.language]
                per_seed: dict[Any, dict[str, float]] = {}
                for r in sub:
                    per_seed.setdefault(r.seed, {})[r.language] = r.value
                try:
                    summary = summarise_seeds(per_seed, sorted({r.language for r in sub}))
                except ValueError:
                    continue
                runs_at.setdefault(label, {}).setdefault(float(member["value"]), []).extend(
                    s["Avg"] for s in summary.per_seed.values())
    points = {label: [(value, statistics.fmean(avgs), statistics.stdev(avgs) if len(avgs) > 1 else None)
                      for value, avgs in sorted(by_value.items())]
              for label, by_value in runs_at.items()}
    return parameters[0], points


def training_logs(runs: Sequence[str | Path]) -> tuple[dict[str, Path], list[Path]]:
    """Pre-training metrics.jsonl files ({run name: file}; copies inside model directories skipped) and
    fine-tuning run directories (those with seed-*/history.jsonl) under `runs`."""
    pretrain: dict[str, Path] = {}
    finetune: set[Path] = set()
    for root in (Path(r) for r in runs):
        if not root.is_dir():
            continue
        for f in sorted(root.rglob("metrics.jsonl")):
            if not (f.parent / "config.json").is_file() and "checkpoints" not in f.parts:
                pretrain[f.parent.name if f.parent.name not in pretrain else str(f.parent)] = f
        finetune.update(h.parent.parent for h in root.rglob("seed-*/history.jsonl"))
    return pretrain, sorted(finetune)


def write_curves(runs: Sequence[str | Path], out: str | Path) -> list[Path]:
    """Training curves of every run under `runs` into the directory `out`."""
    from xlmk.plots import plot_finetune_curves, plot_pretrain_curves

    out = Path(out)
    pretrain, finetune = training_logs(runs)
    written = [plot_pretrain_curves(pretrain, out / "pretrain-curves.png")] if pretrain else []
    for run_dir in finetune:
        name = "-".join(run_dir.relative_to(run_dir.parent.parent).parts) if run_dir.parent.parent != run_dir else run_dir.name
        written.append(plot_finetune_curves(run_dir, out / f"finetune-curves-{name}.png"))
    return written


def write_plots(rows: Sequence[ResultRow], runs: Sequence[str | Path], out: str | Path, *, split: str = "test") -> list[Path]:
    from xlmk.plots import plot_languages, plot_sweep

    out = Path(out)
    tasks = [t for t in FINETUNE_TASKS if any(r.stage == "finetune" and r.name == t and r.split == split for r in rows)]
    parameter, points = sweep_points(runs, split)
    written: list[Path] = []
    if out.suffix == ".png":
        if points:
            return [plot_sweep(points, parameter, out)]
        if len(tasks) != 1:
            raise XlmkError(f"--plot {out}: the rows hold {len(tasks)} fine-tuning tasks; give a directory for one plot each")
        return [plot_languages(rows, tasks[0], out, split=split)]
    for t in tasks:
        written.append(plot_languages(rows, t, out / f"{t}-languages.png", split=split))
    if points:
        written.append(plot_sweep(points, parameter, out / "sweep.png"))
    return written + write_curves(runs, out)
