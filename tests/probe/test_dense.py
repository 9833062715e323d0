"""XEP and XOR on a knowledge directory written in the documented layout, with and without heads."""
import json
import shutil

import pytest
import torch

from xlmk.errors import DataError
from xlmk.pretrain.heads import KnowledgeHeads, ProjectionHead
from xlmk.probe.dense import rank_by_qid
from xlmk.probe.recipe import ProbeRecipe
from xlmk.probe.run import probe
from xlmk.probe.specs import ProbeKnowledgeDir as KnowledgeDir, XepProbe, XorProbe

from probe_support import ENTITIES

N_DESCRIPTIONS = sum(len(d) for d in ENTITIES.values())


def test_rank_by_qid_counts_ties_against_the_model():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    c = torch.tensor([[2.0, 0.0], [1.0, 0.0], [0.5, 5.0], [0.0, 3.0], [1.0, 1.0]])
    codes = torch.tensor([0, 1, 1, 2, 3])  # entity 1 is described twice (two languages)
    gold = torch.tensor([1, 1, 2])
    ranks, tops, _ = rank_by_qid(q, c, codes, gold, top_k=2, block=2)
    # q0: entity 1's best is 1.0; entity 0 (2.0) beats it and entity 3 (1.0) ties it -> rank 3
    # q1: entity 1's best is 5.0 -> rank 1;  q2: entity 2 scores 3.0, entity 1 scores 5.5 -> rank 2
    assert ranks == [3, 1, 2]
    assert tops[1] == [2, 3]
    # leaving entity 0 out (a filtered ranking) lifts q0 to rank 2
    ranks, _, _ = rank_by_qid(q, c, codes, gold, exclude=[[0], [], []])
    assert ranks == [2, 1, 2]
    with pytest.raises(DataError, match="missing from the candidate list"):
        rank_by_qid(q, c, codes, torch.tensor([9, 1, 1]))


def _with_heads(model_dir, tmp_path, *, relations=("P17", "P36"), zero_key=None):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(model_dir, ckpt)
    h = 32
    torch.manual_seed(0)
    heads = KnowledgeHeads({n: ProjectionHead(h, h, h) for n in ("mep_query", "mep_key", "oe_query", "oe_key")},
                           relation_ids=list(relations), hidden_size=h, meta={"mep_layer": 1, "oe_layer": -1, "mention_mask": "per-token"})
    if zero_key:
        with torch.no_grad():
            heads.heads[zero_key].net[-1].weight.zero_()
    heads.save(ckpt)
    return ckpt


def _probe(spec, model_path, tmp_path, name="run"):
    rec = ProbeRecipe(name=spec.kind, encoder={"kind": "hf-masked-lm", "path": str(model_path)}, probe=spec,
                      run={"cache_dir": str(tmp_path / "cache"), "batch_size": 3})
    res = probe(rec, out_dir=tmp_path / name)
    preds = [json.loads(x) for x in res.files["predictions"].read_text().splitlines()]
    return {(r.subset, r.language, r.metric): r for r in res.rows}, res, preds


def test_xep_raw_states_cache_and_coverage(model_dir, kdir, tmp_path):
    spec = XepProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=10, candidates=1000)
    rows, res, preds = _probe(spec, model_dir, tmp_path)
    assert res.info["protocol"] == "raw-states" and "no MEP heads" in res.info["representation"]
    assert res.info["n_candidates"] == N_DESCRIPTIONS and not res.info["candidate_embeddings_cached"]
    en = rows[("XEP", "en", "accuracy")]
    # Madrid (Q7) is described in English only: no cross-lingual gold, so that sentence is dropped
    assert en.n == 4 and en.extra["coverage"]["dropped"] == {"entity not described in another language": 1}
    assert rows[("XEP", "de", "accuracy")].n == 3
    for p in preds:
        assert p["gold_lang"] != p["language"] and 1 <= p["rank"] <= N_DESCRIPTIONS and p["correct"] == (p["rank"] == 1)
    avg = rows[("XEP/avg", None, "accuracy")]
    assert avg.value == pytest.approx((en.value + rows[("XEP", "de", "accuracy")].value) / 2)
    assert 0 <= rows[("XEP/avg", None, "mrr")].value <= 1 and avg.data_hash

    # the second run reads the candidate embeddings from the cache and gives the same numbers
    rows2, res2, _ = _probe(spec, model_dir, tmp_path, name="run2")
    assert res2.info["candidate_embeddings_cached"]
    assert list((tmp_path / "cache" / "probe-embeddings").glob("*.safetensors"))
    assert {k: r.value for k, r in rows2.items()} == {k: r.value for k, r in rows.items()}


def test_xep_uses_the_heads_and_ties_count_against_the_model(model_dir, kdir, tmp_path):
    """A zeroed mep_key makes every candidate score 0: each query ties with every other entity's description."""
    ckpt = _with_heads(model_dir, tmp_path, zero_key="mep_key")
    spec = XepProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=10, candidates=1000)
    rows, res, preds = _probe(spec, ckpt, tmp_path)
    assert res.info["protocol"] == "heads" and res.info["representation"].startswith("mep_query")
    assert res.info["layer"] == 1 and res.info["mention_mask"] == "per-token"  # as the heads were trained (their meta)
    for p in preds:
        assert p["rank"] == 1 + N_DESCRIPTIONS - len(ENTITIES[p["gold_qid"]])
    assert rows[("XEP/avg", None, "accuracy")].value == 0.0
    # use_heads: false falls back to raw states, and says so
    _, raw, _ = _probe(spec.model_copy(update={"use_heads": False}), ckpt, tmp_path, name="raw")
    assert raw.info["protocol"] == "raw-states" and "use_heads: false" in raw.info["representation"]


