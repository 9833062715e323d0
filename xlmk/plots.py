"""Plots over result rows: per-language bars of one task across models, and a score against a swept value."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from xlmk.results import ResultRow
from xlmk.tables import FINETUNE_METRICS, model_label


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, out: str | Path) -> Path:
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_languages(rows: Iterable[ResultRow], task: str, out: str | Path, *, split: str = "test",
                   metric: str | None = None) -> Path:
    """Grouped bars: one group per language (and Avg), one bar per model; values are means over seeds."""
    metric = metric or FINETUNE_METRICS.get(task, ["accuracy"])[0]
    data: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.stage == "finetune" and r.name == task and r.split == split and r.metric == metric and r.language:
            data[model_label(r)][r.language].append(r.value)
    if not data:
        raise ValueError(f"no {task} {metric} rows on {split} to plot")
    langs = sorted({l for m in data.values() for l in m}, key=lambda l: (l != "en", l))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * (len(langs) + 1) * max(1, len(data)) / 2 + 3), 4))
    width = 0.8 / len(data)
    for i, (model, by_lang) in enumerate(sorted(data.items())):
        means = [sum(by_lang[l]) / len(by_lang[l]) if by_lang.get(l) else 0.0 for l in langs]
        avg = sum(means) / len(means)
        xs = [j + i * width for j in range(len(langs) + 1)]
        ax.bar(xs, means + [avg], width=width, label=model)
    ax.set_xticks([j + width * (len(data) - 1) / 2 for j in range(len(langs) + 1)], langs + ["Avg"])
    ax.set_ylabel(f"{metric} ({split})")
    ax.set_title(f"{task}: {metric} per language")
    ax.legend(fontsize="small")
    return _save(plt, fig, out)


def plot_sweep(points: dict[str, Sequence[tuple[float, float]]], parameter: str, out: str | Path) -> Path:
    """Figure 4: one line per score (e.g. 'MLQA F1') against the swept value (e.g. queue.size)."""
    if not points:
        raise ValueError("nothing to plot")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(points), figsize=(4 * len(points), 3.5), squeeze=False)
    for ax, (label, series) in zip(axes[0], sorted(points.items())):
        series = sorted(series)
        ax.plot([x for x, _ in series], [y for _, y in series], marker="o")
        ax.set_xscale("log", base=2)
        ax.set_xticks([x for x, _ in series], [str(int(x)) if float(x).is_integer() else str(x) for x, _ in series])
        ax.set_xlabel(parameter)
        ax.set_title(label)
    return _save(plt, fig, out)
