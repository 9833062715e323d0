"""`xlmk results`: tables from run directories in every format, plots written as PNG files."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xlmk.cli.main import app
from xlmk.errors import XlmkError
from xlmk.report import report
from xlmk.results import ResultRow, append_rows


def rows(model, task, values, metric, seed=1):
    return [ResultRow(stage="finetune", name=task, version=1, model=f"runs/{model}", language=l, split="test",
                      metric=metric, value=v, seed=seed) for l, v in values.items()]


@pytest.fixture
def runs(tmp_path):
    append_rows(tmp_path / "a", rows("A", "xnli", {"en": 80.0, "de": 70.0}, "accuracy")
                + rows("A", "ner", {"en": 90.0, "de": 60.0}, "f1"))
    append_rows(tmp_path / "b", rows("B", "xnli", {"en": 82.0, "de": 74.0}, "accuracy")
                + rows("B", "ner", {"en": 91.0, "de": 65.0}, "f1"))
    return tmp_path


def test_report_builds_each_task_and_the_ablation_table(runs):
    data = json.loads(report([runs / "a", runs / "b"], fmt="json"))
    titles = [t["title"] for t in data]
    assert titles[0].startswith("xnli") and titles[1].startswith("ner") and titles[2].startswith("ablation")
    assert data[0]["rows"] == [["A", "1", "80.0", "70.0", "75.0"], ["B", "1", "82.0", "74.0", "78.0"]]
    assert data[2]["rows"] == [["A", "-", "75.0", "75.0"], ["B", "-", "78.0", "78.0"]]


def test_plots_are_written(runs, tmp_path):
    out = report([runs], tasks=["xnli"], plot=tmp_path / "plots")
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert pngs == ["ner-languages.png", "xnli-languages.png"]
    assert (tmp_path / "plots" / "xnli-languages.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plot:" in out
    with pytest.raises(XlmkError, match="give a directory"):
        report([runs], plot=tmp_path / "one.png")


def test_cli_results_markdown(runs):
    res = CliRunner().invoke(app, ["results", str(runs), "--task", "xnli", "--format", "markdown"])
    assert res.exit_code == 0, res.output
    assert "| A | 1 | 80.0 | 70.0 | 75.0 |" in res.output
