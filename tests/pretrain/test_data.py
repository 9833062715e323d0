"""Examples and batches: tokenized mentions, cross-lingual pairing, language sampling, MLM masking,
length bucketing and the exact data position a checkpoint restores."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

import pretrain_helpers as H
from xlmk.errors import DataError
from xlmk.pretrain.data import (
    BucketedBatches,
    LanguageSampler,
    MEPExamples,
    MLMExamples,
    OEExamples,
    TokenInfo,
    collate_mep,
    heldout_examples,
    mask_tokens,
    masked_mention,
)
from xlmk.pretrain.prepare import prepare_corpus, prepare_knowledge, window


def test_mention_span_covers_exactly_the_anchor(prepared, tokenizer, world):
    kdir = world[0]
    rows = pq.read_table(kdir / "mentions").to_pylist()
    assert len(prepared.mention) == len(rows) and prepared.meta["counts"]["mentions_dropped"] == 0
    assert prepared.mention_source.tolist() == list(range(len(rows)))
    for i in range(0, len(rows), 7):
        ids = prepared.mention[i]
        a, b = prepared.mention_span[i]
        anchor = rows[i]["text"][rows[i]["start"]:rows[i]["end"]]
        assert tokenizer.decode(ids[a:b]).strip() == anchor
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert prepared.qids[prepared.mention_qid[i]] == rows[i]["qid"]


def test_prepare_is_cached_and_keyed_by_its_inputs(prepared, tokenizer, world):
    kdir, _, _, cache = world
    again = prepare_knowledge(kdir, tokenizer, heldout=0.1, cache_dir=cache)
    assert again.root == prepared.root
    other = prepare_knowledge(kdir, tokenizer, heldout=0.3, cache_dir=cache)
    assert other.root != prepared.root
    # the held-out split is a hash of the row: the same rows every time, and a larger share holds more
    assert np.array_equal(again.mention_heldout, prepared.mention_heldout)
    assert other.mention_heldout.sum() > prepared.mention_heldout.sum() > 0
    assert (prepared.mention_heldout & ~other.mention_heldout).sum() == 0


def test_cross_lingual_pairing_never_uses_the_sentence_language(prepared):
    src = MEPExamples(prepared, "other", alpha=0.3, seed=1)
    seen = set()
    for _ in range(400):
        ex = src.draw()
        assert ex["desc_lang"] != ex["lang"]
        seen.add((ex["lang"], ex["desc_lang"]))
        assert prepared.desc_qid[np.flatnonzero(prepared.desc_qid == ex["qid"])].size >= 2
    # every ordered pair of distinct languages occurs: the other language is drawn, not fixed
    assert len(seen) == 6
    same = MEPExamples(prepared, "same", alpha=0.3, seed=1)
    assert all(ex["desc_lang"] == ex["lang"] for ex in (same.draw() for _ in range(100)))


def test_monolingual_entities_are_left_out_of_cross_lingual_pairs(tmp_path, tokenizer):
    kdir = H.write_knowledge(tmp_path / "k", monolingual=(0, 1, 2))
    kp = prepare_knowledge(kdir, tokenizer, cache_dir=tmp_path / "cache")
    mono = {kp.qids.index(q) for q in ("Q100", "Q101", "Q102")}
    src = MEPExamples(kp, "other", alpha=1.0, seed=0)
    drawn = [src.draw() for _ in range(300)]
    # an English sentence about an entity described in English only has no cross-lingual pair
    assert not any(ex["qid"] in mono and ex["lang"] == "en" for ex in drawn)
    # a German or French sentence about it pairs with the English description
    assert any(ex["qid"] in mono for ex in drawn)
    assert all(ex["desc_lang"] == "en" for ex in drawn if ex["qid"] in mono)
    # the monolingual ablation may use them, but only with descriptions in the sentence's language
    same = MEPExamples(kp, "same", alpha=1.0, seed=0)
    drawn = [same.draw() for _ in range(300)]
    assert any(ex["qid"] in mono for ex in drawn) and all(ex["desc_lang"] == ex["lang"] for ex in drawn)


def test_object_entailment_pairs_cross_languages(prepared):
    src = OEExamples(prepared, "other", alpha=0.3, seed=2)
    for _ in range(200):
        ex = src.draw()
        obj_lang = prepared.languages[int(prepared.desc_lang[_row_of(prepared, ex["obj"])])]
        assert obj_lang != ex["lang"]
        assert ex["rel"] in (0, 1)


def _row_of(kp, ids):
    return next(i for i in range(len(kp.desc)) if np.array_equal(kp.desc[i], ids))


def test_language_sampling_follows_p_to_the_alpha():
    groups = {"en": np.arange(900), "de": np.arange(90), "sw": np.arange(10)}
    s = LanguageSampler(groups, alpha=0.3, seed=0, salt=1)
    counts = {k: 0 for k in groups}
    for _ in range(6000):
        counts[s.draw()[0]] += 1
    w = {k: (len(v) / 1000) ** 0.3 for k, v in groups.items()}
    for k in groups:
        assert counts[k] / 6000 == pytest.approx(w[k] / sum(w.values()), abs=0.02)
    # within a language, an epoch is a permutation: the first 10 'sw' draws are its 10 items
    s2 = LanguageSampler({"sw": np.arange(10)}, alpha=0.3, seed=0, salt=1)
    assert sorted(s2.draw()[1] for _ in range(10)) == list(range(10))


def test_mlm_masking_is_xlmr_style():
    info = TokenInfo(pad=1, mask=99, cls=0, sep=2, vocab_size=100, specials=np.array([0, 1, 2, 3, 99]),
                     normal_ids=np.arange(4, 99))
    rng = np.random.default_rng(0)
    seq = np.concatenate([[0], np.arange(4, 84).repeat(25), [2]])  # 2000 ordinary tokens
    ids, labels = mask_tokens(seq, rng, info, 0.15)
    chosen = labels != -100
    assert chosen.sum() == pytest.approx(300, abs=1)
    assert not chosen[0] and not chosen[-1]  # special tokens are never predicted
    assert np.array_equal(labels[chosen], seq[chosen])
    masked, kept = (ids[chosen] == 99).mean(), (ids[chosen] == seq[chosen]).mean()
    assert masked == pytest.approx(0.8, abs=0.06) and kept == pytest.approx(0.1, abs=0.05)
    assert np.array_equal(ids[~chosen], seq[~chosen])


def test_mention_masking_span_and_per_token():
    info = TokenInfo(pad=1, mask=9, cls=0, sep=2, vocab_size=10, specials=np.array([0, 1, 2, 9]),
                     normal_ids=np.arange(3, 9))
    ids = np.array([0, 5, 6, 7, 8, 2])
    out, pos = masked_mention(ids, (2, 4), "span", 16, info)
    assert out.tolist() == [0, 5, 9, 8, 2] and pos == 2
    out, pos = masked_mention(ids, (2, 4), "per-token", 16, info)
    assert out.tolist() == [0, 5, 9, 9, 8, 2] and pos == 2
    # a long sentence is cut to a window around the mention, <s> and </s> kept
    long = np.array([0, *range(10, 40), 2])
    out, span = window(long, (20, 22), 10)
    assert len(out) == 10 and out[0] == 0 and out[-1] == 2 and out[span[0]:span[1]].tolist() == [29, 30]


def test_collate_mep_points_at_the_mask(prepared, tokenizer):
    info = TokenInfo.of(tokenizer, len(tokenizer))
    exs = [MEPExamples(prepared, "other", 0.3, 0).draw() for _ in range(4)]
    b = collate_mep(exs, info, "span", 32)
    rows = b["input_ids"][range(4), b["query_pos"]]
    assert (rows == tokenizer.mask_token_id).all()
    assert (b["desc_ids"][:, 0] == tokenizer.cls_token_id).all()


def _padding(batches):
    return sum(len(b) * max(x["length"] for x in b) - sum(x["length"] for x in b) for b in batches)


def test_length_bucketing_cuts_padding(prepared, world, tokenizer):
    corpus = prepare_corpus(sorted(world[1].glob("*.txt")), tokenizer, max_length=32, cache_dir=world[3])
    mk = lambda: MLMExamples(corpus, prepared, ["corpus", "descriptions"], 0.3, 0)  # noqa: E731
    plain = BucketedBatches(mk(), 4, 1, 0, 1)
    bucketed = BucketedBatches(mk(), 4, 8, 0, 1)
    assert _padding([bucketed.next() for _ in range(16)]) < 0.5 * _padding([plain.next() for _ in range(16)])


def test_data_position_restores_exactly(prepared):
    def batches():
        return BucketedBatches(MEPExamples(prepared, "other", 0.3, 5), 4, 3, 5, 2)

    a = batches()
    for _ in range(4):  # stop in the middle of the second pool
        a.next()
    state = a.state_dict()
    rest = [[ex["key"] for ex in a.next()] for _ in range(5)]
    b = batches()
    b.load_state_dict(state)
    assert [[ex["key"] for ex in b.next()] for _ in range(5)] == rest


def test_heldout_examples_are_never_trained_on(prepared):
    train = MEPExamples(prepared, "other", 0.3, 0)
    held = heldout_examples(MEPExamples(prepared, "other", None, 0), limit=100)
    assert held and all(prepared.mention_heldout[ex["row"]] for ex in held)
    assert not any(prepared.mention_heldout[train.draw()["row"]] for _ in range(300))
    oe = heldout_examples(OEExamples(prepared, "other", None, 0), limit=100)
    assert all(prepared.triple_heldout[ex["row"]] for ex in oe)


def test_a_knowledge_dir_without_what_the_recipe_needs_is_refused(tmp_path, tokenizer):
    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import check_knowledge

    kdir = H.write_knowledge(tmp_path / "k", with_mentions=False)
    kp = prepare_knowledge(kdir, tokenizer, cache_dir=tmp_path / "c")
    recipe = PretrainRecipe.model_validate({"name": "x", "data": {"knowledge": {"kind": "knowledge-dir", "path": str(kdir)}},
                                            "tasks": {"mlm": None, "oe": None}})
    with pytest.raises(DataError, match=r"tasks\.mep needs mentions.*" + str(kdir.name)):
        check_knowledge(recipe, kp, kdir)
    mono = H.write_knowledge(tmp_path / "m", langs=("en",))
    kp = prepare_knowledge(mono, tokenizer, cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="two or more languages"):
        check_knowledge(recipe, kp, mono)
    with pytest.raises(DataError, match="manifest.json"):
        prepare_knowledge(tmp_path, tokenizer, cache_dir=tmp_path / "c")
