"""Experiment trackers: a pre-training run with run.report_to=tensorboard writes event files with its metric lines."""
from __future__ import annotations

import json

import pytest

from xlmk import tracking
from xlmk.errors import ConfigError
from xlmk.pretrain.recipe import PretrainRecipe
from xlmk.pretrain.run import pretrain
from xlmk.results import read_rows


def _scalars(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = {}
    for events in sorted(run_dir.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out[tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    return out


@pytest.mark.slow
def test_tensorboard_event_files_and_the_model_card(recipe_data):
    pytest.importorskip("tensorboard")
    recipe_data["optim"]["max_steps"] = 3
    recipe_data["run"].update(report_to="tensorboard", save_every=3, heldout_max=0)
    res = pretrain(PretrainRecipe.model_validate(recipe_data))
    lines = [json.loads(x) for x in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    scalars = _scalars(res.run_dir)
    assert {"mlm_loss", "mep_loss", "oe_acc", "lr", "tokens_per_s"} <= set(scalars), sorted(scalars)
    assert [s for s, _ in scalars["mep_loss"]] == [x["step"] for x in lines]
    assert [v for _, v in scalars["mep_loss"]] == pytest.approx([x["mep_loss"] for x in lines], rel=1e-6)
    # the final model's card: recipe, steps and tokens, data sizes and hash, the run's rows, the citation
    card = (res.model_dir / "README.md").read_text()
    data_hash = next(r.data_hash for r in read_rows([res.run_dir]))
    assert "# test-tiny" in card and "recipe: `test-tiny` version 1, seed 3" in card
    assert f"trained: 3 steps, {sum(x['tokens'] for x in lines):,} tokens" in card
    assert "titles 48, triples 16" in card and "- corpus: text-corpus, 3 files (de, en, fr)" in card
    assert f"training data hash (sha256): `{data_hash}`" in card
    assert "| pretrain | test-tiny | train | mep_loss |" in card and "jiang2022xlmk" in card


def test_a_missing_tracker_package_is_refused_by_name(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"run.report_to: wandb needs the wandb package: pip install 'xlmk\[wandb\]'"):
        tracking.accelerator_kwargs("wandb", "runs/x")
    assert tracking.accelerator_kwargs("none", "runs/x") == {}
    assert tracking.hparams({"optim": {"lr": 1e-3, "betas": [0.9, 0.98]}, "data": None}) == \
        {"optim.lr": 1e-3, "optim.betas": "[0.9, 0.98]", "data": "None"}
    assert tracking.scalars({"seed-1": {"dev-en": {"accuracy": 50.0}, "note": "x"}, "ok": True}) == \
        {"seed-1/dev-en/accuracy": 50.0}


@pytest.mark.slow
def test_wandb_offline_run(recipe_data, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    recipe_data["run"]["report_to"] = "wandb"
    res = pretrain(PretrainRecipe.model_validate(recipe_data))
    assert list((res.run_dir / "wandb").glob("offline-run-*")), "no offline wandb run written"
