"""`xlmk demo`: the whole pipeline on the bundled sample world, on CPU, in minutes.

1. build the knowledge of the sample world from its Wikidata and Wikipedia dumps;
2. pre-train `xlmk-tiny` and `mlm-only-tiny` (the paper's model and its "w/o knowledge" ablation);
3. probe both (LAMA, XEP, XOR);
4. fine-tune both zero-shot on the XNLI, NER and MLQA samples, and retrieve Tatoeba's sentence pairs
   (an XTREME task, no training);
5. print the comparison tables and write the plots.
Every stage is the real one at a small size. A demo run that is interrupted resumes where it stopped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from xlmk.pipeline import Evaluation, evaluate_all, link_model, pretrain_step

MODELS = ("xlmk-tiny", "mlm-only-tiny")
EVALUATIONS = [Evaluation("probe", "lama"), Evaluation("probe", "xep"), Evaluation("probe", "xor"),
               Evaluation("finetune", "xnli"), Evaluation("finetune", "panx"), Evaluation("finetune", "mlqa"),
               Evaluation("finetune", "tatoeba")]


def demo(out: str | Path = "runs/demo", *, steps: int | None = None, log: Callable[[str], None] = print) -> str:
    """Run the demo into `out` (one demo at a time); returns the printed report."""
    from xlmk.rundir import locked

    with locked(out, what="demo"):
        return _demo(Path(out), steps, log)


def _demo(out: Path, steps: int | None, log: Callable[[str], None]) -> str:
    from xlmk.modelcard import write_card
    from xlmk.report import report, write_curves
    from xlmk.sample_world.knowledge import build_sample_knowledge

    log("== 1/5 knowledge: sample-world Wikidata + Wikipedia dumps -> titles, mentions, descriptions, triples")
    kdir = build_sample_knowledge(out / "knowledge")
    overrides = ["data.knowledge.kind=knowledge-dir", f"data.knowledge.path={kdir}"]
    if steps is not None:
        overrides += [f"optim.max_steps={steps}", f"optim.warmup_steps={max(1, steps // 10)}"]
    models = {}
    for i, name in enumerate(MODELS):
        log(f"== 2/5 pre-training {name} ({i + 1}/{len(MODELS)})")
        final = pretrain_step(out / "pretrain" / name, name, overrides, log=log)
        models[name] = link_model(final, out / "models" / name)
    for name, model in models.items():
        log(f"== 3-4/5 probing and fine-tuning {name}")
        evaluate_all(out / "eval" / name, model, name, EVALUATIONS, tiny=True, knowledge=kdir, log=log)
        write_card(model.resolve(), search=[out / "eval" / name])  # the model card now lists its results
    log("== 5/5 comparison")
    text = report([out / "eval"], plot=out / "plots")
    text += "".join(f"plot: {p}\n" for p in write_curves([out / "pretrain"], out / "plots"))
    return text
