"""`xlmk sweep` of three queue sizes on the tiny world: one results directory, Figure 4, restartable."""
from __future__ import annotations

import json
import shutil

import pytest

from xlmk.report import report
from xlmk.sweep import parse_vary, sweep
from xlmk.errors import ConfigError

SHORT = ["optim.max_steps=12", "optim.warmup_steps=2", "batch.effective_size=16", "batch.micro_size=16",
         "run.save_every=6", "tasks.mlm.max_length=64"]


def test_parse_vary():
    assert parse_vary("queue.size=256, 512,1024") == ("queue.size", ["256", "512", "1024"])
    for bad in ("queue.size", "queue.size=", "=1,2", "queue.size=1,1"):
        with pytest.raises(ConfigError):
            parse_vary(bad)


def test_a_bad_member_stops_before_any_training(tmp_path):
    with pytest.raises(ConfigError, match="queue.size"):
        sweep("xlmk-tiny", "queue.size=256,-1", out=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_sweep_of_three_queue_sizes_is_restartable(tmp_path, xlmk_cache):
    out = tmp_path / "sweep"
    logs: list[str] = []
    manifest = sweep("xlmk-tiny", "queue.size=64,128,256", ["finetune xnli", "probe xep"], out=out,
                     overrides=SHORT, log=logs.append)
    assert [m["value"] for m in manifest["members"]] == ["64", "128", "256"]
    assert json.loads((out / "sweep.json").read_text())["parameter"] == "queue.size"
    for m in manifest["members"]:
        recipe = (out / m["dir"] / "pretrain" / "recipe.yaml").read_text()
        assert f"size: {m['value']}" in recipe
        assert (out / m["dir"] / "finetune-xnli" / "results.jsonl").is_file()
        assert (out / m["dir"] / "probe-xep" / "results.jsonl").is_file()
    text = report([out], fmt="markdown", plot=out / "figure4.png")
    assert all(m["model_name"] in text for m in manifest["members"])
    assert (out / "figure4.png").read_bytes()[:4] == b"\x89PNG"

    # interrupted after the second member: the third's evaluations are gone, the rest is finished
    third = out / manifest["members"][2]["dir"]
    done_first = (out / manifest["members"][0]["dir"] / "pretrain" / "DONE.json").stat().st_mtime_ns
    for ev in ("finetune-xnli", "probe-xep"):
        shutil.rmtree(third / ev)
    logs.clear()
    sweep("xlmk-tiny", "queue.size=64,128,256", ["finetune xnli", "probe xep"], out=out, overrides=SHORT, log=logs.append)
    skipped = [l for l in logs if l.startswith("[skip]")]
    rerun = [l for l in logs if l.startswith("[done]")]
    assert len(skipped) == 3 * 3 - 2 and len(rerun) == 2  # 3 pretrain + 4 evaluations skipped, 2 re-run
    assert (out / manifest["members"][0]["dir"] / "pretrain" / "DONE.json").stat().st_mtime_ns == done_first
    assert (third / "probe-xep" / "results.jsonl").is_file()
