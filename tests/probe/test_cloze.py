"""LAMA and mLAMA scoring pinned on hand-built cases whose answers are known."""
import json
import math

import pytest
import torch

from xlmk.probe.cloze import object_tokens, word_piece_id
from xlmk.probe.lama import Coverage, Fact
from xlmk.probe.recipe import ProbeRecipe
from xlmk.probe.run import probe
from xlmk.probe.scoring import MaskedLMScorer
from xlmk.probe.specs import DataDir, LamaProbe, MLamaProbe

from probe_support import make_model, make_tokenizer, pin_head, write_jsonl

BIAS = {"Paris": 5.0, "Berlin": 4.0, "Rome": 4.0, "London": 3.0}


@pytest.fixture(scope="module")
def pinned(tok):
    """Logits equal BIAS at every position: Paris wins, Berlin and Rome tie second."""
    return pin_head(make_model(tok), {tok.convert_tokens_to_ids("▁" + w): v for w, v in BIAS.items()})


@pytest.fixture()
def lama_dir(tmp_path):
    write_jsonl(tmp_path / "relations.jsonl", [
        {"relation": "P1", "template": "[X] is located in [Y] .", "type": "N-1"},
        {"relation": "P2", "template": "[X] is the capital of [Y] .", "type": "1-1"},
    ])
    write_jsonl(tmp_path / "TREx" / "P1.jsonl", [{"sub_label": s, "obj_label": "Paris"} for s in ("a", "the", "city")])
    write_jsonl(tmp_path / "TREx" / "P2.jsonl", [
        {"sub_label": "a", "obj_label": "Berlin"},
        {"sub_label": "the", "obj_label": "Rome"},
        {"sub_label": "a", "obj_label": "Berlin"},       # the same (subject, object) again
        {"sub_label": "a", "obj_label": "Khatchig"},     # not one token of the model
    ])
    return tmp_path


def _run(spec, tok, model, tmp_path):
    res = probe(ProbeRecipe(name="t", probe=spec), out_dir=tmp_path / "run", model=model, tokenizer=tok,
                overwrite=True)  # each call replaces the previous run of the model in the directory
    return {(r.subset, r.metric): r for r in res.rows}, res


def test_p_at_1_is_pinned_and_total_is_the_relation_mean(tok, pinned, lama_dir, tmp_path):
    rows, res = _run(LamaProbe(data=DataDir(path=str(lama_dir)), corpora=["TREx"]), tok, pinned, tmp_path)
    assert rows[("TREx/P1", "p@1")].value == 100.0 and rows[("TREx/P1", "p@1")].n == 3
    # Berlin and Rome tie behind Paris: each is ranked 3rd (ties count against the model)
    assert rows[("TREx/P2", "p@1")].value == 0.0 and rows[("TREx/P2", "p@10")].value == 100.0
    assert rows[("TREx/P2", "mrr")].value == pytest.approx(1 / 3)
    total = rows[("TREx/Total", "p@1")]
    assert total.value == 50.0 and total.n == 5 and total.extra["n_relations"] == 2
    assert total.value != 100.0 * 3 / 5  # the fact mean would be 60
    assert rows[("TREx/N-1", "p@1")].value == 100.0 and rows[("TREx/1-1", "p@1")].value == 0.0
    # coverage: the duplicate and the multi-token object are counted, not lost
    assert rows[("TREx/P2", "p@1")].extra["coverage"] == {
        "read": 4, "kept": 2, "dropped": {"duplicate (subject, object)": 1, "object is not one token of the model": 1}}
    preds = [json.loads(line) for line in res.files["predictions"].read_text().splitlines()]
    assert len(preds) == 5 and {p["rank"] for p in preds if p["object"] == "Berlin"} == {3}
    assert [p["token"] for p in preds[0]["predictions"][:1]] == ["Paris"]
    assert preds[0]["sentences"][0].endswith("is located in <mask> .")
    row = rows[("TREx/Total", "p@1")]
    assert row.name == "lama" and row.version >= 1 and row.seed == 0 and row.data_hash and row.protocol == "lama-single-token"


def test_mrr_cutoff_and_common_vocabulary(tok, pinned, lama_dir, tmp_path):
    rows, _ = _run(LamaProbe(data=DataDir(path=str(lama_dir)), corpora=["TREx"], mrr_cutoff=2), tok, pinned, tmp_path)
    assert rows[("TREx/P2", "mrr")].value == 0.0  # rank 3 is beyond the cutoff
    vocab = tmp_path / "common.txt"
    vocab.write_text("Paris\nRome\nMadrid\nnotaword\n")
    rows, _ = _run(LamaProbe(data=DataDir(path=str(lama_dir)), corpora=["TREx"], common_vocab=str(vocab)), tok, pinned, tmp_path)
    p2 = rows[("TREx/P2", "p@1")]
    assert p2.n == 1 and p2.extra["coverage"]["dropped"] == {"object not in the common vocabulary": 3}
    # within {Paris, Rome, Madrid} Rome is second: Berlin's tie no longer counts
    assert rows[("TREx/P2", "mrr")].value == pytest.approx(0.5)
    assert "common vocabulary (4 words)" in p2.extra["ranking"]


