"""XTREME's metrics: the numbers of google-research/xtreme `evaluate_test.py` on its mock submissions
(realdata/xtreme/*/xtreme-mock_test_data), and the known traps, with expected values worked out by the
official logic (SQuAD v1.1 `evaluate_squad.py`, `evaluate.py:bucc_f1`, seqeval 0.0.13 / 1.2.2)."""
from __future__ import annotations

import json

import pytest

from xlmk.downstream.metrics import mlqa_scores, ner_scores, seqeval_scores, squad_normalize, squad_scores
from xlmk.downstream.retrieval import (bucc_extract, bucc_f1, bucc_optimize, best_matches, knn, knn_both, mine_pairs,
                                       normalize, tatoeba_accuracy)
from xlmk.downstream.scoring import score
from xlmk.errors import DataError

# evaluate_test.py TASK2AVG_SCORES at google-research/xtreme f0a334a (UD-POS there = seqeval <= 0.0.13)
XTREME_MOCK = {
    "paws-x": ("pawsx", "de,en,es,fr,ja,ko,zh", "tsv", {"accuracy": 51.42857142857143}),
    "udpos": ("udpos", "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh",
              "tsv", {"f1": 70.21746048354693, "precision": 71.02232625883823, "recall": 69.54982073976082}),
    "bucc": ("bucc2018", "de,fr,ru,zh", "tsv", {"f1": 55.0, "precision": 55.0, "recall": 55.0}),
    "tatoeba": ("tatoeba", "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,"
                "sw,zh,kk,tr,et,fi,hu", "tsv", {"accuracy": 53.611111111111114}),
    "xquad": ("xquad", "en,es,de,el,ru,tr,ar,vi,th,zh,hi", "json",
              {"exact_match": 77.27272727272727, "f1": 79.9586776859504}),
    "tydiqa": ("tydiqa", "en,ar,bn,fi,id,ko,ru,sw,te", "json",
               {"exact_match": 88.88888888888889, "f1": 97.22222222222223}),
}


@pytest.mark.parametrize("task", list(XTREME_MOCK))
def test_score_reproduces_xtreme_evaluate_test(realdata, task):
    folder, langs, suffix, want = XTREME_MOCK[task]
    root = realdata / "xtreme" / folder / "xtreme-mock_test_data"
    got: dict[str, list[float]] = {}
    for lang in langs.split(","):
        scores = score(task, root / "labels" / f"test-{lang}.{suffix}", root / "predictions" / f"test-{lang}.{suffix}")["scores"]
        for metric in want:
            got.setdefault(metric, []).append(scores[metric])
    for metric, value in want.items():
        # the same operations in the same order as evaluate.py: equal, not merely close
        assert sum(got[metric]) / len(got[metric]) == value, metric


def test_udpos_reports_seqeval_1_2_and_token_accuracy_beside_xtremes_f1(realdata):
    root = realdata / "xtreme" / "udpos" / "xtreme-mock_test_data"
    langs = XTREME_MOCK["udpos"][1].split(",")
    rows = [score("udpos", root / "labels" / f"test-{l}.tsv", root / "predictions" / f"test-{l}.tsv")["scores"]
            for l in langs]
    # SOURCES.md: 70.398 with seqeval 1.2.2 on the same files
    assert sum(r["f1_seqeval_1_2"] for r in rows) / len(rows) == pytest.approx(70.398, abs=5e-4)
    assert all(0 <= r["accuracy"] <= 100 for r in rows)
    assert any(r["accuracy"] != r["f1"] for r in rows)


def test_udpos_semantics_differ_exactly_where_seqeval_changed():
    # CCONJ vs SCONJ: seqeval 1.2.2 reads both as type "CONJ" (prefixes C and S), 0.0.13 as two types
    gold, pred = [["CCONJ", "NOUN"]], [["SCONJ", "NOUN"]]
    assert ner_scores(gold, pred, legacy=True)["f1"] == 50.0  # NOUN right, the conjunction wrong
    # 1.2.2: S- opens a one-token chunk of type CONJ, C is no prefix it knows, so the chunks coincide
    assert seqeval_scores(gold, pred)["f1"] == 100.0


# ---------------------------------------------------------------- SQuAD v1.1 traps
@pytest.mark.parametrize("pred, gold, em, f1", [
    ("the Broncos", "Denver Broncos", 0.0, 2 / 3 * 100),          # article dropped: 1 of 1 vs 1 of 2 tokens
    ("Broncos!", "broncos", 100.0, 100.0),                          # case and ASCII punctuation
    ("  Denver\tBroncos ", "Denver Broncos", 100.0, 100.0),         # whitespace
    ("北京大学", "北京", 0.0, 0.0),                                  # no CJK split: one token each, different
    ("«Berlin»", "Berlin", 0.0, 0.0),                               # « » are not ASCII punctuation
    ("an apple", "apple", 100.0, 100.0),
])
def test_squad_metric_traps(pred, gold, em, f1):
    got = squad_scores([("q", [gold])], {"q": pred})
    assert got["exact_match"] == em
    assert got["f1"] == pytest.approx(f1, abs=1e-12)


def test_squad_differs_from_mlqa_on_chinese_and_arabic():
    # MLQA splits Chinese into characters (partial credit) and strips "ال"; SQuAD v1.1 does neither
    assert squad_scores([("q", ["北京"])], {"q": "北京大学"})["f1"] == 0.0
    assert mlqa_scores({"q": ["北京"]}, {"q": "北京大学"}, "zh")["f1"] == pytest.approx(100 * 2 / 3)
    assert squad_scores([("q", ["الكتاب"])], {"q": "كتاب"})["exact_match"] == 0.0
    assert mlqa_scores({"q": ["الكتاب"]}, {"q": "كتاب"}, "ar")["exact_match"] == 100.0


