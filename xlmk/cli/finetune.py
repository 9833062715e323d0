"""`xlmk finetune`: zero-shot (or translate-train) cross-lingual fine-tuning of the XGLUE/XTREME tasks, and
XTREME's retrieval tasks (BUCC, Tatoeba), which train nothing."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

def _csv(text: Optional[str]) -> Optional[list[str]]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _seeds(text: Optional[str]) -> Optional[list[int]]:
    from xlmk.errors import ConfigError

    items = _csv(text)
    if items is None:
        return None
    try:
        return [int(s) for s in items]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected integers separated by commas, e.g. 1,2,3,4") from None


def register(app: typer.Typer) -> None:
    @app.command("finetune")
    def finetune(
        task: str = typer.Argument(..., help="xnli, mlqa, ner (XGLUE NER), panx, paws-x, xquad, tydiqa, udpos, bucc, tatoeba, or any finetune recipe name or YAML path (e.g. xnli-tiny)."),
        model: Optional[str] = typer.Option(None, "--model", help="Checkpoint directory (or hub name) to fine-tune; default: the recipe's encoder."),
        data: Optional[str] = typer.Option(None, "--data", help="Folder holding the task's data in its original layout ('sample-world' = the bundled sample)."),
        languages: Optional[str] = typer.Option(None, "--languages", help="Evaluation languages, comma-separated; default: every language of the task with data."),
        seeds: Optional[str] = typer.Option(None, "--seeds", help="Seeds, comma-separated (the paper: 1,2,3,4)."),
        set_: List[str] = typer.Option([], "--set", help="Recipe override, e.g. --set optim.lr=1e-5 (repeatable)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Run directory (results.jsonl, summary.json, seed-N/)."),
        report_to: Optional[str] = typer.Option(None, "--report-to", help="Experiment tracker: tensorboard, wandb or none "
                                                                         "(sets run.report_to)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out: its missing seeds (same recipe and model)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run already in --out."),
        trust_custom_code: bool = typer.Option(False, "--trust-custom-code",
                                               help="Allow the recipe's `kind: custom` targets to be imported and run."),
        user_module: List[Path] = typer.Option([], "--user-module", help="A .py file or package directory to import; "
                                               "custom targets inside it are allowed (repeatable)."),
        protocol: Optional[str] = typer.Option(None, "--protocol", help="zero-shot (train on English only) or translate-train (also on the translated training sets; PAWS-X, XNLI, XQuAD/MLQA, TyDiQA)."),
    ) -> None:
        """Fine-tune on English, select the epoch on dev of all languages, score test in every language."""
        from xlmk.downstream.report import print_summary
        from xlmk.downstream.run import finetune as run

        overrides = (*set_, f"run.report_to={report_to}") if report_to is not None else tuple(set_)
        result = run(task, model=model, data=data, languages=_csv(languages),
                     seeds=_seeds(seeds), overrides=overrides, out=out, resume=resume, overwrite=overwrite,
                     trust_custom_code=trust_custom_code, user_modules=user_module, transfer=protocol)
        print_summary(result.summary, result.run_dir)
