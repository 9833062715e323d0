"""Kill -9 at a random step, resume, and end with the weights, queues and losses of an uninterrupted run."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from xlmk.config import recipe_to_yaml
from xlmk.pretrain.recipe import PretrainRecipe

ROOT = Path(__file__).resolve().parents[2]
# this checkout first, then whatever the tests run under (`make test-tf4` puts transformers 4.x there)
PYTHONPATH = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
LOSSES = ("mlm_loss", "mep_loss", "oe_loss", "mep_acc", "oe_acc", "lr", "grad_norm")


def _lines(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_kill_and_resume_reaches_the_uninterrupted_result(recipe_data, prepared, tmp_path, one_thread):
    from safetensors.torch import load_file

    from xlmk.pretrain.run import pretrain

    recipe_data["optim"]["max_steps"] = 40
    # the settings of the tiny recipes: their momentum encoder must resume exactly too
    recipe_data["tasks"].update(key_momentum=0.9, mep={"max_length": 32, "pooling": "mean"})
    recipe_data["run"].update(save_every=4, keep_last=2)
    recipe = PretrainRecipe.model_validate(recipe_data)
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe))

    whole = pretrain(str(path), output_dir=tmp_path / "whole")

    killed = tmp_path / "killed"
    env = dict(os.environ, XLMK_QUIET="1", PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "xlmk.cli.pretrain", "--recipe", str(path), "--out", str(killed)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop_at = random.Random().randint(5, 30)
    deadline = time.time() + 120
    while len(_lines(killed)) < stop_at and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not (killed / "final").exists(), "the run finished before it could be killed"
    logged = len(_lines(killed))

    resumed = pretrain(None, resume=killed)
    assert resumed.run_dir == killed and resumed.step == 40
    a, b = _lines(tmp_path / "whole"), _lines(killed)
    assert [x["step"] for x in b] == list(range(1, 41)), f"killed after {logged} logged steps"
    for x, y in zip(a, b):
        for key in LOSSES:
            assert x[key] == pytest.approx(y[key], rel=1e-5, abs=1e-6), (x["step"], key)
    wa, wb = (load_file(str(r / "final" / "model.safetensors")) for r in (whole.run_dir, killed))
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
    ha, hb = (load_file(str(r / "final" / "xlmk_heads.safetensors")) for r in (whole.run_dir, killed))
    assert all(torch.allclose(ha[k], hb[k], atol=1e-6) for k in ha)
    qa, qb = (load_file(str(r / "checkpoints/step-00000040/trainer_state/queues.safetensors"))
              for r in (whole.run_dir, killed))
    assert all(torch.allclose(qa[k].float(), qb[k].float(), atol=1e-6) for k in qa)
    # keep_last: only the two newest checkpoints stay, and no partial one is left behind
    assert sorted(p.name for p in (killed / "checkpoints").iterdir()) == ["step-00000036", "step-00000040"]
