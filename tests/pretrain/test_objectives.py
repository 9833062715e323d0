"""The objectives that make comparisons sound: `desc_mlm` (Table 4's 'w/o knowledge task'), what one step
holds (`step_shape`, the schedules), and the released code's parts (MLM on mention sentences, doc2word,
BatchNorm heads, a head learning rate)."""
from __future__ import annotations

import pytest
import torch

from xlmk.pretrain.recipe import PretrainRecipe, step_shape


def _stream(recipe_data, world, **tasks):
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    recipe_data["tasks"].update(tasks)
    recipe = PretrainRecipe.model_validate(recipe_data)
    enc, tok = load_masked_lm(str(world[2]))
    return recipe, enc, PretrainStream(recipe, prepare_sources(recipe, tok), tok, len(tok))


def _model(recipe, enc, stream):
    from xlmk.pretrain.model import KnowledgeModel, build_heads, build_queues

    heads = build_heads(recipe, 32, stream_relations(stream))
    return KnowledgeModel(enc, heads, build_queues(recipe, 32, torch.Generator().manual_seed(0)), recipe)


def stream_relations(stream):
    for b in stream.batches.values():
        kp = getattr(b.examples, "kp", None)
        if kp is not None:
            return kp.relations
    return []


def _sequences(batch: dict) -> dict[str, int]:
    """Encoder sequences of each kind in a micro-batch: corpus, descriptions (MLM), knowledge pairs."""
    n = {name: sum(int(v.shape[0]) for k, v in b.items() if k in ("input_ids", "desc_ids", "subj_ids", "obj_ids"))
         for name, b in batch.items()}
    return n


def test_mlm_only_replaces_the_knowledge_tasks_one_for_one(recipe_data, world):
    """Per step, mlm-only puts as many description sequences through the encoder as xlmk puts knowledge
    sequences (MEP and OE pairs), beside the same corpus MLM: the share of Table 4's control."""
    import copy

    full = _stream(copy.deepcopy(recipe_data), world)[2].next()
    _, _, stream = _stream(recipe_data, world, mep=None, oe=None, desc_mlm={"sequences": 4, "max_length": 32})
    wo = stream.next()
    full_n, wo_n = _sequences(full), _sequences(wo)
    assert set(wo_n) == {"mlm", "desc_mlm"}
    assert wo_n["mlm"] == full_n["mlm"] == 8
    assert wo_n["desc_mlm"] == full_n["mep"] + full_n["oe"] == 32
    assert wo_n["desc_mlm"] / sum(wo_n.values()) == pytest.approx(0.8)
    # every description sequence is a whole description (<s> ... </s>) with MLM targets, drawn from its own stream
    kp = stream.batches["desc_mlm"].examples.arrays[0]
    descs = {tuple(kp[i].tolist()) for i in range(len(kp))}
    b = wo["desc_mlm"]
    for ids, labels, mask in zip(b["input_ids"], b["labels"], b["attention_mask"]):
        original = torch.where(labels != -100, labels, ids)[mask.bool()]
        assert tuple(original.tolist()) in descs
    assert int((b["labels"] != -100).sum()) > 0
    shape = step_shape(PretrainRecipe.model_validate(recipe_data))
    assert shape["tasks"]["desc_mlm"]["sequences"] == 4 * shape["tasks"]["mlm"]["sequences"]


def test_desc_mlm_is_its_own_loss_term(recipe_data, world):
    recipe, enc, stream = _stream(recipe_data, world, mep=None, oe=None, desc_mlm={"sequences": 2, "max_length": 32,
                                                                                     "weight": 0.5})
    model = _model(recipe, enc, stream)
    out = model(stream.next())
    logs = out["logs"]
    assert set(logs) == {"mlm", "desc_mlm"}
    expected = logs["mlm"]["loss"] + 0.5 * logs["desc_mlm"]["loss"]
    assert float(out["loss"].detach()) == pytest.approx(expected, rel=1e-5)


