"""The engine end to end on a tiny model: checkpoints every stage can read, the schedules, the guard rails."""
from __future__ import annotations

import json

import pytest
import torch

import pretrain_helpers as H
from xlmk.errors import ConfigError, TrainingError
from xlmk.pretrain.loop import lr_factor
from xlmk.pretrain.recipe import Optim, PretrainRecipe
from xlmk.pretrain.run import pretrain


def _run(data: dict, **kw):
    return pretrain(PretrainRecipe.model_validate(data), **kw)


def test_a_run_writes_what_every_stage_reads(recipe_data):
    from transformers import AutoModel, XLMRobertaForMaskedLM

    from xlmk.pretrain.heads import load_knowledge_heads
    from xlmk.pretrain.run import resolve_recipe
    from xlmk.results import read_rows

    res = _run(recipe_data)
    final = res.model_dir
    assert XLMRobertaForMaskedLM.from_pretrained(final).config.hidden_size == 32
    assert AutoModel.from_pretrained(final) is not None
    heads = load_knowledge_heads(final)
    assert set(heads.heads) == {"mep_query", "mep_key", "oe_query", "oe_key"}
    assert heads.relation_ids == ["P131", "P17"] and heads.meta["loss"]["similarity"] == "dot"
    again = resolve_recipe(None, checkpoint=final)
    assert again == PretrainRecipe.model_validate(recipe_data)
    lines = [json.loads(x) for x in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(1, 7))
    assert all({"mlm_loss", "mep_loss", "oe_loss", "mep_acc", "oe_acc", "lr", "tokens_per_s"} <= set(x) for x in lines)
    assert lines[0]["lr"] == pytest.approx(2e-3 * 2 / 3)  # warm-up: (step + 1) / (warmup + 1) after step 1
    assert sorted(p.name for p in (res.run_dir / "checkpoints").iterdir()) == \
        ["step-00000002", "step-00000004", "step-00000006"]
    rows = read_rows([res.run_dir])
    names = {(r.name, r.metric, r.split) for r in rows}
    assert ("xep-inbatch", "accuracy", "heldout") in names and ("test-tiny", "mep_loss", "train") in names
    for r in rows:
        assert r.seed == 3 and r.data_hash and r.model_hash and r.recipe == "test-tiny" and r.xlmk_version
    acc = next(r for r in rows if r.metric == "mep_acc")
    assert 0 <= acc.value <= 100 and acc.value == pytest.approx(100 * lines[-1]["mep_acc"])


def test_lr_schedule_by_hand():
    o = Optim(lr=1.0, warmup_steps=10, max_steps=110, schedule="linear")
    assert lr_factor(0, o) == pytest.approx(1 / 11) and lr_factor(10, o) == 1.0
    assert lr_factor(60, o) == pytest.approx(0.5) and lr_factor(110, o) == 0.0
    assert lr_factor(60, o.model_copy(update={"schedule": "cosine"})) == pytest.approx(0.5)
    assert lr_factor(100, o.model_copy(update={"schedule": "constant"})) == 1.0


def _model_and_batch(recipe_data, world, tokenizer, **tasks):
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.model import KnowledgeModel, build_heads, build_queues
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    recipe_data["tasks"].update(tasks)
    recipe = PretrainRecipe.model_validate(recipe_data)
    enc, tok = load_masked_lm(str(world[2]))
    src = prepare_sources(recipe, tok)
    heads = build_heads(recipe, 32, src.knowledge.relations)
    model = KnowledgeModel(enc, heads, build_queues(recipe, 32, torch.Generator().manual_seed(0)), recipe)
    return model, PretrainStream(recipe, src, tok, len(tok))


def test_alternate_schedule_gives_every_parameter_a_gradient(recipe_data, world, tokenizer):
    recipe_data["tasks"]["schedule"] = "alternate"
    model, stream = _model_and_batch(recipe_data, world, tokenizer, mep={"max_length": 32, "layer": 1})
    seen = []
    for _ in range(3):
        batch = stream.next()
        seen.append(next(iter(batch)))
        model.zero_grad(set_to_none=True)
        model(batch)["loss"].backward()
        # DDP without find_unused_parameters needs a gradient on every parameter, every micro-batch
        assert all(p.grad is not None for p in model.parameters()), seen[-1]
    assert seen == ["mlm", "mep", "oe"]
    # the OE heads took no part in the last-but-one (MEP) micro-batch: a zero gradient, not a made-up one
    model.zero_grad(set_to_none=True)
    model({"mep": stream.collate("mep", stream.batches["mep"].next())})["loss"].backward()
    assert all(float(p.grad.abs().sum()) == 0 for p in model.heads.get("oe_query").parameters())
    assert any(float(p.grad.abs().sum()) > 0 for p in model.heads.get("mep_query").parameters())


def test_queue_push_per_micro_batch_or_per_step(recipe_data, world, tokenizer):
    model, stream = _model_and_batch(recipe_data, world, tokenizer)
    batch = stream.next()
    model(batch)
    qids = batch["mep"]["qid"]
    assert model.queues["mep"].ordered()[1][-len(qids):].tolist() == qids.tolist()
    recipe_data["queue"]["push"] = "step"
    model, stream = _model_and_batch(recipe_data, world, tokenizer)
    batch = stream.next()
    model(batch)
    assert (model.queues["mep"].ordered()[1] == -1).all()  # held back until the optimizer step
    model.flush_queues()
    assert model.queues["mep"].ordered()[1][-8:].tolist() == batch["mep"]["qid"].tolist()


