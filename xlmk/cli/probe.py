"""`xlmk probe lama|mlama|xep|xor`: probe a masked LM without training, and print the paper's tables."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Probe what a model knows: LAMA, multilingual LAMA, XEP and XOR (no training).",
                  no_args_is_help=True)

_MODEL = typer.Option(None, "--model", help="Checkpoint directory or hub name; default: the recipe's encoder.")
_DATA = typer.Option(None, "--data", help="Data directory (LAMA's data/, mLAMA's language folders, or a knowledge directory for xep/xor).")
_LANGS = typer.Option([], "--languages", help="Languages, comma-separated or repeated (mlama, xep, xor).")
_OUT = typer.Option(None, "--out", help="Run directory; default: <run.output_dir>/<recipe>/<model>.")
_SET = typer.Option([], "--set", help="Override a recipe key, e.g. --set probe.common_vocab=vocab.txt (repeatable).")
_RESUME = typer.Option(False, "--resume", help="Continue this model's run in --out (a finished one is printed, not redone).")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace this model's earlier run in --out.")
_TRUST = typer.Option(False, "--trust-custom-code", help="Allow the recipe's `kind: custom` targets to be imported and run.")
_USER_MODULE = typer.Option([], "--user-module", help="A .py file or package directory to import; custom targets "
                            "inside it are allowed (repeatable).")
_SPLIT = typer.Option(None, "--split", help="xep/xor query rows: heldout (default: rows training never sees), entities "
                                            "(held-out entities, zero-shot) or all (trained rows included, flagged).")


def _recipe_option(kind: str):
    return typer.Option(kind, "--recipe", help=f"Probe recipe name or YAML path (shipped: {kind}, {kind}-tiny).")


def _run(kind: str, recipe: str, model: Optional[str], data: Optional[str], languages: List[str], out: Optional[Path],
         overrides: List[str], resume: bool, overwrite: bool, trust: bool, user_modules: List[Path]) -> None:
    from rich.console import Console

    from xlmk.errors import ConfigError
    from xlmk.probe.run import build_recipe, probe
    from xlmk.probe.table import probe_tables

    rec = build_recipe(recipe, model=model, data=data, languages=languages, overrides=overrides)
    if rec.probe.kind not in (kind, "custom"):
        raise ConfigError(f"--recipe {recipe!r} is a {rec.probe.kind} probe, not {kind}: use `xlmk probe {rec.probe.kind}`")
    result = probe(rec, out_dir=out, resume=resume, overwrite=overwrite, trust_custom_code=trust,
                   user_modules=user_modules)

    console = Console()
    for table in probe_tables(result.rows):
        console.print(table)
    total = result.coverage["total"]
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(total["dropped"].items(), key=lambda kv: -kv[1]))
    console.print(f"coverage: {total['read']} read, {total['kept']} kept" + (f"; dropped: {reasons}" if reasons else ""),
                  highlight=False)
    if result.info.get("ranking"):  # XEP/XOR tables carry their representation in the caption
        console.print(f"ranking: {result.info['ranking']}", highlight=False)
    console.print(f"wrote {result.out_dir} ({', '.join(p.name for p in result.files.values())})", highlight=False)


@app.command("lama")
def lama(model: Optional[str] = _MODEL, data: Optional[str] = _DATA, languages: List[str] = _LANGS,
         out: Optional[Path] = _OUT, recipe: str = _recipe_option("lama"), set_: List[str] = _SET,
         resume: bool = _RESUME, overwrite: bool = _OVERWRITE, trust_custom_code: bool = _TRUST,
         user_module: List[Path] = _USER_MODULE) -> None:
    """LAMA (Google-RE, T-REx, ConceptNet, SQuAD): P@1 per relation and the paper's Table 5."""
    _run("lama", recipe, model, data, languages, out, set_, resume, overwrite, trust_custom_code, user_module)


@app.command("mlama")
def mlama(model: Optional[str] = _MODEL, data: Optional[str] = _DATA, languages: List[str] = _LANGS,
          out: Optional[Path] = _OUT, recipe: str = _recipe_option("mlama"), set_: List[str] = _SET,
          resume: bool = _RESUME, overwrite: bool = _OVERWRITE, trust_custom_code: bool = _TRUST,
          user_module: List[Path] = _USER_MODULE) -> None:
    """Multilingual LAMA: multi-token objects ranked among candidates, P@1 per relation and language."""
    _run("mlama", recipe, model, data, languages, out, set_, resume, overwrite, trust_custom_code, user_module)


@app.command("xep")
def xep(model: Optional[str] = _MODEL, data: Optional[str] = _DATA, languages: List[str] = _LANGS,
        out: Optional[Path] = _OUT, recipe: str = _recipe_option("xep"), set_: List[str] = _SET,
        resume: bool = _RESUME, overwrite: bool = _OVERWRITE, trust_custom_code: bool = _TRUST,
        user_module: List[Path] = _USER_MODULE, split: Optional[str] = _SPLIT) -> None:
    """Cross-lingual Entity Prediction: an entity-masked sentence picks its entity's description (Table 7)."""
    _run("xep", recipe, model, data, languages, out, [*set_, *([f"probe.split={split}"] if split else [])],
         resume, overwrite, trust_custom_code, user_module)


@app.command("xor")
def xor(model: Optional[str] = _MODEL, data: Optional[str] = _DATA, languages: List[str] = _LANGS,
        out: Optional[Path] = _OUT, recipe: str = _recipe_option("xor"), set_: List[str] = _SET,
        resume: bool = _RESUME, overwrite: bool = _OVERWRITE, trust_custom_code: bool = _TRUST,
        user_module: List[Path] = _USER_MODULE, split: Optional[str] = _SPLIT) -> None:
    """Cross-lingual Object Recognition: subject description + relation pick the object's description (Table 7)."""
    _run("xor", recipe, model, data, languages, out, [*set_, *([f"probe.split={split}"] if split else [])],
         resume, overwrite, trust_custom_code, user_module)
