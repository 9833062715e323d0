"""Rows carry the identity of the model they measure; tables never merge two models into one row."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from faults_support import FINETUNE
from xlmk.modeling import MODEL_HASH_CACHE, model_hash
from xlmk.results import ResultRow
from xlmk.rundir import model_identity, model_label
from xlmk.tables import distinct_models, finetune_table


@pytest.fixture()
def two_runs(tmp_path, tiny_model):
    """runs/A/final and runs/B/final: two different models whose directories share their name."""
    from safetensors.torch import load_file, save_file

    finals = []
    for name, shift in (("A", 0.0), ("B", 0.5)):
        final = shutil.copytree(tiny_model, tmp_path / "runs" / name / "final")
        (final / MODEL_HASH_CACHE).unlink(missing_ok=True)
        weights = load_file(str(final / "model.safetensors"))
        first = sorted(weights)[0]
        weights[first] = weights[first] + shift
        save_file(weights, str(final / "model.safetensors"), metadata={"format": "pt"})
        finals.append(final)
    return finals


def test_a_model_is_known_by_its_run_and_its_weights_hashed_once(two_runs, tmp_path):
    a, b = two_runs
    ia, ib = model_identity(a), model_identity(b)
    assert (ia["run"], ib["run"]) == ("A", "B") and ia["hash"] != ib["hash"]
    assert (model_label(a), model_label(b)) == ("A/final", "B/final")
    ckpt = tmp_path / "runs" / "A" / "checkpoints" / "step-00000040"
    shutil.copytree(a, ckpt)
    assert model_identity(ckpt)["run"] == "A" and model_identity(ckpt)["hash"] == ia["hash"]
    # the hash is kept in the model directory, keyed by the files' sizes and times: read once
    cache = a / MODEL_HASH_CACHE
    stored = json.loads(cache.read_text())
    assert stored["sha256"] == ia["hash"]
    cache.write_text(json.dumps({**stored, "sha256": "kept"}))
    assert model_hash(a) == "kept"
    st = (a / "model.safetensors").stat()
    os.utime(a / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # weights rewritten
    assert model_hash(a) == ia["hash"]


def _rows(label: str, model_hash: str, run: str | None, values: dict[str, float]) -> list[ResultRow]:
    return [ResultRow(stage="finetune", name="xnli", version=1, model=f"runs/{run}/final", model_name=label,
                      model_hash=model_hash, model_run=run, language=lang, split="test", metric="accuracy",
                      value=v, seed=1, protocol="xglue-avg-dev") for lang, v in values.items()]


def test_two_models_with_one_label_are_two_rows_with_a_note():
    rows = _rows("final", "a" * 64, "A", {"en": 80.0, "de": 70.0}) + _rows("final", "b" * 64, "B", {"en": 60.0, "de": 50.0})
    table = finetune_table(rows, "xnli")
    assert [r[0] for r in table.rows] == ["final [A]", "final [B]"]
    assert [r[-1] for r in table.rows] == ["75.0", "55.0"]
    assert table.notes[0] == "2 different models are labelled 'final': shown as 'final [A]', 'final [B]' (their run directories)"
    # rows written before rows named their run: the hash tells the models apart
    legacy = [r.model_copy(update={"model_run": None}) for r in rows]
    assert [r[0] for r in finetune_table(legacy, "xnli").rows] == ["final [aaaaaaaa]", "final [bbbbbbbb]"]
    # the same model evaluated in two places stays one model
    same = _rows("final", "a" * 64, "A", {"en": 80.0, "de": 70.0})
    assert distinct_models(same + [r.model_copy(update={"seed": 2}) for r in same]) == (same + [
        r.model_copy(update={"seed": 2}) for r in same], [])


@pytest.mark.slow
def test_fine_tuning_runs_A_final_and_B_final_land_in_two_rows(two_runs, tmp_path):
    """The README's workflow: `--model runs/A/final` and `--model runs/B/final`, one results table."""
    from xlmk.downstream.run import finetune
    from xlmk.report import build_tables
    from xlmk.results import read_rows

    outs = []
    for final in two_runs:
        out = tmp_path / f"ft-{final.parent.name}"
        finetune("xnli-tiny", model=str(final), languages=["en", "de"], out=out, overrides=FINETUNE)
        outs.append(out)
    rows = read_rows(outs)
    assert {(r.model_name, r.model_run) for r in rows} == {("A/final", "A"), ("B/final", "B")}
    assert len({r.model_hash for r in rows}) == 2
    (table,) = build_tables(rows, ["xnli"])
    # (a tiny model may be marked a constant predictor or at chance: that is a note about its numbers)
    assert [_bare(r[0]) for r in table.rows] == ["A/final", "B/final"]
    assert not [n for n in table.notes if "labelled" in n]
    # labels that collide (rows that all say 'final', as before) still give two rows, and say why
    relabelled = [r.model_copy(update={"model_name": "final"}) for r in rows]
    (table,) = build_tables(relabelled, ["xnli"])
    assert [_bare(r[0]) for r in table.rows] == ["final [A]", "final [B]"]
    assert "2 different models are labelled 'final'" in table.notes[0]


def _bare(label: str) -> str:
    """A table's model label without the marks of degenerate numbers."""
    from xlmk.degenerate import AT_CHANCE, CONSTANT

    return label.replace(f" [{CONSTANT}]", "").replace(f" [{AT_CHANCE}]", "")
