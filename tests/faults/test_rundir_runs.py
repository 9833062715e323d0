"""Each verb under faults: a second run into a directory in use, a holder killed while it writes, reruns
and resumes of finished runs. Every case checks the message and that nothing written earlier was lost.

The first run is the real `xlmk` command in a subprocess, frozen (SIGSTOP) as soon as it holds its run
directory, so the second run always meets it mid-run; then it is killed or let go.
"""
from __future__ import annotations

import json

import pytest

from faults_support import FINETUNE, PRETRAIN, finish, holding, kill, lines, snapshot
from xlmk.errors import ConfigError
from xlmk.results import read_rows
from xlmk.rundir import RunBusyError, read_state

pytestmark = pytest.mark.slow


def _sets(overrides: list[str]) -> list[str]:
    return [x for o in overrides for x in ("--set", o)]


def test_pretrain_concurrent_killed_resumed_and_rerun(tmp_path, xlmk_cache):
    from xlmk.pretrain.run import pretrain

    run = tmp_path / "run"
    with holding(run, "pretrain", "--recipe", "mlm-only-tiny", "--out", str(run), *_sets(PRETRAIN),
                 until=lambda: len(lines(run / "metrics.jsonl")) >= 1) as first:  # mid-training
        with pytest.raises(RunBusyError, match=rf"{run} is in use by another pretrain run: pid {first.pid} .*xlmk"):
            pretrain("mlm-only-tiny", PRETRAIN, output_dir=run)
        kill(first)  # a crash while holding the directory
    assert read_state(run)["status"] == "running"
    with pytest.raises(ConfigError, match=r"already holds an unfinished pretrain run; pass --resume to continue it"):
        pretrain("mlm-only-tiny", PRETRAIN, output_dir=run)
    done = pretrain("mlm-only-tiny", PRETRAIN, resume=run)
    assert done.step == 4 and [m["step"] for m in lines(run / "metrics.jsonl")] == [1, 2, 3, 4]
    rows = read_rows([run])
    assert rows and len({r.key for r in rows}) == len(rows) and {r.model_run for r in rows} == {"run"}
    before = snapshot(run)

    again = pretrain(None, resume=run)  # finished: nothing is trained, nothing appended
    assert again.finished_before and again.step == 4 and again.model_dir == run / "final" and snapshot(run) == before
    with pytest.raises(ConfigError, match=r"differs in: optim.max_steps: 4 -> 8\. A resumed run keeps its recipe"):
        pretrain(None, ["optim.max_steps=8"], resume=run)
    with pytest.raises(ConfigError, match=r"differs in: .*name: \"mlm-only-tiny\" -> \"mep-tiny\".*tasks.mep"):
        pretrain("mep-tiny", PRETRAIN, resume=run)
    # --set can make another recipe the same one again
    assert pretrain(None, ["optim.max_steps=8", "optim.max_steps=4"], resume=run).step == 4
    assert snapshot(run) == before


def test_finetune_concurrent_killed_resumed_and_rows_rebuilt_from_outcomes(tmp_path, tiny_model, monkeypatch):
    from xlmk.downstream import loop
    from xlmk.downstream.run import finetune

    run = tmp_path / "ft"
    args = dict(model=str(tiny_model), languages=["en", "de"], seeds=[1], overrides=FINETUNE, out=run)
    with holding(run, "finetune", "xnli-tiny", "--model", str(tiny_model), "--languages", "en,de", "--seeds", "1",
                 "--out", str(run), *_sets(FINETUNE), until=(run / "recipe.yaml").is_file) as first:  # it started
        with pytest.raises(RunBusyError, match=rf"in use by another finetune run: pid {first.pid}"):
            finetune("xnli-tiny", **args)
        kill(first)
    with pytest.raises(ConfigError, match=r"already holds an unfinished finetune run; pass --resume"):
        finetune("xnli-tiny", **args)
    with pytest.raises(ConfigError, match=r"differs in: recipe.optim.lr: .* -> 0.5"):
        finetune("xnli-tiny", resume=True, **{**args, "overrides": FINETUNE + ["optim.lr=0.5"]})
    done = finetune("xnli-tiny", resume=True, **args)
    rows = read_rows([run])
    assert len(rows) == len(done.rows) == 2 * 2 * 2  # protocols x splits x languages, one metric
    before = snapshot(run)
    monkeypatch.setattr(loop, "fit", lambda *a, **k: pytest.fail("a finished seed was trained again"))
    resumed = finetune("xnli-tiny", resume=True, **args)
    assert resumed.summary == json.loads((run / "summary.json").read_text()) and snapshot(run) == before

    # killed after the seed's outcome.json, before its rows reached results.jsonl: the resume writes them
    (run / "results.jsonl").unlink()
    (run / "summary.json").unlink()
    state = read_state(run)
    (run / "run.json").write_text(json.dumps({**state, "status": "running"}))
    finetune("xnli-tiny", resume=True, **args)
    assert sorted((r.key, r.value) for r in read_rows([run])) == sorted((r.key, r.value) for r in rows)


def test_probe_concurrent_and_reruns_keep_one_set_of_rows(tmp_path, xlmk_cache):
    from xlmk.probe.run import build_recipe, probe

    out = tmp_path / "lama"
    first = probe(build_recipe("lama-tiny"), out_dir=out)
    n = len(read_rows([out]))
    assert n == len(first.rows) > 0
    with pytest.raises(ConfigError, match=rf"{out} \(run 'init-tiny-sample-seed0'\) already holds a finished probe "
                                          r"run; pass --resume"):
        probe(build_recipe("lama-tiny"), out_dir=out)
    again = probe(build_recipe("lama-tiny"), out_dir=out, resume=True)
    assert len(again.rows) == n and len(read_rows([out])) == n  # not 2n
    assert again.coverage == first.coverage
    with holding(out, "probe", "lama", "--recipe", "lama-tiny", "--out", str(out), "--overwrite") as holder:
        with pytest.raises(RunBusyError, match=rf"in use by another probe run: pid {holder.pid}"):
            probe(build_recipe("lama-tiny"), out_dir=out, resume=True)
    finish(holder)
    rows = read_rows([out])
    assert len(rows) == n and [r.value for r in rows] == [r.value for r in first.rows]
    # another model shares the directory: its rows are added beside, the first model's stay
    second = probe(build_recipe("lama-tiny", overrides=["run.model_name=other"]), out_dir=out)
    assert len(read_rows([out])) == n + len(second.rows)


def test_knowledge_build_concurrent_into_one_directory(tmp_path):
    from xlmk.knowledge.build import build_knowledge
    from xlmk.knowledge.manifest import knowledge_stats
    from xlmk.knowledge.options import BuildOptions, WikipediaInput
    from xlmk.sample_world.knowledge import sample_dumps

    wikidata, wikipedia = sample_dumps()
    out = tmp_path / "k"
    en = next(p for p in wikipedia if p.name.startswith("enwiki"))
    de = next(p for p in wikipedia if p.name.startswith("dewiki"))
    with holding(out, "knowledge", "build", "--out", str(out), "--wikidata", str(wikidata), "--wikipedia", str(en),
                 "--wikipedia", str(de)) as first:
        with pytest.raises(RunBusyError, match=rf"{out} is in use by another knowledge build: pid {first.pid}"):
            build_knowledge(BuildOptions(out=out, wikidata=wikidata, wikipedia=[WikipediaInput(path=en)]))
    finish(first)
    stats = knowledge_stats(out)  # the first build's manifest describes every shard, both languages
    assert set(stats["tables"]["mentions"]["by_lang"]) == {"en", "de"}
