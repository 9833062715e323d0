"""The summary `xlmk finetune` prints: per protocol, test scores per language and Avg, over seeds
(avg ± std and max, as the paper's tables), and where the run's files are."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def summary_tables(summary: dict) -> list[Any]:
    """One table per protocol: a row per language and Avg; per metric the mean ± std over seeds and
    the max (the row of the seed with the best average)."""
    from rich.table import Table

    tables = []
    for protocol, splits in summary["protocols"].items():
        stats = splits["test"]
        several = len(stats["seeds"]) > 1
        table = Table(title=f"{summary['task']} v{summary['version']} test, protocol {protocol}, "
                            f"seeds {', '.join(map(str, stats['seeds']))}")
        table.add_column("lang")
        for metric in stats["mean"]:
            table.add_column(f"{metric} avg" + ("±std" if several else ""), justify="right")
            if several:
                table.add_column(f"{metric} max", justify="right")
        for key in next(iter(stats["mean"].values())):
            cells = []
            for metric, values in stats["mean"].items():
                sd = stats["std"][metric][key]
                cells.append(f"{values[key]:.1f}" + (f" ± {sd:.1f}" if several and sd is not None else ""))
                if several:
                    cells.append(f"{stats['max'][metric][key]:.1f}")
            table.add_row(key, *cells)
        epochs = ", ".join(f"seed {s}: {e}" for s, e in stats["epochs"].items())
        table.caption = f"max = seed {stats['max_seed']} (best avg {summary['main_metric']}); chosen epochs: {epochs}"
        tables.append(table)
    return tables


def print_summary(summary: dict, run_dir: Path) -> None:
    from rich.console import Console

    console = Console()
    for table in summary_tables(summary):
        console.print(table)
    console.print(f"rows: {run_dir / 'results.jsonl'}   summary: {run_dir / 'summary.json'}   "
                  f"predictions and models: {run_dir}/seed-*/")
