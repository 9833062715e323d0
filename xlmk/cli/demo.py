"""`xlmk demo`: the pipeline end to end on the bundled sample world (CPU, minutes)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("runs/demo"), "--out", help="Demo directory (an interrupted demo resumes)."),
        steps: Optional[int] = typer.Option(None, "--steps", help="Pre-training steps per model (default: the tiny recipes')."),
    ) -> None:
        """Build knowledge, pre-train xlmk-tiny and mlm-only-tiny, probe and fine-tune both, compare."""
        import time

        from xlmk.demo import demo as run

        started = time.time()
        text = run(out, steps=steps, log=typer.echo)
        typer.echo(text, nl=False)
        typer.echo(f"demo finished in {time.time() - started:.0f} s; plots in {out / 'plots'}; "
                   f"compare again with: xlmk results {out / 'eval'}")
