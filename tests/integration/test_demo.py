"""`xlmk demo` end to end (shortened pre-training): every stage real, tables and plots, resumable."""
from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_runs_every_stage_and_resumes(tmp_path, xlmk_cache):
    from xlmk.demo import EVALUATIONS, MODELS, demo

    logs: list[str] = []
    text = demo(tmp_path / "demo", steps=10, log=logs.append)
    for table in ("xnli test", "mlqa test", "panx test", "tatoeba test", "XTREME (test", "ablation", "LAMA P@1",
                  "XEP / XOR"):
        assert table in text, table
    for model in MODELS:
        assert model in text
        for ev in EVALUATIONS:
            assert (tmp_path / "demo" / "eval" / model / f"{ev.stage}-{ev.name}" / "results.jsonl").is_file()
    curves = [f"finetune-curves-{m}-finetune-{ev.name}.png" for m in MODELS for ev in EVALUATIONS
              if ev.stage == "finetune" and ev.name != "tatoeba"]  # retrieval trains nothing: no curve
    assert sorted(p.name for p in (tmp_path / "demo" / "plots").glob("*.png")) == sorted(
        ["mlqa-languages.png", "panx-languages.png", "tatoeba-languages.png", "xnli-languages.png",
         "pretrain-curves.png"] + curves)
    card = (tmp_path / "demo" / "pretrain" / "xlmk-tiny" / "final" / "README.md").read_text()
    assert "| finetune | xnli | test | accuracy |" in card and "| probe | xep |" in card
    assert (tmp_path / "demo" / "knowledge" / "manifest.json").is_file()
    logs.clear()
    again = demo(tmp_path / "demo", steps=10, log=logs.append)
    assert sum(l.startswith("[skip]") for l in logs) == len(MODELS) * (1 + len(EVALUATIONS))
    assert again == text