def test_step_shape_counts_sequences_and_tokens_per_schedule():
    from xlmk.config import load_recipe

    joint = step_shape(load_recipe("pretrain", "xlmk"))
    assert joint["tasks"]["mlm"]["examples"] == 8192 and joint["tasks"]["mep"]["sequences"] == 2 * 8192
    assert joint["sequences"] == 5 * 8192
    assert joint["max_tokens"] == 8192 * 512 + 4 * 8192 * 256
    assert joint["micro_batches"] == 8192 // 32
    one = step_shape(load_recipe("pretrain", "xlmk-alternate"))
    assert one["schedule"] == "one-task-per-batch"
    assert one["tasks"]["mep"]["examples"] == pytest.approx(8192 / 3)
    wo = step_shape(load_recipe("pretrain", "mlm-only"))
    assert wo["sequences"] == joint["sequences"]


def test_one_task_per_batch_keeps_a_step_on_one_task(recipe_data, world):
    recipe_data["batch"] = {"effective_size": 16, "micro_size": 8, "bucket_pool": 2}
    _, _, stream = _stream(recipe_data, world, schedule="one-task-per-batch")
    tasks = [next(iter(stream.next())) for _ in range(6)]
    assert tasks == ["mlm", "mlm", "mep", "mep", "oe", "oe"]


def test_mlm_on_mention_sentences_never_targets_the_mention(recipe_data, world):
    recipe, enc, stream = _stream(recipe_data, world, mep={"max_length": 32, "mlm_weight": 1.0})
    batch = stream.next()["mep"]
    mask_id = stream.info.mask
    labels = batch["labels"]
    assert int((labels != -100).sum()) > 0
    pos = batch["query_pos"]
    assert (batch["input_ids"][torch.arange(len(pos)), pos] == mask_id).all()
    assert (labels[torch.arange(len(pos)), pos] == -100).all()
    model = _model(recipe, enc, stream)
    out = model({"mep": batch})
    assert {"mep", "mep_mlm"} <= set(out["logs"]) and out["logs"]["mep_mlm"]["n"] == int((labels != -100).sum())
    out["loss"].backward()
    assert model.mlm_head.dense.weight.grad is not None


def test_doc2word_scores_keys_against_queries_with_its_own_queue(recipe_data, world):
    import copy

    recipe_data["loss"] = {"kind": "contrastive", "doc2word_weight": 1.0}
    recipe, enc, stream = _stream(recipe_data, world)
    model = _model(recipe, enc, stream).eval()  # no dropout: the two forwards below see the same states
    assert {"mep_doc2word", "oe_doc2word"} <= set(model.queues)
    plain = copy.deepcopy(model)
    plain.doc2word = {"mep": 0.0, "oe": 0.0}
    batch = stream.next()
    both, forward_only = model(batch), plain(batch)
    # the forward (word2doc) term is untouched; the reverse adds a positive cross-entropy of its own
    assert both["logs"]["mep"]["loss"] == pytest.approx(forward_only["logs"]["mep"]["loss"], rel=1e-5)
    assert float(both["loss"].detach()) > float(forward_only["loss"].detach()) + 1.0
    qids = batch["mep"]["qid"]
    assert model.queues["mep_doc2word"].ordered()[1][-len(qids):].tolist() == qids.tolist()
    assert (plain.queues["mep_doc2word"].ordered()[1] == -1).all()  # no reverse, no push
    # the reverse direction trains the query head through the batch's queries
    model.zero_grad()
    plain.zero_grad()
    both["loss"].backward()
    forward_only["loss"].backward()
    g1 = model.heads.get("mep_query").net[0].weight.grad
    g0 = plain.heads.get("mep_query").net[0].weight.grad
    assert not torch.allclose(g1, g0)


