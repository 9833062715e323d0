"""Two processes (gloo on CPU) fine-tune one run: one set of rows and files, the same scores in both."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ddp_worker  # noqa: E402


@pytest.mark.slow
def test_two_processes_write_one_run(realdata, small_model, tmp_path):
    import torch.multiprocessing as mp

    from xlmk.results import read_rows

    out = tmp_path / "run"
    kwargs = dict(recipe="panx", model=str(small_model), data=str(realdata / "wikiann"), seeds=[1], out=str(out),
                  languages=["en", "de", "zh"],
                  overrides=["optim.epochs=1", "optim.batch_size=2", "optim.lr=1e-3", "run.cpu=true",
                             "run.save_model=false"])
    mp.spawn(ddp_worker.finetune_worker, args=(2, str(tmp_path / "init"), kwargs, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0 == r1
    rows = read_rows([out])
    keys = [(r.seed, r.language, r.split, r.metric, r.protocol, r.extra.get("aggregate")) for r in rows]
    assert len(keys) == len(set(keys))  # written once, by the main process
    langs = json.loads((out / "summary.json").read_text())["languages"]
    assert {r.language for r in rows} == set(langs) == {"en", "de", "zh"}
    assert len(list((out / "seed-1/predictions/xglue-avg-dev").glob("test-*.tsv"))) == len(langs)
