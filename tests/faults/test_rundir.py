"""The run-directory rules, one by one: the lock (and who holds it), resume/overwrite/refuse, keyed rows."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from faults_support import PYTHONPATH
from xlmk.errors import ConfigError, DataError
from xlmk.results import ResultRow, append_rows, read_rows, remove_rows, row_key
from xlmk.rundir import LOCK_FILE, RunBusyError, differences, lock, open_run, read_state

HOLD = ("import sys, time; from xlmk.rundir import lock; lock(sys.argv[1], what='finetune run').acquire(); "
        "print('held', flush=True); time.sleep(120)")


def test_a_held_directory_is_refused_naming_its_holder_and_a_killed_holder_frees_it(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=PYTHONPATH))
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunBusyError) as err:
            lock(tmp_path).acquire()
        message = str(err.value)
        assert f"in use by another finetune run: pid {proc.pid} on {socket.gethostname()}" in message
        assert "choose another --out" in message and "-c" in message  # the holder's command line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # the kernel released the lock of the killed holder: no stale lock to clean up by hand
    with lock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: the file names no holder


def test_shard_tasks_share_the_directory_and_lock_their_own_shard(tmp_path):
    shard = tmp_path / "mentions" / "part-00003.parquet"
    shard.parent.mkdir()
    shard.touch()
    a, b = lock(tmp_path, shared=True).acquire(), lock(tmp_path, shared=True).acquire()
    try:
        with pytest.raises(RunBusyError, match="in use by another"):
            lock(tmp_path, what="knowledge build").acquire()  # no whole-directory writer beside the tasks
        with lock(shard):
            with pytest.raises(RunBusyError, match=str(shard.parent)):
                lock(shard).acquire()  # one task per shard
        with lock(shard):  # free again once its task let go: taking it succeeds
            pass
    finally:
        a.release()
        b.release()
    with lock(tmp_path):  # every shared holder gone: the whole directory can be taken
        pass


def test_an_existing_run_is_resumed_only_when_asked_and_only_when_it_is_the_same(tmp_path):
    identity = {"name": "xlmk-tiny", "optim": {"lr": 0.001, "max_steps": 40}}
    with open_run(tmp_path, stage="pretrain", identity=identity) as run:
        assert not run.resumed and read_state(tmp_path)["status"] == "running"
        (tmp_path / "metrics.jsonl").write_text("{}\n")
        run.finish(step=40)
    before = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match=r"already holds a finished pretrain run; pass --resume to continue it, "
                                          r"--overwrite to replace it, or choose another --out"):
        open_run(tmp_path, stage="pretrain", identity=identity)
    changed = {"name": "xlmk-tiny", "optim": {"lr": 0.001, "max_steps": 300}}
    with pytest.raises(ConfigError, match=r"differs in: optim.max_steps: 40 -> 300\. Resume with the run's own"):
        open_run(tmp_path, stage="pretrain", identity=changed, mode="resume")
    with pytest.raises(ConfigError, match="holds a pretrain run, not a finetune run"):
        open_run(tmp_path, stage="finetune", identity=identity, mode="resume")
    with open_run(tmp_path, stage="pretrain", identity=identity, mode="resume") as run:
        assert run.resumed and run.finished_before  # the caller does nothing
    assert (tmp_path / "metrics.jsonl").read_text() == before and read_state(tmp_path)["step"] == 40
    with pytest.raises(ConfigError, match="exclude each other"):
        from xlmk.rundir import mode_of

        mode_of(True, True)
    with open_run(tmp_path, stage="pretrain", identity=changed, mode="overwrite") as run:
        assert not run.resumed
        assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE, "run.json"]
    assert read_state(tmp_path)["identity"] == changed


def test_overwrite_never_empties_a_directory_that_holds_no_run(tmp_path):
    (tmp_path / "thesis.tex").write_text("years of work")
    with open_run(tmp_path, stage="probe", identity={}, mode="overwrite"):
        pass  # nothing of a run there: nothing to replace, nothing removed
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    (tmp_path / "run.json").unlink()
    (tmp_path / "results.jsonl").write_text("")
    (tmp_path / "notes").mkdir()
    with open_run(tmp_path, stage="probe", identity={}, mode="overwrite"):  # results.jsonl marks a run: replaced
        pass
    assert not (tmp_path / "thesis.tex").exists()  # a run directory is replaced whole


def test_differences_name_every_changed_key():
    old = {"optim": {"lr": 1e-3, "betas": [0.9, 0.98]}, "tasks": {"mep": {"max_length": 64}}, "seed": 1}
    new = {"optim": {"lr": 1e-3, "betas": [0.9, 0.999]}, "tasks": {"mep": None}, "seed": 1, "extra": True}
    assert differences(old, new) == ["extra: <absent> -> true", "optim.betas: [0.9, 0.98] -> [0.9, 0.999]",
                                     "tasks.mep: <absent> -> null", "tasks.mep.max_length: 64 -> <absent>"]
    assert differences(old, new, ignore=("tasks", "extra")) == ["optim.betas: [0.9, 0.98] -> [0.9, 0.999]"]


def _row(**kw) -> ResultRow:
    base = dict(stage="probe", name="xep", version=1, model="runs/A/final", model_hash="a" * 64, metric="accuracy",
                value=50.0, language="de", seed=1)
    return ResultRow(**{**base, **kw})


def test_results_files_keep_one_row_per_key(tmp_path):
    append_rows(tmp_path, [_row(), _row(language="fr")])
    append_rows(tmp_path, [_row(value=51.0), _row(language="fr")])  # a rerun: the same measurements again
    rows = read_rows([tmp_path])
    assert [(r.language, r.value) for r in rows] == [("de", 50.0), ("fr", 50.0)]
    assert all(r.key == row_key(r) for r in rows)
    # other models, seeds, versions and data are other rows; when it was written is not part of the key
    append_rows(tmp_path, [_row(model_hash="b" * 64), _row(seed=2), _row(version=2), _row(data_hash="d"),
                           _row(time="2020-01-01T00:00:00+00:00")])
    assert len(read_rows([tmp_path])) == 6
    assert remove_rows(tmp_path, lambda r: r.seed == 2) == 1 and len(read_rows([tmp_path])) == 5
    # rows written before rows had keys are matched by their content
    old = _row(language="es").model_dump(mode="json")
    old.pop("key")
    with open(tmp_path / "results.jsonl", "a") as fh:
        fh.write(json.dumps(old) + "\n")
    append_rows(tmp_path, [_row(language="es")])
    assert len(read_rows([tmp_path])) == 6


def test_knowledge_stats_refuses_a_manifest_that_does_not_describe_its_shards(tmp_path, xlmk_cache):
    import shutil

    from xlmk.knowledge.manifest import knowledge_stats
    from xlmk.sample_world.knowledge import sample_knowledge_dir

    kdir = shutil.copytree(sample_knowledge_dir(xlmk_cache), tmp_path / "k")
    assert knowledge_stats(kdir)["tables"]["mentions"]["rows"] > 0
    manifest = json.loads((kdir / "manifest.json").read_text())
    # as a second build writing into the directory leaves it: the manifest lacks one language's shards
    files = manifest["tables"]["mentions"]["files"]
    dropped = sorted(files)[-1]
    del files[dropped]
    (kdir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=rf"manifest.json: 1 shard\(s\) of table mentions are not in the manifest "
                                        rf"\({dropped}\).*xlmk knowledge build --fresh"):
        knowledge_stats(kdir)


def test_a_sweep_or_demo_into_a_directory_in_use_stops_before_any_work(tmp_path):
    from xlmk.demo import demo
    from xlmk.sweep import sweep

    with lock(tmp_path, what="sweep"):
        with pytest.raises(RunBusyError, match=rf"{tmp_path} is in use by another sweep: pid {os.getpid()}"):
            sweep("xlmk-tiny", "queue.size=64,128", ["probe xep"], out=tmp_path)
        with pytest.raises(RunBusyError, match="in use by another sweep"):
            demo(tmp_path, steps=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]  # nothing was written