def test_xor_adds_the_relation_embedding(model_dir, kdir, tmp_path):
    ckpt = _with_heads(model_dir, tmp_path)
    heads_file = ckpt / "xlmk_heads.safetensors"
    from safetensors.torch import load_file, save_file

    state = load_file(str(heads_file))
    # a relation embedding far larger than any state: the relation alone decides each query's ranking
    state["relations.weight"] = torch.zeros_like(state["relations.weight"])
    state["relations.weight"][0, 0] = state["relations.weight"][1, 1] = 1e4
    save_file(state, str(heads_file), metadata={"format": "1"})
    spec = XorProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=10, candidates=1000, languages=["en", "de"])
    rows, res, preds = _probe(spec, ckpt, tmp_path)
    assert res.info["protocol"] == "heads+relation" and res.info["layer"] == -1
    # P31 is unknown to the heads: its triple is dropped and counted
    assert rows[("XOR", "en", "accuracy")].extra["coverage"]["dropped"] == {"relation unknown to the checkpoint's heads": 2}
    tops = {rel: {p["predictions"][0]["qid"] for p in preds if p["relation"] == rel} for rel in ("P17", "P36")}
    assert len(tops["P17"]) == 1 and len(tops["P36"]) == 1 and tops["P17"] != tops["P36"]
    # without the relation, the subject alone decides, and the report says so
    _, alone, preds2 = _probe(spec.model_copy(update={"use_relation": False}), ckpt, tmp_path, name="alone")
    assert alone.info["protocol"] == "heads" and "subject alone" in alone.info["representation"]
    assert [p["predictions"][0]["score"] for p in preds2] != [p["predictions"][0]["score"] for p in preds]


def test_xor_filtered_ranking_leaves_other_true_objects_out(model_dir, kdir, tmp_path):
    """With oe_key zeroed every candidate ties: a query's rank is 1 + the descriptions of other entities
    in the list, minus, when filtered, those of the subject's other objects for that relation."""
    ckpt = _with_heads(model_dir, tmp_path, relations=("P17", "P36", "P31"), zero_key="oe_key")
    spec = XorProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=20, candidates=1000, languages=["en"])
    _, _, raw = _probe(spec, ckpt, tmp_path)
    _, _, filtered = _probe(spec.model_copy(update={"filtered": True}), ckpt, tmp_path, name="filtered")
    other = {("Q1", "P31", "Q3"): "Q5", ("Q1", "P31", "Q5"): "Q3"}
    assert {(p["subject"], p["relation"], p["gold_qid"]) for p in raw} >= set(other)
    for p, f in zip(raw, filtered):
        key = (p["subject"], p["relation"], p["gold_qid"])
        assert p["rank"] == 1 + N_DESCRIPTIONS - len(ENTITIES[p["gold_qid"]])
        assert f["rank"] == p["rank"] - (len(ENTITIES[other[key]]) if key in other else 0)


def test_xor_without_heads_and_gold_rules(model_dir, kdir, tmp_path):
    spec = XorProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=2, candidates=1000, gold_description="same")
    rows, res, preds = _probe(spec, model_dir, tmp_path)
    assert res.info["protocol"] == "raw-states" and "no OE heads" in res.info["representation"]
    assert all(p["gold_lang"] == p["language"] for p in preds)
    assert rows[("XOR", "en", "accuracy")].n == 2  # capped by queries_per_language
    # deterministic: the same seed draws the same queries
    _, _, again = _probe(spec, model_dir, tmp_path, name="again")
    assert [(p["subject"], p["relation"], p["language"]) for p in again] == [(p["subject"], p["relation"], p["language"]) for p in preds]


def test_candidate_list_too_small_for_the_gold_answers(model_dir, kdir, tmp_path):
    from xlmk.errors import XlmkError

    spec = XepProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=10, candidates=2)
    with pytest.raises(XlmkError, match="more than the list size 2"):
        _probe(spec, model_dir, tmp_path)


def test_xep_centres_states_by_language_as_the_heads_were_trained(model_dir, kdir, tmp_path):
    """Heads trained with language centering carry each language's mean; the probe subtracts it from
    queries and candidates before the heads, and its predictions change with the means."""
    ckpt = tmp_path / "centred"
    shutil.copytree(model_dir, ckpt)
    h = 32
    torch.manual_seed(0)
    heads = KnowledgeHeads({n: ProjectionHead(h, h, h) for n in ("mep_query", "mep_key")}, hidden_size=h,
                           languages=["de", "en", "zh"], center_momentum=0.99, meta={"mep_layer": -1})
    with torch.no_grad():
        heads.lang_n_mep_query.fill_(1)
        heads.lang_n_mep_key.fill_(1)
        heads.lang_mean_mep_key.copy_(torch.randn(3, h) * 5)
    heads.save(ckpt)
    spec = XepProbe(knowledge=KnowledgeDir(path=str(kdir)), split="all", queries_per_language=10, candidates=1000)
    _, centred, preds = _probe(spec, ckpt, tmp_path, name="centred")
    assert centred.info["language_centered"]
    with torch.no_grad():
        heads.lang_mean_mep_key.zero_()
    heads.save(ckpt)
    _, plain, preds0 = _probe(spec, ckpt, tmp_path, name="zero-means")
    # zero means: the same numbers as no centering; other means: other candidate vectors, other rankings
    assert [p["predictions"] for p in preds] != [p["predictions"] for p in preds0]
