"""`xlmk results`: result rows of any runs pivoted into the paper's tables, and plots."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("results")
    def results(
        runs: List[Path] = typer.Argument(..., help="Run directories or results.jsonl files (searched recursively)."),
        task: Optional[List[str]] = typer.Option(None, "--task", help="Tables to show: xnli, mlqa, ner, panx, paws-x, xquad, tydiqa, udpos, bucc, tatoeba, xtreme, ablation, lama, mlama, xep, xor (default: all present)."),
        split: str = typer.Option("test", help="Split of the fine-tuning tables."),
        fmt: str = typer.Option("table", "--format", help="table, markdown, csv or json."),
        plot: Optional[Path] = typer.Option(None, "--plot", help="Write plots: OUT.png (one task) or a directory."),
    ) -> None:
        """Pivot result rows into the paper's layouts (Tables 1-5, 7) and XTREME's, and flag rows of differing versions."""
        from xlmk.report import report

        typer.echo(report(runs, tasks=task, split=split, fmt=fmt, plot=plot), nl=False)
