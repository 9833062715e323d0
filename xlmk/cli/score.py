"""`xlmk score`: score a predictions file in a data set's original layout with xlmk's metric code."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score(
        task: str = typer.Argument(..., help="xnli, mlqa, ner, panx, paws-x, xquad, tydiqa, udpos, bucc or tatoeba."),
        gold: Path = typer.Option(..., "--gold", help="Gold file in the data set's layout (MLQA/XQuAD/TyDiQA: SQuAD JSON; NER: token tag; UD-POS: tags or CoNLL-U; XNLI/PAWS-X: any of their layouts; BUCC: id pairs; Tatoeba: indices)."),
        predictions: Path = typer.Option(..., "--predictions", help="Predictions (QA: {qid: answer} JSON; NER/UD-POS: one tag per line; XNLI/PAWS-X: one label per line; BUCC: src-id<TAB>trg-id; Tatoeba: one index per line)."),
        lang: Optional[str] = typer.Option(None, "--lang", help="Language: MLQA's answer language (default: the context language in the gold file's name); XNLI's language in a multi-language file."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Score predictions against gold with the official metrics (MLQA's script, SQuAD v1.1, seqeval/conlleval, accuracy, BUCC F1)."""
        import json

        from xlmk.downstream.scoring import score as run

        result = run(task, gold, predictions, lang=lang)
        if as_json:
            typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
            return
        scores = result["scores"]
        shown = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()
                          if not isinstance(v, dict))
        typer.echo(f"{task} {result['language'] or ''}: {shown}".replace("  ", " "))
        for label, s in scores.get("per_class", {}).items():
            typer.echo(f"  {label}: precision {s['precision']:.2f}, recall {s['recall']:.2f}, f1 {s['f1']:.2f}, "
                       f"support {s['support']}")
