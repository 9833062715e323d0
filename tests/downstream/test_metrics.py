"""Metric conformance: the official MLQA script's numbers, conlleval's published figures, XTREME's
mock values, and agreement between seqeval and the own chunker on real tag sequences."""
from __future__ import annotations

import json
import random

import pytest

from xlmk.downstream.metrics import (accuracy, entity_spans, mlqa_normalize, mlqa_scores, ner_scores,
                                     seqeval_scores, squad_golds)
from xlmk.downstream.readers import read_ner, read_nli
from xlmk.errors import ConfigError, DataError

MLQA_LANGS = ["ar", "de", "en", "es", "hi", "vi", "zh"]
XNLI_LABELS = ["entailment", "neutral", "contradiction"]


def _mlqa_file(realdata, split, lang):
    root = realdata / "mlqa" / "xglue_subset"
    gold = json.loads((root / split / f"{split}-context-{lang}-question-{lang}.json").read_text())
    preds = json.loads((root / "unicoder_predictions" / f"{split}-{lang}.json").read_text())
    return squad_golds(gold), preds


@pytest.mark.parametrize("split", ["dev", "test"])
def test_mlqa_reproduces_the_official_script_on_unicoder_predictions(realdata, split):
    expected = json.loads((realdata / "mlqa" / "xglue_subset" / "expected_official_scores.json").read_text())
    ems, f1s = [], []
    for lang in MLQA_LANGS:
        golds, preds = _mlqa_file(realdata, split, lang)
        got = mlqa_scores(golds, preds, lang)
        want = expected[f"{split}-{lang}"]
        # the same operations in the same order: equal to the last bit, not merely close
        assert got["exact_match"] == want["exact_match"], lang
        assert got["f1"] == want["f1"], lang
        ems.append(got["exact_match"])
        f1s.append(got["f1"])
    assert sum(ems) / 7 == pytest.approx(expected[f"{split}-avg"]["exact_match"], abs=1e-9)
    assert sum(f1s) / 7 == pytest.approx(expected[f"{split}-avg"]["f1"], abs=1e-9)


def test_mlqa_matches_xtreme_mock_values(realdata, expected):
    want = expected["xtreme_mock"]["mlqa_test_7langs"]
    ems, f1s = [], []
    for lang, values in want["per_lang"].items():
        golds = squad_golds(json.loads((realdata / "xtreme_mock/labels/mlqa" / f"test-{lang}.json").read_text()))
        preds = json.loads((realdata / "xtreme_mock/predictions/mlqa" / f"test-{lang}.json").read_text())
        got = mlqa_scores(golds, preds, lang)
        assert got["exact_match"] == pytest.approx(values["exact_match"], abs=1e-9), lang
        assert got["f1"] == pytest.approx(values["f1"], abs=1e-9), lang
        ems.append(got["exact_match"])
        f1s.append(got["f1"])
    assert sum(f1s) / len(f1s) == pytest.approx(want["avg_f1"], abs=1e-9)
    assert sum(ems) / len(ems) == pytest.approx(want["avg_exact_match"], abs=1e-9)


def test_mlqa_chinese_is_segmented_per_character_unlike_squad(realdata, expected):
    # the SQuAD script scores test-zh 0.0 where the MLQA script gives 35.7: per-character segmentation
    golds, preds = _mlqa_file(realdata, "test", "zh")
    assert mlqa_scores(golds, preds, "zh")["f1"] == pytest.approx(
        expected["mlqa_xglue_subset_squad_script_contrast"]["test-zh"]["mlqa_script_f1"], abs=1e-12)
    assert mlqa_normalize("北京大学, Peking University!", "zh") == "北 京 大 学 peking university"


