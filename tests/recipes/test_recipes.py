"""Every shipped YAML recipe loads and validates, and the paper's settings are where the paper puts them."""
from __future__ import annotations

import pytest

from xlmk.config import STAGES, available_recipes, load_recipe, read_yaml, registry_dir

SHIPPED = [(stage, name) for stage in STAGES for name in available_recipes(stage)]


@pytest.mark.parametrize("stage,name", SHIPPED, ids=[f"{s}/{n}" for s, n in SHIPPED])
def test_every_shipped_recipe_validates(stage, name):
    recipe = load_recipe(stage, name)
    assert recipe.name == name
    assert recipe.version >= 1


def test_every_table_is_valid_yaml():
    tables = sorted((registry_dir() / "tables").glob("*.yaml"))
    for t in tables:
        assert read_yaml(t) is not None, t


def test_the_pretrain_ablations_of_the_paper_are_shipped():
    names = set(available_recipes("pretrain"))
    for n in ["xlmk", "mep", "oe", "mlm-only", "mep-monolingual", "oe-classify"]:
        assert n in names and f"{n}-tiny" in names


@pytest.mark.parametrize("name", ["xlmk", "mep", "oe", "mlm-only", "mep-monolingual", "oe-classify"])
def test_paper_settings(name):
    r = load_recipe("pretrain", name)
    assert r.encoder.kind == "hf-masked-lm" and r.encoder.path == "xlm-roberta-base"
    assert r.optim.name == "adam" and r.optim.lr == pytest.approx(3e-5) and r.optim.warmup_steps == 10_000
    assert r.batch.effective_size == 8192
    assert r.queue.size == 32768
    if r.tasks.mlm:
        assert r.tasks.mlm.max_length == 512
    for t in (r.tasks.mep, r.tasks.oe):
        if t is not None:
            assert t.max_length == 256


def test_ablations_differ_from_xlmk_where_the_paper_says():
    full = load_recipe("pretrain", "xlmk")
    assert full.tasks.mep and full.tasks.oe and full.tasks.mlm.sources == ["corpus"]
    assert load_recipe("pretrain", "mep").tasks.oe is None
    assert load_recipe("pretrain", "oe").tasks.mep is None
    wo = load_recipe("pretrain", "mlm-only")
    assert wo.tasks.mep is None and wo.tasks.oe is None and wo.tasks.mlm.sources == ["corpus", "descriptions"]
    assert load_recipe("pretrain", "mep-monolingual").tasks.mep.description_language == "same"
    assert load_recipe("pretrain", "oe-classify").tasks.oe.loss.kind == "relation-cross-entropy"


@pytest.mark.parametrize("name", ["xlmk", "mep", "oe", "mlm-only", "mep-monolingual", "oe-classify"])
def test_tiny_twins_keep_the_tasks_of_their_recipe(name):
    big, tiny = load_recipe("pretrain", name), load_recipe("pretrain", f"{name}-tiny")
    for task in ("mlm", "mep", "oe"):
        assert (getattr(big.tasks, task) is None) == (getattr(tiny.tasks, task) is None), task
    assert tiny.encoder.kind == "init" and tiny.run.precision == "fp32"
    assert tiny.data.knowledge.kind == "sample-knowledge"
