"""The `xlmk` command. Each verb lives in its own module; heavy libraries load inside command bodies."""
from __future__ import annotations

import importlib
import sys

import typer

from xlmk.errors import XlmkError

app = typer.Typer(
    name="xlmk",
    help="Knowledge-enhanced multilingual encoders: build knowledge, pre-train (XLM-K), probe, fine-tune, compare.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# verb -> module; a module with `app` is mounted as a group, one with `register(app)` adds commands
VERBS: dict[str, str] = {
    "registry": "xlmk.cli.registry",
    "recipe": "xlmk.cli.recipe",
    "init-model": "xlmk.cli.init_model",
    "knowledge": "xlmk.cli.knowledge",
    "pretrain": "xlmk.cli.pretrain",
    "probe": "xlmk.cli.probe",
    "finetune": "xlmk.cli.finetune",
    "score": "xlmk.cli.score",
    "results": "xlmk.cli.results",
    "sweep": "xlmk.cli.sweep",
    "demo": "xlmk.cli.demo",
}


def _mount() -> None:
    for verb, module_name in VERBS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that stage is not part of this version
                continue
            raise
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=verb)


_mount()


@app.command("version")
def version() -> None:
    """Print the xlmk version and the source commit."""
    from xlmk.results import git_commit, xlmk_version

    typer.echo(f"xlmk {xlmk_version()} ({git_commit() or 'no git'})")


def main() -> None:
    try:
        app()
    except XlmkError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
