"""Result tables on constructed rows against hand-written expected tables."""
from __future__ import annotations

import pytest

from xlmk.results import ResultRow
from xlmk.tables import ablation_table, finetune_table, render, summarise_seeds, version_conflicts


def r(model, task, lang, value, seed=1, metric=None, version=1, split="test", **kw):
    metric = metric or {"xnli": "accuracy", "mlqa": "f1", "ner": "f1"}[task]
    return ResultRow(stage="finetune", name=task, version=version, model=f"runs/{model}", language=lang,
                     split=split, metric=metric, value=value, seed=seed, **kw)


def test_seed_avg_max_and_std_by_hand():
    rows = [r("A", "xnli", "en", 80.0, 1), r("A", "xnli", "de", 70.0, 1),
            r("A", "xnli", "en", 84.0, 2), r("A", "xnli", "de", 72.0, 2),
            r("A", "xnli", "en", 99.0, 1, split="dev")]  # other split: ignored
    t = finetune_table(rows, "xnli")
    assert t.columns == ["model", "seeds", "en", "de", "Avg"]
    assert t.rows == [["A (avg)", "1,2", "82.0", "71.0", "76.5 ± 2.1"],
                      ["A (max)", "2", "84.0", "72.0", "78.0"]]
    assert t.notes == []


def test_max_is_chosen_by_the_average_not_per_language():
    s = summarise_seeds({1: {"en": 90.0, "de": 60.0}, 2: {"en": 80.0, "de": 72.0}}, ["en", "de"])
    assert s.best_seed == 2 and s.best == {"en": 80.0, "de": 72.0, "Avg": 76.0}
    assert s.std["Avg"] == pytest.approx(((75 - 75.5) ** 2 + (76 - 75.5) ** 2) ** 0.5)


def test_mlqa_cells_show_f1_and_em_and_single_seed_has_no_std():
    rows = [r("B", "mlqa", "en", 80.0), r("B", "mlqa", "en", 67.0, metric="exact_match"),
            r("B", "mlqa", "zh", 60.0), r("B", "mlqa", "zh", 40.0, metric="exact_match")]
    t = finetune_table(rows, "mlqa")
    assert t.title == "mlqa test (F1/EM)"
    assert t.rows == [["B", "1", "80.0/67.0", "60.0/40.0", "70.0/53.5"]]


def test_version_mismatch_is_flagged_never_merged():
    rows = [r("A", "xnli", "en", 80.0, version=1), r("A", "xnli", "en", 60.0, version=2)]
    assert version_conflicts(rows) and "not merged" in version_conflicts(rows)[0]
    t = finetune_table(rows, "xnli")
    assert [row[0] for row in t.rows] == ["A (v1)", "A (v2)"]
    assert [row[-1] for row in t.rows] == ["80.0", "60.0"]
    assert t.notes


def test_ablation_table_takes_the_seed_mean_of_each_task_avg():
    rows = [r("K", "mlqa", "en", 70.0), r("K", "mlqa", "de", 60.0), r("K", "ner", "en", 90.0),
            r("K", "xnli", "en", 80.0, 1), r("K", "xnli", "en", 82.0, 2)]
    t = ablation_table(rows)
    assert t.columns == ["model", "MLQA", "NER", "XNLI"] and t.rows == [["K", "65.0", "90.0", "81.0"]]


def test_renderings_agree():
    t = finetune_table([r("A", "xnli", "en", 80.0)], "xnli")
    assert "| A | 1 | 80.0 | 80.0 |" in render(t, "markdown")
    assert render(t, "csv").splitlines() == ["model,seeds,en,Avg", "A,1,80.0,80.0"]
    assert '"rows"' in render(t, "json") and "80.0" in render(t, "table")
