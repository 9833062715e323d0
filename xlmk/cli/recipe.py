"""`xlmk recipe list|show`: the shipped recipes, and a recipe fully resolved."""
from __future__ import annotations

from typing import List, Optional

import typer

app = typer.Typer(help="List recipes and show them fully resolved (extends and --set applied).", no_args_is_help=True)


@app.command("list")
def list_(stage: Optional[str] = typer.Option(None, help="pretrain, probe or finetune; all by default.")) -> None:
    """List the shipped recipes of each stage."""
    from xlmk.config import STAGES, available_recipes

    for s in [stage] if stage else list(STAGES):
        typer.echo(f"{s}: {', '.join(available_recipes(s)) or '-'}")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Recipe name or path to a YAML file."),
    stage: str = typer.Option("pretrain", help="Stage the recipe belongs to."),
    set_: List[str] = typer.Option([], "--set", help="Override, e.g. --set queue.size=4096 (repeatable)."),
) -> None:
    """Print the fully resolved recipe as YAML."""
    from xlmk.config import load_recipe, recipe_to_yaml

    typer.echo(recipe_to_yaml(load_recipe(stage, name, set_)), nl=False)