def test_momentum_branch_feeds_the_queue_and_follows_the_encoder(recipe_data, world, tokenizer):
    recipe_data["tasks"]["key_momentum"] = 0.9
    model, stream = _model_and_batch(recipe_data, world, tokenizer, mep={"max_length": 32, "pooling": "mean"})
    assert not any(p.requires_grad for p in model.key_encoder.parameters())
    batch = stream.next()
    model(batch)["loss"].backward()
    # the queue receives the momentum branch's keys, not the live ones
    expected = model.momentum_keys("mep", batch["mep"]["desc_ids"], batch["mep"]["desc_mask"])
    assert torch.allclose(model.queues["mep"].ordered()[0][-8:], expected, atol=1e-6)
    # the live key head still learns from the in-batch keys
    assert any(float(p.grad.abs().sum()) > 0 for p in model.heads.get("mep_key").parameters())
    live, frozen = next(model.encoder.base_model.parameters()), next(model.key_encoder.parameters())
    assert torch.equal(live, frozen)  # a copy at the start
    old = frozen.clone()
    with torch.no_grad():
        live.add_(1.0)
    model.momentum_update()  # 0.9 * old + 0.1 * (old + 1)
    assert torch.allclose(frozen, old + 0.1, atol=1e-6)


def test_gradient_checkpointing_and_bf16_train(recipe_data, tmp_path):
    recipe_data["optim"]["max_steps"] = 2
    base = _run(recipe_data, output_dir=tmp_path / "a").metrics
    recipe_data["run"]["gradient_checkpointing"] = True
    ckpt = _run(recipe_data, output_dir=tmp_path / "b").metrics
    for key in ("mlm_loss", "mep_loss", "oe_loss"):
        assert base[key] == pytest.approx(ckpt[key], rel=1e-5)
    recipe_data["run"]["precision"] = "bf16"
    bf16 = _run(recipe_data, output_dir=tmp_path / "c").metrics
    assert all(abs(bf16[k] - base[k]) < 0.1 * base[k] for k in ("mlm_loss", "mep_loss"))


def test_mlm_only_and_oe_classify_ablations(recipe_data, tmp_path):
    from xlmk.pretrain.heads import load_knowledge_heads

    recipe_data["optim"]["max_steps"] = 2
    mlm = json.loads(json.dumps(recipe_data))
    mlm["tasks"] = {"mlm": {"max_length": 32, "sources": ["corpus", "descriptions"]}, "mep": None, "oe": None}
    res = _run(mlm, output_dir=tmp_path / "mlm")
    assert load_knowledge_heads(res.model_dir) is None
    assert res.heldout["xep"]["heads"] is False and res.heldout["xep"]["n"] > 0
    cls = json.loads(json.dumps(recipe_data))
    cls["tasks"]["mep"] = None
    cls["tasks"]["oe"]["loss"] = {"kind": "relation-cross-entropy"}
    res = _run(cls, output_dir=tmp_path / "cls")
    heads = load_knowledge_heads(res.model_dir)
    assert heads.classifier is not None and heads.relations is None and not heads.heads
    assert "oe_loss" in res.metrics and "mep_loss" not in res.metrics
    from safetensors.torch import load_file

    assert load_file(str(tmp_path / "cls/checkpoints/step-00000002/trainer_state/queues.safetensors")) == {}


def test_tokenizer_that_does_not_fit_the_model_is_refused(recipe_data, world, tmp_path):
    kdir, corpus = world[0], world[1]
    bad = H.write_tiny_model(tmp_path / "bad", H.world_texts(kdir, corpus), extra_vocab=5)
    recipe_data["encoder"]["path"] = str(bad)
    with pytest.raises(TrainingError, match="do not belong together"):
        _run(recipe_data)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(recipe_data):
    from xlmk.pretrain.checkpoint import latest_checkpoint

    recipe_data["tasks"]["mep"]["loss"] = {"kind": "custom", "target": "pretrain_helpers:nan_after",
                                           "options": {"calls": 5}}
    with pytest.raises(TrainingError, match=r"non-finite loss at step 5.*step-00000004"):
        _run(recipe_data, trust_custom_code=True)
    run = recipe_data["run"]["output_dir"]
    assert latest_checkpoint(run).name == "step-00000004"
    assert not (latest_checkpoint(run).parent.parent / "final").exists()


def test_batch_sizes_that_do_not_divide_are_refused(recipe_data):
    recipe_data["batch"].update(effective_size=12, micro_size=8)
    with pytest.raises(ValueError, match="multiple of"):
        PretrainRecipe.model_validate(recipe_data)
    recipe_data["batch"].update(effective_size=8, micro_size=8)
    recipe_data["tasks"]["mep"]["loss"] = {"kind": "relation-cross-entropy"}
    with pytest.raises(ConfigError, match="only fits tasks.oe"):
        _run(recipe_data)


def test_cli_runs_a_recipe_file(recipe_data, tmp_path):
    from typer.testing import CliRunner

    from xlmk.cli.main import app
    from xlmk.config import recipe_to_yaml

    recipe_data["optim"]["max_steps"] = 2
    path = tmp_path / "r.yaml"
    path.write_text(recipe_to_yaml(PretrainRecipe.model_validate(recipe_data)))
    out = CliRunner().invoke(app, ["pretrain", "--recipe", str(path), "--set", "optim.max_steps=3",
                                   "--out", str(tmp_path / "cli")])
    assert out.exit_code == 0, out.output
    assert str(tmp_path / "cli" / "final") in out.output
    assert len((tmp_path / "cli/metrics.jsonl").read_text().splitlines()) == 3
    bad = CliRunner().invoke(app, ["pretrain", "--recipe", str(path), "--set", "optim.lrr=1"])
    assert bad.exit_code != 0 and "did you mean 'lr'" in str(bad.exception)
