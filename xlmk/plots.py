"""Plots over result rows and training logs, in the layouts a paper uses.

- `plot_languages`: one group of bars per language (in the tables' order) plus Avg, one bar per model, the
  mean over seeds with the standard deviation over seeds as an error bar; a missing value is marked
  "n/a" (never drawn as 0), a real 0 is drawn and labelled; the majority-class rate, when the rows carry
  it, is a dashed chance line; the legend sits outside the axes so that it hides no bar.
- `plot_sweep`: Figure 4, one panel per score against the swept value, with seed error bars.
- `plot_pretrain_curves` / `plot_finetune_curves`: loss and accuracy against steps (metrics.jsonl) and
  train loss and dev score against epochs (seed-N/history.jsonl), one line per run or seed.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from xlmk.degenerate import classifier_verdict
from xlmk.io import read_jsonl
from xlmk.results import ResultRow
from xlmk.tables import FINETUNE_METRICS, _languages, model_label

MISSING_COLOR = "0.35"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, out: str | Path) -> Path:
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def plot_languages(rows: Iterable[ResultRow], task: str, out: str | Path, *, split: str = "test",
                   metric: str | None = None) -> Path:
    """Grouped bars: per language (and Avg) the mean over seeds of each model, with the std over seeds."""
    metric = metric or FINETUNE_METRICS.get(task, ["accuracy"])[0]
    rows = [r for r in rows if r.stage == "finetune" and r.name == task and r.split == split and r.metric == metric
            and r.language and r.language != "avg" and r.subset is None]
    protocols = {r.protocol for r in rows}
    if "xglue-avg-dev" in protocols:  # a run records both protocols; the tables report XGLUE's
        rows = [r for r in rows if r.protocol in (None, "xglue-avg-dev")]
    if not rows:
        raise ValueError(f"no {task} {metric} rows on {split} to plot")
    langs = _languages(rows, task)
    data: dict[str, dict[int | None, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    by_model: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        data[model_label(r)][r.seed][r.language] = r.value
        by_model[model_label(r)].append(r)
    # the legend says what the tables say of a constant or at-chance model
    names = {m: f"{m} [{v[0]}]" if (v := classifier_verdict(group)) else m for m, group in by_model.items()}
    baselines = [r.extra["majority_baseline"] for r in rows if isinstance(r.extra.get("majority_baseline"), (int, float))]

    plt = _pyplot()
    models = sorted(data)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * (len(langs) + 1) * len(models) + 2.5), 4))
    width = 0.8 / len(models)
    top = 0.0
    for i, model in enumerate(models):
        per_seed, labelled = data[model], False
        # Avg over the languages this model has, as the tables compute it
        own = [l for l in langs if any(l in s for s in per_seed.values())]
        complete = [s for s in per_seed.values() if all(l in s for l in own)]
        for j, lang in enumerate(langs + ["Avg"]):
            if lang == "Avg":
                values = [statistics.fmean(s[l] for l in own) for s in complete]
            else:
                values = [s[lang] for s in per_seed.values() if lang in s]
            x = j + (i - (len(models) - 1) / 2) * width
            if not values:  # missing is not zero: mark it, draw no bar
                ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90, color=MISSING_COLOR)
                continue
            mean, err = statistics.fmean(values), _std(values)
            ax.bar(x, mean, width=width, color=f"C{i}", label=None if labelled else names[model],
                   yerr=err if len(values) > 1 else None, capsize=2, error_kw={"elinewidth": 0.8},
                   edgecolor="black" if lang == "Avg" else None, linewidth=0.8)
            labelled = True
            if mean == 0:
                ax.text(x, 0, "0", ha="center", va="bottom", fontsize=7)
            top = max(top, mean + err)
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    if baselines:
        base = statistics.fmean(baselines)
        line = ax.axhline(base, color="black", linestyle="--", linewidth=1)
        seen[f"majority class ({base:.1f})"] = line
        top = max(top, base)
    ax.set_xticks(range(len(langs) + 1), langs + ["Avg"])
    ax.axvline(len(langs) - 0.5, color="0.8", linewidth=0.8)
    ax.set_ylim(0, top * 1.12 + 1e-9 if top > 0 else 1)
    ax.set_ylabel(f"{metric} ({split})")
    n_seeds = sorted({len(v) for v in data.values()})
    ax.set_title(f"{task}: {metric} per language (mean over {'/'.join(map(str, n_seeds))} "
                 f"seed{'s' if max(n_seeds) > 1 else ''}{', bars: std' if max(n_seeds) > 1 else ''})")
    ax.legend(seen.values(), seen.keys(), fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    return _save(plt, fig, out)


def plot_sweep(points: Mapping[str, Sequence[tuple]], parameter: str, out: str | Path) -> Path:
    """Figure 4: one panel per score (e.g. 'MLQA F1') against the swept value; points are (value, mean) or
    (value, mean, std over seeds), drawn with error bars."""
    if not points:
        raise ValueError("nothing to plot")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(points), figsize=(4 * len(points), 3.5), squeeze=False)
    for ax, (label, series) in zip(axes[0], sorted(points.items())):
        series = sorted(series)
        xs, ys = [p[0] for p in series], [p[1] for p in series]
        errs = [p[2] if len(p) > 2 and p[2] is not None else 0.0 for p in series]
        ax.errorbar(xs, ys, yerr=errs if any(errs) else None, marker="o", capsize=3)
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(int(x)) if float(x).is_integer() else str(x) for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(parameter)
        ax.set_ylabel("Avg over languages" + (" (mean ± std over seeds)" if any(errs) else ""))
        ax.set_title(label)
    return _save(plt, fig, out)


def plot_pretrain_curves(runs: Mapping[str, str | Path], out: str | Path) -> Path:
    """Loss and accuracy of each objective against the step, one line per run (metrics.jsonl)."""
    logs = {name: read_jsonl(Path(p)) for name, p in runs.items()}
    logs = {k: v for k, v in logs.items() if v}
    if not logs:
        raise ValueError("no metrics lines to plot")
    found = {k[:-5] for lines in logs.values() for line in lines for k in line if k.endswith("_loss")}
    tasks = [t for t in ("mlm", "mep", "oe") if t in found] + sorted(found - {"mlm", "mep", "oe"})
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(tasks), figsize=(4 * len(tasks), 6), squeeze=False)
    for col, task in enumerate(tasks):
        for row, (key, label) in enumerate(((f"{task}_loss", "loss"), (f"{task}_acc", "accuracy"))):
            ax = axes[row][col]
            for i, (name, lines) in enumerate(sorted(logs.items())):
                pts = [(ln["step"], ln[key]) for ln in lines if isinstance(ln.get(key), (int, float))]
                if pts:  # markers when there are few points: a single one is otherwise invisible
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=f"C{i}", label=name, linewidth=1,
                            marker="o" if len(pts) <= 30 else None, markersize=3)
            ax.set_title(f"{task} {label}")
            ax.set_xlabel("step")
    seen: dict[str, object] = {}
    for ax in axes.flat:  # a run without some objective still gets its legend entry
        for handle, name in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(name, handle)
    axes[0][-1].legend(list(seen.values()), list(seen), fontsize="small", loc="upper left",
                       bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle("pre-training curves (metrics.jsonl)")
    return _save(plt, fig, out)


def plot_finetune_curves(run_dir: str | Path, out: str | Path, *, label: str | None = None) -> Path:
    """Train loss and the dev main metric (mean over languages) against the epoch, one line per seed."""
    run_dir = Path(run_dir)
    histories = {p.parent.name: read_jsonl(p) for p in sorted(run_dir.glob("seed-*/history.jsonl"))}
    histories = {k: v for k, v in histories.items() if v}
    if not histories:
        raise ValueError(f"{run_dir}: no seed-*/history.jsonl to plot")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")) if (run_dir / "summary.json").is_file() else {}
    first_scores = next(iter(next(iter(histories.values()))[0]["dev"].values()))
    metric = summary.get("main_metric") or next(k for k in first_scores if k != "n")
    plt = _pyplot()
    fig, (loss_ax, dev_ax) = plt.subplots(1, 2, figsize=(8, 3.5))
    for i, (seed, lines) in enumerate(sorted(histories.items())):
        epochs = [ln["epoch"] for ln in lines]
        loss_ax.plot(epochs, [ln["train_loss"] for ln in lines], marker="o", color=f"C{i}", label=seed)
        dev = [statistics.fmean(s[metric] for s in ln["dev"].values() if metric in s) for ln in lines]
        dev_ax.plot(epochs, dev, marker="o", color=f"C{i}", label=seed)
    bases = [s["majority_baseline"] for lines in histories.values() for ln in lines for s in ln["dev"].values()
             if isinstance(s.get("majority_baseline"), (int, float))]
    if bases:
        base = statistics.fmean(bases)
        dev_ax.axhline(base, color="black", linestyle="--", linewidth=1, label=f"majority class ({base:.1f})")
    for ax, title in ((loss_ax, "train loss"), (dev_ax, f"dev {metric} (mean over languages)")):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.xaxis.get_major_locator().set_params(integer=True)
    dev_ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle(f"fine-tuning {label or summary.get('task') or run_dir.name} ({run_dir.name})")
    return _save(plt, fig, out)