def test_mlqa_normalisation_rules():
    assert mlqa_normalize("The «Quick» brown fox—jumps!", "en") == "quick brown foxjumps"
    assert mlqa_normalize("¿Dónde está la casa?", "es") == "dónde está casa"
    assert mlqa_normalize("Der Hund und die Katze", "de") == "hund und katze"
    # the script's Arabic quirk: every "ال" goes, inside words too
    assert mlqa_normalize("الكتاب في المكتبة", "ar") == "كتاب في مكتبة"
    assert mlqa_normalize("मैं घर जा रहा हूँ।", "hi") == "मैं घर जा रहा हूँ"
    with pytest.raises(ConfigError, match="mlqa_normalization has no language 'xx'"):
        mlqa_normalize("text", "xx")


def test_mlqa_unanswered_questions_score_zero_and_are_counted():
    golds = {"q1": ["Paris"], "q2": ["the Seine", "Seine river"]}
    got = mlqa_scores(golds, {"q2": "Seine"}, "en")
    assert got["unanswered"] == 1 and got["exact_match"] == 50.0
    assert got["f1"] == pytest.approx(50.0)  # max over golds: "seine" vs "seine" = 1.0
    with pytest.raises(DataError, match="no questions"):
        mlqa_scores({}, {}, "en")


def test_xnli_accuracy_matches_xtreme_mock(realdata, expected):
    accs = []
    for f in sorted((realdata / "xtreme_mock/labels/xnli").glob("test-*.tsv")):
        gold = read_nli(f, XNLI_LABELS, {})[None]
        pred = read_nli(realdata / "xtreme_mock/predictions/xnli" / f.name, XNLI_LABELS, {})[None]
        accs.append(accuracy([g.label for g in gold], [p.label for p in pred])["accuracy"])
    assert len(accs) == 15
    assert sum(accs) / 15 == pytest.approx(expected["xtreme_mock"]["xnli_test_15langs"]["avg_accuracy"], abs=1e-9)


def test_xnli_accuracy_of_unicoder_on_xglue_dev(realdata):
    root = realdata / "xnli" / "xglue_format"
    for gold_file in sorted(root.glob("*.dev")):
        lang = gold_file.stem
        gold = read_nli(gold_file, XNLI_LABELS, {})[None]
        pred = read_nli(root / "unicoder_predictions_head" / f"{lang}.dev.prediction", XNLI_LABELS, {})[None]
        got = accuracy([g.label for g in gold], [p.label for p in pred])["accuracy"]
        assert got == (50.0 if lang == "ur" else 100.0), lang
    with pytest.raises(DataError, match="2 gold labels but 1"):
        accuracy(["neutral", "neutral"], ["neutral"])


def _conll2000(realdata):
    sents = read_ner(realdata / "ner" / "seqeval_conll2000_chunking" / "ground_truth.txt", "conll")
    gold, pred = [], []
    # columns: word POS gold pred; read_ner keeps the last column, so read the gold one separately
    lines = (realdata / "ner" / "seqeval_conll2000_chunking" / "ground_truth.txt").read_text().splitlines()
    cols = [ln.split() for ln in lines if ln.strip()]
    it = iter(cols)
    for s in sents:
        rows = [next(it) for _ in s.tokens]
        gold.append([r[2] for r in rows])
        pred.append([r[3] for r in rows])
    return gold, pred


def test_ner_reproduces_conlleval_published_figures(realdata, expected):
    want = expected["seqeval_conll2000_chunking_ground_truth"]
    gold, pred = _conll2000(realdata)
    assert len(gold) == want["n_sentences"] and sum(map(len, gold)) == want["n_tokens"]
    for scores in (ner_scores(gold, pred), seqeval_scores(gold, pred)):
        for key, published in (("precision", "precision"), ("recall", "recall"), ("f1", "FB1"), ("accuracy", "accuracy")):
            assert round(scores[key], 2) == want["conlleval_published"][published], key
        assert scores["f1"] == pytest.approx(100 * want["seqeval_default"]["f1"], abs=1e-9)
        assert scores["precision"] == pytest.approx(100 * want["seqeval_default"]["precision"], abs=1e-9)
    assert ner_scores(gold, pred)["gold_entities"] == want["gold_chunks"]


