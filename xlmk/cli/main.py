"""The `xlmk` command. Each verb lives in its own module; heavy libraries load inside command bodies."""
from __future__ import annotations

import importlib
import sys
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from xlmk.errors import XlmkError

# verb -> module, in pipeline order (`xlmk --help` lists them so); a module with `app` is mounted as a
# group, one with `register(app)` adds commands
VERBS: dict[str, str] = {
    "knowledge": "xlmk.cli.knowledge",
    "init-model": "xlmk.cli.init_model",
    "pretrain": "xlmk.cli.pretrain",
    "probe": "xlmk.cli.probe",
    "finetune": "xlmk.cli.finetune",
    "score": "xlmk.cli.score",
    "results": "xlmk.cli.results",
    "push": "xlmk.cli.push",
    "sweep": "xlmk.cli.sweep",
    "demo": "xlmk.cli.demo",
    "recipe": "xlmk.cli.recipe",
    "registry": "xlmk.cli.registry",
}


class _PipelineOrder(TyperGroup):
    """Lists commands in the order data flows (VERBS), not alphabetically or commands-before-groups."""

    def list_commands(self, ctx: Any) -> list[str]:
        order = {name: i for i, name in enumerate(VERBS)}
        return sorted(super().list_commands(ctx), key=lambda name: order.get(name, len(order)))


app = typer.Typer(
    name="xlmk",
    cls=_PipelineOrder,
    help="Knowledge-enhanced multilingual encoders: build knowledge, pre-train (XLM-K), probe, fine-tune, compare.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

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


def _version_line() -> str:
    from xlmk.results import git_commit, xlmk_version

    return f"xlmk {xlmk_version()} ({git_commit() or 'no git'})"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(_version_line())
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version, is_eager=True,
                                 help="Print the xlmk version and the source commit, and exit."),
    log_format: Optional[str] = typer.Option(
        None, "--log-format", help="Progress display: auto (bars on a terminal, plain timestamped lines otherwise), "
                                   "rich, plain or json (one JSON object a line). Env: XLMK_LOG_FORMAT."),
    log_every: Optional[str] = typer.Option(
        None, "--log-every", help="Off a terminal, a progress line every '30s' (default) or every '100steps'. "
                                  "Env: XLMK_LOG_EVERY."),
) -> None:
    """Knowledge-enhanced multilingual encoders: build knowledge, pre-train (XLM-K), probe, fine-tune, compare."""
    from xlmk.progress import configure

    configure(log_format=log_format, every=log_every)


@app.command("version")
def version() -> None:
    """Print the xlmk version and the source commit."""
    typer.echo(_version_line())


def main() -> None:
    try:
        app()
    except XlmkError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        sys.exit(2)
