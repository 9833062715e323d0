"""Building blocks of the fault tests: the xlmk command in a subprocess, frozen while it holds a lock."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

from xlmk.rundir import LOCK_FILE, read_holder

ROOT = Path(__file__).resolve().parents[2]
# this checkout first, then whatever the tests run under (`make test-tf4` puts transformers 4.x there)
PYTHONPATH = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
# a pre-training run of a few steps (one checkpoint on the way)
PRETRAIN = ["optim.max_steps=4", "optim.warmup_steps=1", "run.save_every=2", "run.log_every=1",
            "batch.effective_size=8", "batch.micro_size=8", "tasks.mlm.max_length=32", "run.heldout_max=0"]
FINETUNE = ["optim.batch_size=8", "task.max_length=32", "run.save_model=false", "run.save_predictions=false"]


def xlmk(*args: str) -> subprocess.Popen:
    """`xlmk ARGS` in a fresh process (this checkout's xlmk, the tests' cache)."""
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, XLMK_QUIET="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "xlmk.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lock(directory: Path, proc: subprocess.Popen, timeout: float = 300) -> dict:
    """Wait until `proc` holds the lock of `directory`; returns what the lock file says."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        holder = read_holder(directory / LOCK_FILE)
        if holder.get("pid") == proc.pid:
            return holder
        if proc.poll() is not None:
            raise AssertionError(f"exited ({proc.returncode}) before taking the lock: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError(f"{proc.args} did not lock {directory} in {timeout} s")


@contextlib.contextmanager
def holding(directory: Path, *args: str, until: Callable[[], bool] | None = None) -> Iterator[subprocess.Popen]:
    """`xlmk ARGS`, frozen (SIGSTOP) while it holds the lock of `directory` (and, given `until`, once
    `until()` is true); thawed when the block ends."""
    proc = xlmk(*args)
    try:
        wait_for_lock(directory, proc)
        deadline = time.time() + 300
        while until is not None and not until() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, f"finished before it could be stopped: {proc.stderr.read()[-2000:]}"
        os.kill(proc.pid, signal.SIGSTOP)
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    os.kill(proc.pid, signal.SIGCONT)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()] if path.is_file() else []


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file below `directory` (but the lock file), to show that nothing changed."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != LOCK_FILE}
