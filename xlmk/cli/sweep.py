"""`xlmk sweep`: pre-train one model per value of a recipe key, evaluate each, one results directory."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        recipe: str = typer.Option(..., "--recipe", help="Pre-training recipe name or path."),
        vary: str = typer.Option(..., "--vary", help="KEY=V1,V2,… e.g. queue.size=256,512,1024."),
        then: List[str] = typer.Option([], "--then", help="'finetune xnli,ner' or 'probe xep,xor' (repeatable)."),
        set_: List[str] = typer.Option([], "--set", help="Override applied to every member (repeatable)."),
        out: Path = typer.Option(Path("runs/sweep"), "--out", help="Sweep directory (restartable)."),
        trust_custom_code: bool = typer.Option(False, "--trust-custom-code",
                                               help="Allow the recipe's `kind: custom` targets to be imported and run."),
    ) -> None:
        """Pre-train one model per value, run the evaluations on each; `xlmk results OUT --plot f.png` draws Figure 4."""
        from xlmk.sweep import sweep as run

        run(recipe, vary, then, out=out, overrides=set_, log=typer.echo, trust_custom_code=trust_custom_code)
        typer.echo(f"sweep written to {out}; compare with: xlmk results {out} --plot {out}/sweep.png")
