"""Held-out probing: no XEP/XOR query comes from a sentence or a triple the training stream can draw, and
the probes' held-out sets are the ones `prepare.py` marks and the stream leaves out."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pretrain_helpers as H
from xlmk.pretrain.heldout import below, entity_mask, mention_key, triple_key
from xlmk.pretrain.recipe import PretrainRecipe
from xlmk.probe.lama import Coverage
from xlmk.probe.queries import Split, xep_queries, xor_queries

ROWS, ENTITIES = 0.3, 0.2


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory):
    """The synthetic world with every sentence in two rows (two pages): a held-out row may share its sentence
    with a trained one, which the held-out split must not score."""
    root = tmp_path_factory.mktemp("heldout-world")
    kdir = H.write_knowledge(root / "knowledge", n_entities=24)
    path = kdir / "mentions" / "part-00000.parquet"
    t = pq.read_table(path)
    twin = t.set_column(t.schema.get_field_index("page_title"), "page_title",
                        pa.array([f"{p} (copy)" for p in t["page_title"].to_pylist()]))
    pq.write_table(pa.concat_tables([t, twin]), path)
    return kdir


def _training_draws(kdir, world, tmp_path, steps: int = 60):
    """Everything the training stream can draw (its samplers' pools) and what it drew in `steps` steps."""
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.stream import PretrainStream, prepare_sources

    _, corpus, model, cache = world
    data = H.recipe_dict(model, kdir, corpus, cache, tmp_path / "run")
    data["data"].update(heldout=ROWS, heldout_entities=ENTITIES)
    recipe = PretrainRecipe.model_validate(data)
    _, tok = load_masked_lm(str(model))
    src = prepare_sources(recipe, tok)
    stream = PretrainStream(recipe, src, tok, len(tok))
    kp = src.knowledge
    pools = {n: {int(x) for g in stream.batches[n].examples.sampler.groups.values() for x in g} for n in ("mep", "oe")}
    drawn = {"mep": set(), "oe": set()}
    for _ in range(steps):
        for n in ("mep", "oe"):
            drawn[n] |= {ex["row"] for ex in stream.batches[n].next()}
    mentions = pq.read_table(kdir / "mentions").to_pylist()
    mention_pool = [mentions[int(kp.mention_source[m])] for m in pools["mep"]]
    triple_pool = {m // 1024 for m in pools["oe"]}
    triples = {(kp.qids[kp.triple_s[t]], kp.relations[kp.triple_r[t]], kp.qids[kp.triple_o[t]]) for t in triple_pool}
    assert drawn["mep"] <= pools["mep"] and drawn["oe"] <= triple_pool and drawn["mep"] and drawn["oe"]
    return kp, mentions, mention_pool, triples


def test_no_probe_query_was_seen_by_the_training_stream(shared_world, world, tmp_path):
    kp, mentions, pool, trained_triples = _training_draws(shared_world, world, tmp_path)
    trained_sentences = {(r["lang"], r["text"]) for r in pool}

    # the probes recompute exactly the rows prepare.py marks as held out
    for m in range(len(kp.mention)):
        r = mentions[int(kp.mention_source[m])]
        key = mention_key(r["lang"], r["page_title"], r["start"], r["end"], r["qid"])
        assert bool(kp.mention_heldout[m]) == bool(below([key], ROWS)[0])
    for t in range(len(kp.triple_s)):
        key = triple_key(kp.qids[kp.triple_s[t]], kp.relations[kp.triple_r[t]], kp.qids[kp.triple_o[t]])
        assert bool(kp.triple_heldout[t]) == bool(below([key], ROWS)[0])

    args = dict(languages=None, per_language=100, seed=0, rule="other", candidate_languages=None, oversample=4)
    cov = Coverage()
    xep = xep_queries(shared_world, coverage=cov, split=Split("heldout", ROWS, ENTITIES), **args)
    assert xep and not {(q.language, q.text) for q in xep} & trained_sentences
    dropped = cov.to_dict()["total"]["dropped"].get("sentence also in a training row", 0)
    assert dropped > 0  # the twin rows: held out by their own hash, their sentence trained through the other page
    xor = xor_queries(shared_world, coverage=Coverage(), split=Split("heldout", ROWS, ENTITIES), **args)
    assert xor and not {(q.subject, q.relation, q.gold_qid) for q in xor} & trained_triples

    # zero-shot entities: none of their mentions or subject-triples is in the training pools
    held = {q for q, h in zip(kp.qids, entity_mask(kp.qids, ENTITIES)) if h}
    assert held
    xep_e = xep_queries(shared_world, coverage=Coverage(), split=Split("entities", ROWS, ENTITIES), **args)
    assert xep_e and {q.gold_qid for q in xep_e} <= held
    assert not {r["qid"] for r in pool} & held
    assert not {(q.language, q.text) for q in xep_e} & trained_sentences
    xor_e = xor_queries(shared_world, coverage=Coverage(), split=Split("entities", ROWS, ENTITIES), **args)
    assert xor_e and {q.subject for q in xor_e} <= held and not {s for s, _, _ in trained_triples} & held

    # `all` keeps today's behaviour: trained sentences are among the queries
    everything = xep_queries(shared_world, coverage=Coverage(), split=Split("all", ROWS, ENTITIES), **args)
    assert {(q.language, q.text) for q in everything} & trained_sentences


def test_the_in_batch_check_leaves_out_sentences_a_trained_row_shares(shared_world, world):
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.data import MEPExamples, heldout_examples
    from xlmk.pretrain.prepare import prepare_knowledge

    _, tok = load_masked_lm(str(world[2]))
    kp = prepare_knowledge(shared_world, tok, heldout=ROWS, cache_dir=world[3])
    trained = {kp.mention[int(m)].tobytes() for m in range(len(kp.mention)) if not kp.mention_heldout[m]}
    held = [m for m in range(len(kp.mention)) if kp.mention_heldout[m]]
    exs = heldout_examples(MEPExamples(kp, "other", None, 0), 10_000)
    assert exs and all(ex["ids"].tobytes() not in trained for ex in exs)
    # every sentence is in two rows, so some held-out rows are left out for their trained twin
    assert len(exs) < sum(1 for m in held if len(kp.description_rows(int(kp.mention_qid[m]))) > 1)
