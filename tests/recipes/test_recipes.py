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
    assert load_recipe("pretrain", "mep-monolingual").tasks.mep.description_language == "same"
    assert load_recipe("pretrain", "oe-classify").tasks.oe.loss.kind == "relation-cross-entropy"


@pytest.mark.parametrize("name", ["mlm-only", "mlm-only-tiny"])
def test_mlm_only_is_table_4s_w_o_knowledge_task(name):
    """L_e + L_o replaced, one for one, by MLM on the descriptions: a stream and a loss term of its own, as many
    description sequences a step as the knowledge tasks put through the encoder, the corpus MLM unchanged."""
    from xlmk.pretrain.recipe import step_shape

    wo = load_recipe("pretrain", name)
    full = load_recipe("pretrain", name.replace("mlm-only", "xlmk"))
    assert wo.version >= 2
    assert wo.tasks.mep is None and wo.tasks.oe is None and wo.tasks.desc_mlm is not None
    assert wo.tasks.mlm == full.tasks.mlm and wo.tasks.mlm.sources == ["corpus"]
    assert wo.tasks.desc_mlm.mask_prob == full.tasks.mlm.mask_prob
    assert wo.tasks.desc_mlm.max_length == full.tasks.mep.max_length
    a, b = step_shape(wo), step_shape(full)
    assert a["tasks"]["desc_mlm"]["sequences"] == b["tasks"]["mep"]["sequences"] + b["tasks"]["oe"]["sequences"]
    assert a["sequences"] == b["sequences"]
    assert a["max_tokens"] == b["max_tokens"]


@pytest.mark.parametrize("name", ["mlm-continued", "mlm-continued-tiny"])
def test_mlm_continued_keeps_the_merged_stream_under_its_own_name(name):
    r = load_recipe("pretrain", name)
    assert r.tasks.mep is None and r.tasks.oe is None and r.tasks.desc_mlm is None
    assert r.tasks.mlm.sources == ["corpus", "descriptions"]


@pytest.mark.parametrize("suffix", ["", "-tiny"])
def test_literal_released_and_alternate_recipes(suffix):
    lit = load_recipe("pretrain", f"xlmk-literal{suffix}")
    assert lit.loss.similarity == "dot" and lit.loss.temperature == 1.0 and not lit.loss.mask_same_entity
    assert lit.tasks.key_momentum is None and lit.tasks.mep.pooling == lit.tasks.oe.pooling == "first"
    assert not lit.head.batch_norm and lit.loss.doc2word_weight == 0
    rel = load_recipe("pretrain", f"xlmk-released{suffix}")
    assert rel.head.batch_norm and rel.loss.doc2word_weight > 0 and rel.tasks.mep.mlm_weight > 0
    assert rel.tasks.schedule == "one-task-per-batch"
    alt = load_recipe("pretrain", f"xlmk-alternate{suffix}")
    base = load_recipe("pretrain", f"xlmk{suffix}")
    assert alt.tasks.schedule == "one-task-per-batch"
    assert alt.model_dump(exclude={"name", "description", "tasks", "run"}) == base.model_dump(
        exclude={"name", "description", "tasks", "run"})


@pytest.mark.parametrize("name", ["xlmk", "mep", "oe", "mlm-only", "mep-monolingual", "oe-classify", "mlm-continued",
                                  "xlmk-literal", "xlmk-released", "xlmk-alternate"])
def test_tiny_twins_keep_the_tasks_of_their_recipe(name):
    big, tiny = load_recipe("pretrain", name), load_recipe("pretrain", f"{name}-tiny")
    for task in ("mlm", "mep", "oe", "desc_mlm"):
        assert (getattr(big.tasks, task) is None) == (getattr(tiny.tasks, task) is None), task
    assert tiny.encoder.kind == "init" and tiny.run.precision == "fp32"
    assert tiny.data.knowledge.kind == "sample-knowledge"


def test_recipe_show_says_what_a_step_holds():
    from typer.testing import CliRunner

    from xlmk.cli.main import app

    out = CliRunner().invoke(app, ["recipe", "show", "xlmk"])
    assert out.exit_code == 0, out.output
    assert read_yaml_text(out.output)["batch"]["effective_size"] == 8192  # the YAML part stays YAML
    assert "mep: 8,192 examples, 16,384 sequences" in out.output
    assert "in all: 40,960 sequences, at most 12,582,912 tokens per step" in out.output
    out = CliRunner().invoke(app, ["recipe", "show", "mlm-only"])
    assert "desc_mlm: 8,192 examples, 32,768 sequences" in out.output and "in all: 40,960 sequences" in out.output


def read_yaml_text(text: str):
    import yaml

    return yaml.safe_load(text)


def test_continued_recipe_starts_from_mlm_only_tinys_final_model_with_language_centering():
    cont, parent = load_recipe("pretrain", "xlmk-continued-tiny"), load_recipe("pretrain", "mlm-only-tiny")
    assert cont.encoder.kind == "hf-masked-lm" and cont.encoder.path == f"{parent.run.output_dir}/final"
    assert cont.tasks.language_centering is not None and cont.tasks.mep and cont.tasks.oe
    assert cont.data == parent.data  # the same knowledge and corpus as its parent
