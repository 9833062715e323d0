"""The XTREME table: task averages in XTREME's order, the XTREME score only over all nine tasks (QA by
F1), XTREME's selection protocol preferred, translate-train kept apart, seeds averaged."""
from __future__ import annotations

import pytest

from xlmk.report import build_tables
from xlmk.results import ResultRow
from xlmk.xtreme_table import XTREME_TASKS, xtreme_table

LANGS = {"paws-x": ["en", "de"], "xnli": ["en", "fr"], "udpos": ["en", "mr"], "panx": ["en", "ar"],
         "xquad": ["en", "zh"], "mlqa": ["en", "ar"], "tydiqa": ["en", "ar"], "bucc": ["de", "fr"],
         "tatoeba": ["ar", "jv"]}


def _row(task, lang, metric, value, seed=1, protocol="xtreme-en-dev", model="m", transfer="zero-shot", version=1):
    return ResultRow(stage="finetune", name=task, version=version, model=f"/runs/{model}", model_name=model,
                     language=lang, split="test", metric=metric, value=value, seed=seed, protocol=protocol,
                     extra={"transfer": transfer})


def _all_tasks(model="m", base=50.0, transfer="zero-shot"):
    rows = []
    for k, (task, _, metrics) in enumerate(XTREME_TASKS):
        protocol = None if task in ("bucc", "tatoeba") else "xtreme-en-dev"
        for i, lang in enumerate(LANGS[task]):
            for m in metrics:
                value = base + k + 10 * i - (20 if m == "exact_match" else 0)  # averages: base + k + 5
                rows.append(_row(task, lang, m, value, protocol=protocol, model=model, transfer=transfer))
    return rows


def test_task_averages_in_xtreme_order_and_the_score_over_all_nine():
    table = xtreme_table(_all_tasks())
    assert table.columns == ["model", "PAWS-X", "XNLI", "POS", "NER", "XQuAD F1/EM", "MLQA F1/EM", "TyDiQA F1/EM",
                             "BUCC", "Tatoeba", "XTREME"]
    (row,) = table.rows
    assert row[1] == "55.0" and row[5] == "59.0/39.0" and row[9] == "63.0"
    # mean of the nine averages 55..63, QA counted by F1 (not by (EM+F1)/2)
    assert row[-1] == f"{sum(55 + k for k in range(9)) / 9:.1f}"
    assert not table.notes


def test_the_score_waits_for_all_nine_tasks_and_names_the_missing():
    rows = [r for r in _all_tasks() if r.name not in ("bucc", "udpos")]
    table = xtreme_table(rows)
    assert table.rows[0][-1] == "-" and table.rows[0][3] == "-"
    assert table.notes == ["m: the XTREME score needs all nine tasks (missing: POS, BUCC)"]


def test_xtreme_selection_preferred_and_seeds_averaged():
    rows = [_row("xnli", "en", "accuracy", 90.0, protocol="xglue-avg-dev"),
            _row("xnli", "en", "accuracy", 70.0, seed=1), _row("xnli", "en", "accuracy", 80.0, seed=2)]
    assert xtreme_table(rows).rows[0][2] == "75.0"


def test_translate_train_rows_are_a_model_of_their_own():
    rows = _all_tasks() + _all_tasks(base=60.0, transfer="translate-train")
    table = xtreme_table(rows)
    assert [r[0] for r in table.rows] == ["m", "m [translate-train]"]
    assert table.rows[0][1] == "55.0" and table.rows[1][1] == "65.0"


def test_results_build_the_xtreme_table_beside_the_per_language_tables():
    tables = build_tables(_all_tasks())
    titles = [t.title for t in tables]
    assert any(t.startswith("XTREME") for t in titles)
    assert any(t.startswith("tatoeba test") for t in titles) and any(t.startswith("udpos test") for t in titles)


def test_rows_of_other_task_versions_are_flagged():
    rows = _all_tasks() + [_row("xnli", "de", "accuracy", 1.0, version=2)]
    table = xtreme_table(rows)
    assert any("not merged" in n for n in table.notes)
    assert table.rows[0][2] == "1.0"  # the newest version alone, not a mix of both


def test_the_xtreme_table_appears_only_beside_an_xtreme_task():
    xglue = [r for r in _all_tasks() if r.name in ("xnli", "mlqa", "panx")]
    assert not any(t.title.startswith("XTREME") for t in build_tables(xglue))
    with_tatoeba = xglue + [r for r in _all_tasks() if r.name == "tatoeba"]
    assert any(t.title.startswith("XTREME") for t in build_tables(with_tatoeba))
