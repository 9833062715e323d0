"""`xlmk score` and `xlmk finetune` from the command line: same numbers as the library, clear errors."""
from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from xlmk.cli.main import app

runner = CliRunner()


def _xlmk(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xlmk.cli", *args], capture_output=True, text=True)


def test_score_mlqa_reproduces_the_official_script(realdata):
    root = realdata / "mlqa" / "xglue_subset"
    expected = json.loads((root / "expected_official_scores.json").read_text())
    res = runner.invoke(app, ["score", "mlqa", "--gold", str(root / "test/test-context-zh-question-zh.json"),
                              "--predictions", str(root / "unicoder_predictions/test-zh.json"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["language"] == "zh"  # taken from the gold file's name
    assert out["scores"]["f1"] == expected["test-zh"]["f1"]
    assert out["scores"]["exact_match"] == expected["test-zh"]["exact_match"]


def test_score_ner_and_xnli_print_their_metrics(realdata, expected):
    res = runner.invoke(app, ["score", "panx", "--gold", str(realdata / "xtreme_mock/labels/panx/test-de.tsv"),
                              "--predictions", str(realdata / "xtreme_mock/predictions/panx/test-de.tsv")])
    assert res.exit_code == 0, res.output
    assert "f1" in res.output and "precision" in res.output
    res = runner.invoke(app, ["score", "xnli", "--gold", str(realdata / "xnli/xglue_format/ur.dev"), "--predictions",
                              str(realdata / "xnli/xglue_format/unicoder_predictions_head/ur.dev.prediction"), "--json"])
    assert json.loads(res.output)["scores"]["accuracy"] == 50.0


def test_score_errors_say_what_to_do(realdata, tmp_path):
    preds = tmp_path / "p.tsv"
    preds.write_text("neutral\n")
    res = _xlmk("score", "xnli", "--gold", str(realdata / "xnli/XNLI-1.0/xnli.dev.tsv"), "--predictions", str(preds))
    assert res.returncode == 2 and "holds several languages" in res.stderr and "--lang" in res.stderr
    res = _xlmk("score", "xnli", "--gold", str(realdata / "xnli/XNLI-1.0/xnli.dev.tsv"), "--predictions", str(preds),
                "--lang", "de")
    assert res.returncode == 0 and "accuracy 100.00" in res.stdout
    res = _xlmk("score", "xnli", "--gold", str(realdata / "xnli/xglue_format/de.dev"), "--predictions", str(preds))
    assert res.returncode == 2 and "p.tsv: 1 predictions for 2 gold examples" in res.stderr
    short = tmp_path / "short.tsv"
    short.write_text("O\n\n")
    res = _xlmk("score", "ner", "--gold", str(realdata / "wikiann/en/dev"), "--predictions", str(short))
    assert res.returncode == 2 and "short.tsv: sentence 1: 10 gold tags but 1 predicted" in res.stderr
    assert "Traceback" not in res.stderr
    res = _xlmk("score", "nre", "--gold", str(preds), "--predictions", str(preds))
    assert res.returncode == 2 and "did you mean 'ner'" in res.stderr


def test_finetune_command_runs_and_prints_the_table(realdata, small_model, tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["finetune", "ner", "--model", str(small_model), "--data", str(realdata / "ner/xglue_ner"),
                              "--languages", "en,de", "--seeds", "5", "--set", "optim.epochs=1",
                              "--set", "run.save_model=false", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "protocol xglue-avg-dev" in res.output and "results.jsonl" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["languages"] == ["en", "de"] and summary["seeds"] == [5]
    res = _xlmk("finetune", "ner", "--model", str(small_model), "--seeds", "1,x")
    assert res.returncode == 2 and "--seeds '1,x'" in res.stderr
    res = _xlmk("finetune", "nerr-xglue", "--model", str(small_model))
    assert res.returncode == 2 and "did you mean 'ner-xglue'" in res.stderr


def test_score_the_xtreme_tasks_from_the_command_line(realdata):
    xt = realdata / "xtreme"
    mock = "xtreme-mock_test_data"
    res = runner.invoke(app, ["score", "tydiqa", "--gold", str(xt / "tydiqa" / mock / "labels/test-ko.json"),
                              "--predictions", str(xt / "tydiqa" / mock / "predictions/test-ko.json"), "--json"])
    assert res.exit_code == 0, res.output
    scores = json.loads(res.output)["scores"]
    assert set(scores) >= {"exact_match", "f1", "score", "unanswered"}
    # UD-POS straight from the UD release file, against XTREME's mock predictions' prefix length
    res = runner.invoke(app, ["score", "udpos", "--gold", str(xt / "udpos/UD_Tagalog-TRG@r2.5/tl_trg-ud-test.conllu"),
                              "--predictions", str(xt / "xtreme-layout/udpos/test-tl.labels.tsv")])
    assert res.exit_code == 0, res.output
    assert "f1 100.00" in res.output and "accuracy 100.00" in res.output
    res = runner.invoke(app, ["score", "tatoeba", "--gold", str(xt / "bucc2018" / mock / "labels/test-de.tsv"),
                              "--predictions", str(xt / "tatoeba" / mock / "predictions/test-de.tsv")])
    assert res.exit_code != 0 and "test-de.tsv:1: expected one integer index a line" in str(res.exception)
