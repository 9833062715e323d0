"""The worked example of docs/extending.md: a user-written loss used in a recipe, compared with the stock one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlmk import api

ROOT = Path(__file__).resolve().parents[2]
SHORT = ["optim.max_steps=4", "optim.warmup_steps=1", "batch.effective_size=8", "batch.micro_size=8",
         "run.save_every=4", "run.log_every=1", "tasks.mlm=null"]


def first_mep_loss(run_dir: Path) -> float:
    line = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    return float(line["mep"]["loss"] if isinstance(line.get("mep"), dict) else line["mep_loss"])


@pytest.mark.slow
def test_custom_loss_is_used_and_compared(tmp_path, xlmk_cache):
    custom = api.load_recipe(ROOT / "examples" / "mep-bidirectional-tiny.yaml", SHORT)
    assert custom.loss.kind == "custom" and custom.loss.options["reverse_weight"] == 1.0
    stock = api.load_recipe("mep-tiny", SHORT)
    # the module is imported from the file the user names; nothing is on sys.path
    user_modules = [ROOT / "examples" / "bidirectional_loss.py"]
    runs = {}
    for name, recipe in (("stock", stock), ("bidirectional", custom)):
        runs[name] = api.pretrain(recipe, output_dir=tmp_path / name, user_modules=user_modules)
    # same seed, same first batch: the forward term is identical, the custom loss adds the reverse one
    assert first_mep_loss(runs["bidirectional"].run_dir) > first_mep_loss(runs["stock"].run_dir) + 0.1
    probed = [api.probe("xep-tiny", model=r.model_dir, overrides=["probe.queries_per_language=5", "probe.candidates=64"],
                         out_dir=tmp_path / f"xep-{name}", model_label=name) for name, r in runs.items()]
    tables = api.results([p.out_dir for p in probed], ["xep"])
    assert len(tables) == 1
    header = " ".join(tables[0].columns)
    assert "stock" in header and "bidirectional" in header