def test_panx_matches_xtreme_mock_with_both_implementations(realdata, expected):
    want = expected["xtreme_mock"]["panx_test_40langs_seqeval_default_x100"]
    ours, ref = {"f1": [], "precision": [], "recall": []}, {"f1": [], "precision": [], "recall": []}
    files = sorted((realdata / "xtreme_mock/labels/panx").glob("test-*.tsv"))
    assert len(files) == 40
    for f in files:
        gold = [s.tags for s in read_ner(f, "tags")]
        pred = [s.tags for s in read_ner(realdata / "xtreme_mock/predictions/panx" / f.name, "tags")]
        a, b = ner_scores(gold, pred), seqeval_scores(gold, pred)
        for k in ours:
            ours[k].append(a[k])
            ref[k].append(b[k])
    for k, key in (("f1", "avg_f1"), ("precision", "avg_precision"), ("recall", "avg_recall")):
        assert sum(ours[k]) / 40 == pytest.approx(want[key], abs=1e-9)
        assert sum(ref[k]) / 40 == pytest.approx(want[key], abs=1e-9)


def _perturb(tags: list[str], vocab: list[str], rng: random.Random) -> list[str]:
    out = list(tags)
    for i in range(len(out)):
        r = rng.random()
        if r < 0.15:
            out[i] = rng.choice(vocab)
        elif r < 0.25 and out[i] != "O":
            out[i] = "I" + out[i][1:] if out[i][0] == "B" else "B" + out[i][1:]
    return out


def _real_tag_sequences(realdata) -> list[list[str]]:
    seqs = []
    for f in sorted((realdata / "wikiann").glob("*/*")):
        seqs += [s.tags for s in read_ner(f, "panx")]
    for f in sorted((realdata / "ner" / "xglue_ner").glob("*.*")):
        if f.name != "labels.txt":
            seqs += [s.tags for s in read_ner(f, "xglue")]
    for f in sorted((realdata / "ner" / "xglue_ner" / "unicoder_dev_predictions_head").glob("*")):
        seqs += [s.tags for s in read_ner(f, "tags")]
    return seqs


def test_own_chunker_agrees_with_seqeval_on_real_wikiann_and_xglue_tags(realdata):
    seqs = _real_tag_sequences(realdata)
    vocab = sorted({t for s in seqs for t in s})
    assert {"B-PER", "I-ORG", "O"} <= set(vocab) and len(seqs) > 40
    rng = random.Random(0)
    for trial in range(30):
        gold = rng.sample(seqs, k=min(40, len(seqs)))
        pred = [_perturb(s, vocab, rng) for s in gold]
        a, b = ner_scores(gold, pred), seqeval_scores(gold, pred)
        for key in ("precision", "recall", "f1", "accuracy"):
            assert a[key] == pytest.approx(b[key], abs=1e-12), (trial, key)
    # Unicoder's IOB1 output and its IOB2 rewrite hold the same chunks: F1 100 by both, accuracy below
    uni = [s.tags for f in sorted((realdata / "ner/xglue_ner/unicoder_dev_predictions_head").glob("*"))
           for s in read_ner(f, "tags")]
    iob2 = [[("B" + t[1:]) if t.startswith("I-") and (i == 0 or s[i - 1][2:] != t[2:]) else t
             for i, t in enumerate(s)] for s in uni]
    assert iob2 != uni
    for scores in (ner_scores(uni, iob2), seqeval_scores(uni, iob2)):
        assert scores["f1"] == 100.0 and scores["accuracy"] < 100.0


def test_iob1_chunks_as_conlleval_reads_them():
    # an I- after O opens a chunk; B- only separates two adjacent chunks of one type
    assert entity_spans(["I-ORG", "I-ORG", "B-ORG", "O", "I-PER", "I-LOC"]) == [
        ("ORG", 0, 1), ("ORG", 2, 2), ("PER", 4, 4), ("LOC", 5, 5)]
    assert entity_spans(["B-PER", "I-PER", "O", "B-MISC"]) == [("PER", 0, 1), ("MISC", 3, 3)]
    with pytest.raises(DataError, match="sentence 1: 2 gold tags but 1"):
        ner_scores([["O", "O"]], [["O"]])
