"""Two processes (gloo on CPU) train exactly as one process with the same global batch, and the queue
receives the keys of both; the gather behind it copes with unequal batches."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import pretrain_helpers as H


def _spawn(fn, *args, tmp: Path) -> None:
    init = tmp / "dist-init"
    mp.spawn(fn, args=(2, str(init), *args), nprocs=2, join=True)


def test_gather_with_unequal_batches_and_gradients(tmp_path):
    _spawn(H.gather_worker, str(tmp_path), tmp=tmp_path)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    expected = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [100.0, 101.0], [102.0, 103.0]]
    assert r0["full"] == r1["full"] == expected
    assert r0["sizes"] == [3, 2] and (r0["offset"], r1["offset"]) == (0, 3)
    assert r0["ids"] == r1["ids"] == [0, 1, 2, 10, 11]
    # rank r weighs every gathered row by r + 1: each owner receives 1 + 2 = 3 for each of its rows
    assert r0["grad"] == [[3.0, 3.0]] * 3 and r1["grad"] == [[3.0, 3.0]] * 2


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_match_one_process(recipe_data, prepared, tmp_path, one_thread):
    from safetensors.torch import load_file

    from xlmk.config import recipe_to_yaml
    from xlmk.pretrain.loop import train
    from xlmk.pretrain.recipe import PretrainRecipe

    recipe_data["optim"]["max_steps"] = 4
    recipe_data["run"]["save_every"] = 4
    one = PretrainRecipe.model_validate(recipe_data)
    train(one, tmp_path / "one", recipe_to_yaml(one))
    two = dict(recipe_data, batch={**recipe_data["batch"], "micro_size": 4})  # 2 x 4 = the same global 8
    _spawn(H.train_worker, two, str(tmp_path / "two"), tmp=tmp_path)

    m1, m2 = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert len(m1) == len(m2) == 4
    for a, b in zip(m1, m2):
        for key in ("mlm_loss", "mep_loss", "oe_loss", "mep_acc", "oe_acc", "grad_norm"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (a["step"], key)
        assert a["tokens"] == b["tokens"]
    w1 = load_file(str(tmp_path / "one/final/model.safetensors"))
    w2 = load_file(str(tmp_path / "two/final/model.safetensors"))
    for k in w1:
        assert torch.allclose(w1[k], w2[k], atol=2e-5), k
    h1 = load_file(str(tmp_path / "one/final/xlmk_heads.safetensors"))
    h2 = load_file(str(tmp_path / "two/final/xlmk_heads.safetensors"))
    for k in h1:
        assert torch.allclose(h1[k], h2[k], atol=2e-5), k
    # the queues hold the keys of both processes' examples, in the order of the one-process run
    q1 = load_file(str(tmp_path / "one/checkpoints/step-00000004/trainer_state/queues.safetensors"))
    q2 = load_file(str(tmp_path / "two/checkpoints/step-00000004/trainer_state/queues.safetensors"))
    for task in ("mep", "oe"):
        assert torch.equal(q1[f"{task}.ids"], q2[f"{task}.ids"])
        assert (q2[f"{task}.ids"] >= 0).sum() == 16  # 4 steps x 8 keys fill the 16 slots
        assert torch.allclose(q1[f"{task}.keys"], q2[f"{task}.keys"], atol=2e-5)
