"""`xlmk push`: write a model directory's card and upload it to the Hugging Face Hub."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer


def register(app: typer.Typer) -> None:
    @app.command("push")
    def push(
        model: Path = typer.Option(..., "--model", help="Model directory (e.g. RUN/final of `xlmk pretrain`)."),
        repo: str = typer.Option(..., "--repo", help="Hub repository, NAME or OWNER/NAME (created if missing)."),
        results: List[Path] = typer.Option([], "--results", help="Run directories whose rows about this model go into the card (repeatable)."),
        private: bool = typer.Option(False, "--private", help="Create the repository as private."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Write the model card and list the files; upload nothing."),
    ) -> None:
        """Write the model card (README.md) and upload the model directory with huggingface_hub."""
        from xlmk.publish import push as run

        done = run(model, repo, private=private, results=results, dry_run=dry_run)
        typer.echo(f"model card: {done['card']}")
        if dry_run:
            typer.echo(f"would upload {len(done['files'])} files to {repo}: {', '.join(done['files'])}")
        else:
            typer.echo(f"uploaded {len(done['files'])} files: {done['url']}")