def test_head_learning_rate_scale(recipe_data, world):
    from xlmk.pretrain.loop import make_optimizer

    recipe_data["optim"]["head_lr_scale"] = 10.0
    recipe, enc, stream = _stream(recipe_data, world)
    model = _model(recipe, enc, stream)
    opt = make_optimizer(model, recipe.optim)
    head_ids = {id(p) for p in model.heads.parameters()}
    for g in opt.param_groups:
        is_head = {id(p) in head_ids for p in g["params"]}
        assert len(is_head) == 1
        assert g["lr"] == pytest.approx(recipe.optim.lr * (10.0 if is_head.pop() else 1.0))
    recipe_data["optim"]["head_lr_scale"] = 1.0
    assert len(make_optimizer(model, PretrainRecipe.model_validate(recipe_data).optim).param_groups) == 2


def test_language_centering_removes_each_languages_mean_and_travels_with_the_heads(tmp_path):
    from xlmk.pretrain.heads import KnowledgeHeads, ProjectionHead, load_knowledge_heads

    torch.manual_seed(0)
    heads = KnowledgeHeads({"mep_query": ProjectionHead(4, 4, 4), "mep_key": ProjectionHead(4, 4, 4)}, hidden_size=4,
                           languages=["de", "en"], center_momentum=0.5)
    offset = torch.tensor([[10.0, 0, 0, 0], [0, -10.0, 0, 0]])  # a language direction dominating the states
    lang = torch.tensor([0, 0, 1, 1, 1])
    x = torch.randn(5, 4) + offset[lang]
    centred = heads.center("mep_query", x, lang, update=True)
    for li in (0, 1):  # the first batch of a language sets its mean: nothing of the offset is left
        assert torch.allclose(centred[lang == li].mean(0), torch.zeros(4), atol=1e-5)
    y = torch.randn(5, 4) + offset[lang]
    heads.center("mep_query", y, lang, update=True)  # then a running mean with momentum 0.5
    assert torch.allclose(heads.lang_mean_mep_query[0], 0.5 * x[:2].mean(0) + 0.5 * y[:2].mean(0), atol=1e-5)
    assert torch.equal(heads.lang_n_mep_query, torch.tensor([2, 2]))
    heads.save(tmp_path)
    loaded = load_knowledge_heads(tmp_path)
    assert loaded.centered and loaded.languages == ["de", "en"]
    assert torch.allclose(loaded.lang_mean_mep_query, heads.lang_mean_mep_query)
    # probes centre by language code; a language the heads never saw gets the mean of the seen ones
    z = torch.zeros(2, 4)
    out = loaded.center_by_name("mep_query", z, ["en", "fr"])
    assert torch.allclose(out[0], -heads.lang_mean_mep_query[1])
    assert torch.allclose(out[1], -heads.lang_mean_mep_query.mean(0))
    plain = KnowledgeHeads({"mep_query": ProjectionHead(4, 4, 4)}, hidden_size=4, languages=["de"])
    assert not plain.centered and torch.equal(plain.center("mep_query", x, lang, update=True), x)


def test_training_with_language_centering_updates_the_means(recipe_data, world):
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.model import KnowledgeModel, build_heads, build_queues
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    recipe_data["tasks"]["language_centering"] = 0.9
    recipe = PretrainRecipe.model_validate(recipe_data)
    enc, tok = load_masked_lm(str(world[2]))
    src = prepare_sources(recipe, tok)
    heads = build_heads(recipe, 32, src.knowledge.relations, src.knowledge.languages)
    model = KnowledgeModel(enc, heads, build_queues(recipe, 32, torch.Generator().manual_seed(0)), recipe)
    batch = PretrainStream(recipe, src, tok, len(tok)).next()
    model(batch)["loss"].backward()
    seen = set(batch["mep"]["lang"].tolist())
    counts = heads.lang_n_mep_query
    assert {i for i in range(len(counts)) if counts[i] > 0} == seen
    assert heads.lang_n_oe_key.sum() > 0 and heads.languages == src.knowledge.languages
