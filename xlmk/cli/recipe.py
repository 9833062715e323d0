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
    """Print the fully resolved recipe as YAML (a pre-training recipe ends with what one step holds, as comments)."""
    from xlmk.config import load_recipe, recipe_to_yaml

    recipe = load_recipe(stage, name, set_)
    typer.echo(recipe_to_yaml(recipe), nl=False)
    if stage == "pretrain":
        from xlmk.pretrain.recipe import step_shape

        typer.echo("".join(f"# {line}\n" for line in step_lines(step_shape(recipe), recipe.batch.micro_size)), nl=False)


def step_lines(shape: dict, micro: int) -> list[str]:
    """What one optimizer step holds, per task and in all (one process; more processes split the micro-batches)."""
    def n(x: float) -> str:
        return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"

    lines = [f"one optimizer step ({shape['schedule']}; {shape['micro_batches']} micro-batches of {micro} examples per task"
             + (", one task per step in turn; mean over steps" if shape["schedule"] == "one-task-per-batch" else
                ", one task per micro-batch in turn; mean over steps" if shape["schedule"] == "alternate" else "") + "):"]
    for task, t in shape["tasks"].items():
        lines.append(f"  {task}: {n(t['examples'])} examples, {n(t['sequences'])} sequences, "
                     f"at most {n(t['max_tokens'])} tokens")
    lines.append(f"  in all: {n(shape['sequences'])} sequences, at most {n(shape['max_tokens'])} tokens per step")
    return lines