def test_head_on_masks_only_matches_the_full_forward(tok):
    model = make_model(tok, seed=3)
    scorer = MaskedLMScorer(model, tok, batch_size=2)
    sentences = [["Paris is the capital of [MASK] ."], ["a [MASK] was born in London ."], ["[MASK] died ."]]
    items = [scorer.encode(s) for s in sentences]
    gold = [tok.convert_tokens_to_ids("▁Germany")] * 3
    fast = scorer.rank_single(items, gold, top_k=5)
    scorer._head = None  # force the full forward
    slow = scorer.rank_single(items, gold, top_k=5)
    for a, b in zip(fast, slow):
        assert a.rank == b.rank and a.top_ids == b.top_ids
        assert a.gold_log_prob == pytest.approx(b.gold_log_prob, abs=1e-5)


def test_multi_token_score_is_the_mean_log_probability(tok):
    """Against a by-hand computation from the full model's logits at each mask."""
    model = make_model(tok, seed=1)
    scorer = MaskedLMScorer(model, tok)
    cands = {k: torch.tensor(v) for k, v in {1: [[10], [11]], 3: [[5, 6, 7], [7, 7, 20]]}.items()}
    items = [scorer.encode(["Paris is in [MASK] ."], n_masks=k) for k in cands]
    got = scorer.score_candidates(items, list(cands.values()))
    for (k, table), enc, scores in zip(cands.items(), items, got):
        with torch.no_grad():
            lp = torch.log_softmax(model(input_ids=torch.tensor([enc.input_ids])).logits[0], -1)
        masks = [i for i, t in enumerate(enc.input_ids) if t == tok.mask_token_id]
        assert len(masks) == k
        for c, s in zip(table.tolist(), scores.tolist()):
            assert s == pytest.approx(sum(lp[m, t].item() for m, t in zip(masks, c)) / k, abs=1e-5)


def test_mlama_ranks_candidates_by_mean_log_probability(tok, pinned, tmp_path):
    write_jsonl(tmp_path / "en" / "templates.jsonl", [{"relation": "P36", "template": "[X] is the capital of [Y] ."}])
    write_jsonl(tmp_path / "en" / "P36.jsonl", [{"sub_label": "a", "obj_label": "Paris"}, {"sub_label": "the", "obj_label": "Xyz"},
                                                 {"sub_label": "city", "obj_label": "London"}])
    write_jsonl(tmp_path / "en" / "P17.jsonl", [{"sub_label": "a", "obj_label": "Paris"}])  # no template
    rows, res = _run(MLamaProbe(data=DataDir(path=str(tmp_path))), tok, pinned, tmp_path)
    preds = {p["object"]: p for p in map(json.loads, res.files["predictions"].read_text().splitlines())}
    lse = math.log(math.exp(5) + 2 * math.exp(4) + math.exp(3) + (len(tok) - 4))
    # candidates are the relation's objects: Paris (1 token), London (1), Xyz (several pieces scored 0)
    assert preds["Paris"]["rank"] == 1 and preds["London"]["rank"] == 2 and preds["Xyz"]["rank"] == 3
    assert preds["Paris"]["gold_score"] == pytest.approx(5 - lse, abs=1e-4)
    assert preds["Xyz"]["gold_score"] == pytest.approx(0 - lse, abs=1e-4)
    assert rows[("mLAMA/P36", "p@1")].value == pytest.approx(100 / 3)
    assert rows[("mLAMA/Total", "p@1")].language == "en"
    assert rows[("mLAMA/P36", "p@1")].extra["coverage"]["read"] == 3
    assert res.coverage["total"]["dropped"] == {"template missing": 1}


def test_objects_as_tokens(tok):
    zh = make_tokenizer(words=["Paris", "曼谷"])
    assert word_piece_id(tok, "Paris") == tok.convert_tokens_to_ids("▁Paris")
    assert word_piece_id(tok, "Khatchig") is None and word_piece_id(tok, "Par") is None
    # glued to the previous character (zh), an object does not start with a bare '▁'
    glued = object_tokens(zh, "曼谷", spaced=False)
    assert zh.convert_ids_to_tokens(glued)[0] != "▁"
    assert len(object_tokens(zh, "Paris", spaced=True)) == 1


def test_facts_beyond_the_model_length_are_dropped(tok, pinned):
    scorer = MaskedLMScorer(pinned, tok)
    long = Fact("TREx", "P1", "en", "a", "Paris", ["the " * 200 + "[MASK] ."], "u", "x:1")
    cov = Coverage()
    from xlmk.probe.cloze import run_lama

    scores, preds = run_lama([long], {"TREx": {"P1": {"type": "N-1"}}}, cov, scorer)
    assert preds == [] and cov.entry(("TREx", "P1", "en"))["dropped"] == {"longer than the model's maximum length": 1}
