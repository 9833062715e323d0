"""Per-class precision/recall/F1 (scikit-learn) in `xlmk score` for NLI, checked against counts by hand."""
from __future__ import annotations

import pytest

from xlmk.downstream.metrics import class_report
from xlmk.downstream.scoring import score


def test_class_report_matches_hand_counts_on_real_predictions(realdata):
    gold_file = realdata / "xnli/xglue_format/ur.dev"
    pred_file = realdata / "xnli/xglue_format/unicoder_predictions_head/ur.dev.prediction"
    out = score("xnli", gold_file, pred_file)["scores"]
    gold = [ln.rsplit("\t", 1)[-1].strip() for ln in gold_file.read_text().splitlines() if ln.strip()]
    pred = [ln.strip() for ln in pred_file.read_text().splitlines() if ln.strip()]
    assert out["accuracy"] == 50.0 and set(out["per_class"]) == {"entailment", "neutral", "contradiction"}
    f1s = []
    for label, s in out["per_class"].items():
        tp = sum(g == p == label for g, p in zip(gold, pred))
        n_pred, n_gold = pred.count(label), gold.count(label)
        precision = 100 * tp / n_pred if n_pred else 0.0
        recall = 100 * tp / n_gold if n_gold else 0.0
        assert s["support"] == n_gold and s["precision"] == pytest.approx(precision) and s["recall"] == pytest.approx(recall)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    assert out["macro_f1"] == pytest.approx(sum(f1s) / 3)


def test_a_constant_predictor_shows_in_the_report():
    rep = class_report(["a", "b", "c", "a"], ["a"] * 4, ["a", "b", "c"])
    assert rep["per_class"]["a"]["recall"] == 100.0 and rep["per_class"]["b"]["recall"] == 0.0
    assert rep["macro_f1"] == pytest.approx(100 * (2 * 0.5 / 1.5) / 3)
