"""Progress off a terminal: plain timestamped lines (or JSON) every N seconds or steps, for SLURM/nohup/tee logs."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

from xlmk.errors import ConfigError
from xlmk.progress import LineProgress, log_every, log_format, make_progress

STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 \| "


def test_plain_lines_carry_time_count_info_rate_and_eta():
    out = io.StringIO()
    with LineProgress("plain", seconds=0, stream=out) as progress:
        task = progress.add_task("pretrain demo", total=4)
        for step in range(1, 5):
            progress.update(task, info=f"mlm {9 - step:.3f} · 100 tok/s")
            progress.update(task, completed=step)
    lines = out.getvalue().splitlines()
    assert all(re.match(STAMP + "pretrain demo \\| ", ln) for ln in lines), lines
    assert "0/4 (0%)" in lines[0]
    assert any("2/4 (50%)" in ln and "mlm 7.000" in ln and "it/s" in ln and "eta 0:00:0" in ln for ln in lines), lines
    assert "4/4 (100%)" in lines[-1] and "mlm 5.000" in lines[-1] and "eta" not in lines[-1]
    assert sum("4/4" in ln for ln in lines) == 1  # the end is said once, not again on exit


def test_time_rule_and_step_rule():
    out = io.StringIO()
    with LineProgress("plain", seconds=3600, stream=out) as progress:
        task = progress.add_task("tokenizing", total=1000)
        progress.advance(task, 10)
        progress.advance(task, 10)
    assert len(out.getvalue().splitlines()) == 2  # start, then the end on exit; nothing in between
    out = io.StringIO()
    with LineProgress("plain", seconds=3600, steps=3, stream=out) as progress:
        task = progress.add_task("train", total=10)
        for step in range(1, 11):
            progress.update(task, completed=step, metrics={"step": step})
    counts = [re.search(r"\| (\d+)/10", ln).group(1) for ln in out.getvalue().splitlines()]
    assert counts == ["0", "3", "6", "9", "10"]


def test_json_lines_hold_the_metrics():
    out = io.StringIO()
    with LineProgress("json", seconds=0, stream=out) as progress:
        task = progress.add_task("seed 1 train", total=2)
        progress.update(task, completed=1, info="epoch 1 loss 0.5", metrics={"epoch": 1, "train_loss": 0.5})
        progress.update(task, completed=2)
    records = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert [r["event"] for r in records] == ["start", "progress", "end"]
    assert records[1]["metrics"] == {"epoch": 1, "train_loss": 0.5} and records[1]["completed"] == 1
    assert records[1]["eta_s"] is not None and records[0]["time"].endswith("+00:00")


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv("XLMK_QUIET", raising=False)
    monkeypatch.setenv("XLMK_LOG_FORMAT", "json")
    assert log_format() == "json" and isinstance(make_progress(), LineProgress)
    monkeypatch.setenv("XLMK_LOG_FORMAT", "auto")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert log_format() == "plain"
    monkeypatch.setenv("XLMK_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigError, match="XLMK_LOG_FORMAT='yaml'"):
        log_format()
    monkeypatch.setenv("XLMK_LOG_EVERY", "100steps")
    assert log_every() == (30.0, 100)
    monkeypatch.setenv("XLMK_LOG_EVERY", "15s")
    assert log_every() == (15.0, 0)
    monkeypatch.setenv("XLMK_LOG_FORMAT", "plain")
    monkeypatch.setenv("RANK", "1")  # a second process under a launcher says nothing
    assert not isinstance(make_progress(), LineProgress) and make_progress().disable
    monkeypatch.setenv("RANK", "0")
    assert isinstance(make_progress(), LineProgress)
    monkeypatch.setenv("XLMK_LOG_EVERY", "often")
    with pytest.raises(ConfigError, match="XLMK_LOG_EVERY='often'"):
        log_every()


@pytest.mark.slow
def test_piped_pretraining_prints_a_timestamped_line_per_step(tmp_path, xlmk_cache):
    env = {k: v for k, v in os.environ.items() if k not in ("XLMK_QUIET", "XLMK_LOG_FORMAT", "XLMK_LOG_EVERY")}
    cmd = [sys.executable, "-m", "xlmk.cli", "--log-every", "1steps", "pretrain", "--recipe", "mlm-only-tiny",
           "--set", "optim.max_steps=3", "--set", "run.log_every=1", "--set", "run.heldout_max=0",
           "--set", "tasks.mlm.sources=[corpus]", "--set", "tasks.desc_mlm=null", "--set", "data.knowledge=null", "--out", str(tmp_path / "run")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)  # stderr is a pipe
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if "| pretrain mlm-only-tiny |" in ln]
    assert [re.search(r"\| (\d)/3 ", ln).group(1) for ln in lines] == ["0", "1", "2", "3"], res.stderr[-2000:]
    assert all(re.match(STAMP, ln) for ln in lines)
    assert all(re.search(r"mlm \d+\.\d{3} · \d+ tok/s", ln) for ln in lines[1:])
    assert "eta" in lines[1] and "\x1b[" not in res.stderr  # no terminal escapes in a log file
