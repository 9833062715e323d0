"""Numbers that measure nothing are marked: a constant predictor, an accuracy at the majority-class rate,
LAMA P@1 of zero everywhere."""
from __future__ import annotations

from xlmk.degenerate import classifier_verdict
from xlmk.downstream.metrics import accuracy
from xlmk.report import build_tables
from xlmk.results import ResultRow
from xlmk.tables import ablation_table, finetune_table


def test_accuracy_reports_what_the_flags_need():
    out = accuracy(["a", "a", "b", "c"], ["a", "a", "a", "a"])
    assert out == {"accuracy": 50.0, "n": 4, "predicted_classes": 1, "majority_baseline": 50.0}


def _xnli(model: str, per_lang: dict[str, tuple[float, int, float]], seeds=(1, 2), n: int = 300) -> list[ResultRow]:
    return [ResultRow(stage="finetune", name="xnli", version=1, model=model, model_name=model, language=lang,
                      split="test", metric="accuracy", value=acc, n=n, seed=seed, protocol="xglue-avg-dev",
                      extra={"predicted_classes": classes, "majority_baseline": base})
            for seed in seeds for lang, (acc, classes, base) in per_lang.items()]


def test_finetune_table_marks_constant_and_chance_models():
    rows = (_xnli("const", {"en": (33.3, 1, 33.3), "de": (33.3, 1, 33.3)})
            + _xnli("chance", {"en": (34.0, 3, 33.3), "de": (33.0, 2, 33.3)})
            + _xnli("learnt", {"en": (61.0, 3, 33.3), "de": (48.0, 3, 33.3)}))
    table = finetune_table(rows, "xnli")
    labels = [r[0] for r in table.rows]
    assert "const [constant predictor] (avg)" in labels and "chance [at chance] (avg)" in labels
    assert "learnt (avg)" in labels
    notes = " ".join(table.notes)
    assert "const: every prediction is one class, in all 4 language/seed results" in notes
    assert "chance: accuracy 33.5 is within two standard errors" in notes and "learnt" not in notes
    ablation = {r[0]: r[-1] for r in ablation_table(rows).rows}
    assert ablation == {"chance": "33.5 [at chance]", "const": "33.3 [constant predictor]", "learnt": "54.5"}


def test_verdict_needs_the_counts_and_weighs_by_examples():
    assert classifier_verdict([]) is None
    plain = ResultRow(stage="finetune", name="xnli", version=1, model="m", split="test", metric="accuracy", value=33.3, n=9)
    assert classifier_verdict([plain]) is None  # rows written before the counts existed are left alone
    # 36% over 3000 examples is above a 33.3% rate (two standard errors: 1.7), over 30 it is not
    many = _xnli("m", {"en": (36.0, 3, 33.3)}, seeds=(1,), n=3000)
    few = _xnli("m", {"en": (36.0, 3, 33.3)}, seeds=(1,), n=30)
    assert classifier_verdict(many) is None and classifier_verdict(few)[0] == "at chance"


def test_lama_zero_everywhere_is_noted():
    rows = [ResultRow(stage="probe", name="lama", version=1, model=f"runs/{m}/final", model_name=m, language="en",
                      subset=s, split="test", metric="p@1", value=v, n=20, extra={"level": "relation"})
            for m, v in (("zero", 0.0), ("some", 5.0)) for s in ("TREx/P17", "TREx/Total")]
    notes = build_tables(rows, ["lama"])[0].notes
    assert any(n.startswith("zero: LAMA P@1 is 0.0 in all 2 cells (20 facts): no fact recovered") for n in notes), notes
    assert not any(n.startswith("some:") for n in notes)
