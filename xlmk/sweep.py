"""`xlmk sweep`: one pre-trained model per value of a recipe key, each evaluated the same way.

The sweep directory holds `sweep.json` (the parameter, its values and the member models), one
directory per member (pre-training run and evaluations) and `models/<recipe>_<key>=<value>` links,
so `xlmk results SWEEP_DIR --plot fig.png` draws the paper's Figure 4. Finished members and
evaluations are skipped when the sweep is run again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from xlmk.config import load_recipe
from xlmk.errors import ConfigError
from xlmk.io import atomic_write_json
from xlmk.pipeline import evaluate_all, link_model, parse_then, pretrain_step


def parse_vary(vary: str) -> tuple[str, list[str]]:
    key, sep, values = vary.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key.strip() or not items:
        raise ConfigError(f"--vary {vary!r}: expected KEY=V1,V2,…, e.g. queue.size=256,512,1024")
    if len(set(items)) != len(items):
        raise ConfigError(f"--vary {vary!r}: a value is repeated")
    return key.strip(), items


def sweep(recipe: str, vary: str, then: Iterable[str] = (), *, out: str | Path = "runs/sweep",
          overrides: Iterable[str] = (), log: Callable[[str], None] = print, trust_custom_code: bool = False) -> dict:
    from xlmk import trust
    from xlmk.rundir import locked

    key, values = parse_vary(vary)
    overrides = list(overrides)
    evaluations = parse_then(then)
    # every member's recipe is validated (and its custom code allowed) before anything trains
    resolved = {v: load_recipe("pretrain", recipe, [*overrides, f"{key}={v}"]) for v in values}
    for v, r in resolved.items():
        trust.check(r, trust_custom_code=trust_custom_code, source=f"recipe {r.name!r} ({key}={v})")
    name = next(iter(resolved.values())).name
    tiny = name.endswith("-tiny")
    knowledge = None
    spec = next(iter(resolved.values())).data.knowledge
    if spec is not None and spec.kind == "knowledge-dir":
        knowledge = Path(spec.path)
    out = Path(out)
    members = [{"value": v, "model_name": f"{name}_{key}={v}", "dir": f"{name}_{key}={v}"} for v in values]
    manifest = {"parameter": key, "recipe": recipe, "overrides": overrides,
                "evaluations": [f"{e.stage} {e.name}" for e in evaluations], "members": members}
    with locked(out, what="sweep"):
        atomic_write_json(out / "sweep.json", manifest)
        for member in members:
            mdir = out / member["dir"]
            log(f"== {key}={member['value']}")
            model = pretrain_step(mdir / "pretrain", recipe, [*overrides, f"{key}={member['value']}"], log=log,
                                  label=f"pretrain {name} {key}={member['value']}", trust_custom_code=trust_custom_code)
            named = link_model(model, out / "models" / member["model_name"])
            evaluate_all(mdir, named, member["model_name"], evaluations, tiny=tiny, knowledge=knowledge, log=log)
    return manifest
