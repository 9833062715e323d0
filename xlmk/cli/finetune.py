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
        protocol: Optional[str] = typer.Option(None, "--protocol", help="zero-shot (train on English only) or translate-train (also on the translated training sets; PAWS-X, XNLI, XQuAD/MLQA, TyDiQA)."),
    ) -> None:
        """Fine-tune on English, select the epoch on dev of all languages, score test in every language."""
        from xlmk.downstream.report import print_summary
        from xlmk.downstream.run import finetune as run

        result = run(task, model=model, data=data, languages=_csv(languages),
                     seeds=_seeds(seeds), overrides=tuple(set_), out=out, transfer=protocol)
        print_summary(result.summary, result.run_dir)
