"""`xlmk init-model`: a randomly initialised XLM-R with a sample-world or XLM-R tokenizer."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("init-model")
    def init_model(
        out: Path = typer.Option(..., "--out", help="Directory to write the model and tokenizer to."),
        size: str = typer.Option("tiny", help="tiny (64 hidden, 2 layers), small (256, 4) or base (768, 12)."),
        tokenizer: str = typer.Option("sample", help="sample (Unigram trained on the sample world) or xlmr (the real 250k vocabulary)."),
        seed: int = typer.Option(0, help="Seed of the initial weights."),
    ) -> None:
        """Build a randomly initialised XLMRobertaForMaskedLM that every AutoModel* loads offline."""
        from xlmk.modelcard import write_card
        from xlmk.modeling import init_model as build

        path = build(out, size=size, tokenizer=tokenizer, seed=seed)  # type: ignore[arg-type]
        write_card(path)
        typer.echo(f"wrote {path}")