def test_squad_missing_ids_score_zero_and_are_counted():
    got = squad_scores([("a", ["x"]), ("b", ["y"]), ("c", ["z"])], {"a": "x"})
    assert got["unanswered"] == 2 and got["n"] == 3
    assert got["exact_match"] == pytest.approx(100 / 3)


def test_squad_score_cli_counts_missing_and_unknown_ids(realdata, tmp_path):
    gold = realdata / "xtreme" / "xquad" / "xtreme-mock_test_data" / "labels" / "test-en.json"
    qids = [qa["id"] for a in json.loads(gold.read_text())["data"] for p in a["paragraphs"] for qa in p["qas"]]
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({qids[0]: "x", "not-a-question": "y"}))
    got = score("xquad", gold, preds)["scores"]
    assert got["unanswered"] == len(qids) - 1 and got["unknown_ids"] == 1
    assert got["score"] == (got["exact_match"] + got["f1"]) / 2


def test_squad_normalize_is_the_v1_1_script():
    assert squad_normalize("The  Quick, brown fox!") == "quick brown fox"
    assert squad_normalize("theater") == "theater"  # \b keeps words that start with an article


# ---------------------------------------------------------------- BUCC
def test_bucc_f1_counts_a_source_with_several_gold_targets_once_per_pair():
    gold = [("de-1", "en-1"), ("de-1", "en-2"), ("de-2", "en-3")]
    pred = [("de-1", "en-2"), ("de-1", "en-2"), ("de-2", "en-9")]  # duplicates collapse to one pair
    got = bucc_f1(gold, pred)
    # precision 1/2, recall 1/3, F1 = 2 * 1/2 * 1/3 / (5/6) = 0.4
    assert (got["precision"], got["recall"]) == (50.0, pytest.approx(100 / 3))
    assert got["f1"] == pytest.approx(40.0)
    assert bucc_f1(gold, [])["f1"] == 0


def test_bucc_threshold_is_chosen_on_dev_and_survives_the_last_candidate():
    cands = [("a", "x", 0.9), ("b", "y", 0.8), ("c", "z", 0.7)]
    # best cut after the second candidate: halfway between 0.8 and 0.7
    threshold, f1 = bucc_optimize(cands, [("a", "x"), ("b", "y")])
    assert threshold == pytest.approx(0.75) and f1 == 100.0
    # the best cut is the last candidate: XTREME's code reads items[i + 1] and fails; here it keeps it
    threshold, _ = bucc_optimize(cands, [("a", "x"), ("b", "y"), ("c", "z")])
    assert bucc_extract(cands, threshold) == [("a", "x"), ("b", "y"), ("c", "z")]
    with pytest.raises(DataError, match="no dev candidate"):
        bucc_optimize(cands, [("q", "r")])


def test_mining_finds_translations_one_to_one_with_both_scorings():
    import torch

    g = torch.Generator().manual_seed(0)
    trg = torch.randn(50, 16, generator=g)
    perm = torch.randperm(50, generator=g)
    src = trg[perm][:30] + 0.05 * torch.randn(30, 16, generator=g)
    for scoring in ("cosine", "margin"):
        pairs = mine_pairs(src, trg, scoring=scoring, k=4, block=7)
        found = {(s, t) for s, t, _ in pairs}
        assert {(i, int(perm[i])) for i in range(30)} <= found, scoring
        assert len({s for s, _, _ in pairs}) == len(pairs) == len({t for _, t, _ in pairs})
        assert [p[2] for p in pairs] == sorted((p[2] for p in pairs), reverse=True)


def test_margin_demotes_a_hub_that_is_near_everything():
    import torch

    # target 0 is a "hub" close to every source; the true partner of source 0 is target 1
    src = torch.tensor([[1.0, 0.0, 0.2], [0.0, 1.0, 0.2], [-1.0, 0.0, 0.2]])
    trg = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    cos_best, _ = best_matches(src, trg, scoring="cosine")
    margin_best, _ = best_matches(src, trg, scoring="margin", k=2)
    assert cos_best.tolist()[0] == 1 and margin_best.tolist() == [1, 2, 3]


def test_knn_in_blocks_equals_the_full_product_in_both_directions():
    import torch

    g = torch.Generator().manual_seed(1)
    x, y = normalize(torch.randn(37, 8, generator=g)), normalize(torch.randn(23, 8, generator=g))
    sims, inds = knn(x, y, 3, block=5)
    full_s, full_i = torch.topk(x @ y.T, 3, dim=1)
    assert torch.equal(inds, full_i) and torch.allclose(sims, full_s)
    xs, xi, ys, yi = knn_both(x, y, 3, block=5)
    back_s, back_i = torch.topk(y @ x.T, 3, dim=1)
    assert torch.equal(xi, full_i) and torch.equal(yi, back_i) and torch.allclose(ys, back_s)


# ---------------------------------------------------------------- Tatoeba
def test_tatoeba_accuracy_compares_indices_and_reads_xtremes_bracketed_output(tmp_path):
    assert tatoeba_accuracy([3, 1, 2], [3, 2, 2])["accuracy"] == pytest.approx(200 / 3)
    gold, pred = tmp_path / "g.tsv", tmp_path / "p.tsv"
    gold.write_text("3\n1\n2\n")
    pred.write_text("[3]\n[1]\n[0]\n")  # what evaluate_retrieval.py writes with str(p)
    assert score("tatoeba", gold, pred)["scores"]["accuracy"] == pytest.approx(200 / 3)
    pred.write_text("3\n1\n")
    with pytest.raises(DataError, match="2 indices in the predictions but 3"):
        score("tatoeba", gold, pred)
