"""`xlmk registry`: the component families, their kinds and each kind's fields."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("registry")
    def registry(
        family: str = typer.Argument(None, help="Show one family only (encoder, head, queue, loss, dataset)."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """List component families, their kinds, and each kind's fields with descriptions and defaults."""
        from xlmk.cli.render import print_registry

        print_registry(family, as_json=as_json)
