"""`xlmk pretrain`: continue pre-training an encoder with a recipe (MLM + MEP + OE, or an ablation).

Several processes: `accelerate launch --multi_gpu --num_processes N -m xlmk.cli.pretrain --recipe …`
(or `torchrun --nproc_per_node N -m xlmk.cli.pretrain …`); this module runs as that entry point too.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer


def pretrain_command(
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r", help="Recipe name (registry/recipes/pretrain) or YAML path; "
                                                                   "defaults to the resumed checkpoint's recipe."),
    set_: List[str] = typer.Option([], "--set", help="Override, e.g. --set optim.lr=1e-4 (repeatable)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="A run directory (its newest checkpoint) or one checkpoint."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory; default: the recipe's run.output_dir."),
    report_to: Optional[str] = typer.Option(None, "--report-to", help="Experiment tracker: tensorboard, wandb or none "
                                                                     "(sets run.report_to)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run already in the run directory."),
    trust_custom_code: bool = typer.Option(False, "--trust-custom-code",
                                           help="Allow the recipe's `kind: custom` targets to be imported and run."),
    user_module: List[Path] = typer.Option([], "--user-module", help="A .py file or package directory to import; "
                                           "custom targets inside it are allowed (repeatable)."),
) -> None:
    """Pre-train with a recipe; checkpoints, metrics.jsonl and the final model go to the run directory."""
    from xlmk.errors import ConfigError
    from xlmk.pretrain.run import pretrain

    if recipe is None and resume is None:
        raise ConfigError("give --recipe NAME (e.g. --recipe xlmk-tiny) or --resume RUN_DIR")
    if report_to is not None:
        set_ = [*set_, f"run.report_to={report_to}"]
    result = pretrain(recipe, overrides=set_, resume=resume, output_dir=out, overwrite=overwrite,
                      trust_custom_code=trust_custom_code, user_modules=user_module)
    if os.environ.get("RANK", "0") != "0":  # under a launcher, one process reports
        return
    if result.finished_before:
        typer.echo(f"{result.run_dir} finished earlier (step {result.step}); nothing to do", err=True)
    if result.heldout or result.metrics:
        from rich.console import Console

        con = Console(stderr=True)
        losses = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items() if k.endswith("_loss"))
        con.print(f"[bold]step {result.step}[/]: {losses}", highlight=False)
        for probe, r in result.heldout.items():
            if r["n"]:
                con.print(f"held-out {probe.upper()} in-batch accuracy {100 * r['accuracy']:.1f}% "
                          f"(chance {100 * r['chance']:.1f}%, n={r['n']}, heads: {r['heads']})", highlight=False)
    typer.echo(str(result.model_dir))


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain_command)


def main() -> None:
    """Entry point for launchers (`accelerate launch -m xlmk.cli.pretrain …`)."""
    import sys

    from xlmk.errors import XlmkError

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.command()(pretrain_command)
    try:
        app()
    except XlmkError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
