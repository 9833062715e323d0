"""Run directories: one writer at a time, resumed only when the run is the same, replaced only on request.

Every verb that writes a directory (pretrain, finetune, probe, knowledge build, sweep, demo) opens it here:

- **lock**: `DIR/.xlmk-lock` is held with `fcntl.flock` while the run writes. The kernel releases it when
  the holder exits, however it exits (a `kill -9` leaves no stale lock). The file also holds the
  holder's pid, host, command and start time, so a refused run can say who has the directory. A build
  whose shard tasks share one directory takes the directory lock *shared* and each task locks its own
  shard (`lock(shard_path)`); an exclusive holder and shared holders exclude each other.
- **state**: `DIR/run.json` (or `DIR/run-NAME.json` for one of several runs sharing a directory, as
  probes of several models do) records the stage, the run's identity (the resolved recipe and the
  inputs it was given) and whether it finished.
- **rules**: a directory that holds a run is continued only with `resume` (and only when the identity
  is the same: otherwise the differing keys are listed), replaced only with `overwrite`, and refused
  otherwise with the flag to use. A finished run resumed does nothing.

`model_identity` gives a model directory's identity for result rows: the run directory that produced
it, the recipe that trained it and a hash of its weights.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

from xlmk.errors import ConfigError, XlmkError

LOCK_FILE = ".xlmk-lock"
STATE_FILE = "run.json"
Mode = Literal["new", "resume", "overwrite"]
# files that say "an xlmk run wrote this directory" for runs older than run.json
RUN_MARKERS = ("results.jsonl", "recipe.yaml", "metrics.jsonl", "summary.json", "checkpoints", "final")


class RunBusyError(XlmkError):
    """Another process holds the directory's lock."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _command() -> str:
    """The holder's command line, as the user typed it (`python -m xlmk.cli …` shows as `xlmk …`)."""
    if not sys.argv or not sys.argv[0]:
        return "python"
    program = Path(sys.argv[0])
    inside = Path(__file__).resolve().parent in program.resolve().parents
    return " ".join(["xlmk" if inside else program.name, *sys.argv[1:]])


# ---------------------------------------------------------------- locks
class Lock:
    """An flock on `DIR/.xlmk-lock` for a directory, or on `.NAME.lock` beside a file (a shard)."""

    def __init__(self, target: str | Path, *, shared: bool = False, what: str = "run"):
        target = Path(target)
        self.path = target / LOCK_FILE if target.is_dir() else target.with_name(f".{target.name}.lock")
        self.shared, self.what = shared, what
        self._fd: int | None = None

    def acquire(self) -> "Lock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise RunBusyError(self._busy_message()) from None
        self._fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(), "started": _now(),
                "what": self.what, "shared": self.shared}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        return self

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            if not self.shared:
                os.ftruncate(self._fd, 0)  # a reader of the file sees no holder
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def _busy_message(self) -> str:
        holder = read_holder(self.path)
        where = self.path.parent
        if not holder:
            return f"{where} is in use by another process (lock {self.path}); wait for it to finish or choose another --out"
        return (f"{where} is in use by another {holder.get('what', 'run')}: pid {holder.get('pid')} on {holder.get('host')}, "
                f"started {holder.get('started')} ({holder.get('command')}); wait for it to finish, "
                "stop it, or choose another --out")

    def __enter__(self) -> "Lock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def read_holder(lock_path: str | Path) -> dict:
    """What the lock file says about its holder ({} when none wrote there)."""
    try:
        text = Path(lock_path).read_text(encoding="utf-8").strip()
        return json.loads(text) if text else {}
    except (OSError, json.JSONDecodeError):
        return {}


def lock(target: str | Path, *, shared: bool = False, what: str = "run") -> Lock:
    """`with lock(dir):` holds DIR exclusively (or `shared=True`: beside other shared holders, e.g. the
    shard tasks of one knowledge build, each of which then holds `lock(shard_file)` exclusively)."""
    return Lock(target, shared=shared, what=what)


# ---------------------------------------------------------------- identity differences
def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 1}} -> {"optim.lr": 1}; lists stay values."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data} if prefix else {"": data}


def differences(old: dict, new: dict, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """'key: old -> new' for every dotted key whose value differs (keys under `ignore` skipped)."""
    a, b = flatten(old), flatten(new)
    out = []
    for key in sorted(set(a) | set(b)):
        if any(key == i or key.startswith(i + ".") for i in ignore):
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            out.append(f"{key}: {_short(a.get(key, '<absent>'))} -> {_short(b.get(key, '<absent>'))}")
    return out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) and value == "<absent>" else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def refuse_differences(diffs: list[str], where: str, hint: str) -> None:
    if diffs:
        shown = "; ".join(diffs[:12]) + (f"; and {len(diffs) - 12} more" if len(diffs) > 12 else "")
        raise ConfigError(f"{where} differs in: {shown}. {hint}")


# ---------------------------------------------------------------- run state
@dataclass
class Run:
    """An opened run directory: the lock is held until `close()` (or the end of the `with`)."""

    path: Path
    stage: str
    state_file: Path
    identity: dict
    lock: Lock | None
    resumed: bool = False           # an earlier unfinished run of the same identity is continued
    finished_before: bool = False   # the run had finished: the caller does nothing
    state: dict = field(default_factory=dict)

    def finish(self, **info: Any) -> None:
        from xlmk.io import atomic_write_json

        self.state.update(status="finished", finished=_now(), **info)
        atomic_write_json(self.state_file, self.state)

    def reopen(self) -> None:
        """A finished run that gets more work (more seeds): it is running again until `finish`."""
        from xlmk.io import atomic_write_json

        if self.finished_before:
            self.finished_before = False
            self.state.update(status="running", identity=self.identity, resumed=_now(), command=_command())
            atomic_write_json(self.state_file, self.state)

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def state_file(path: Path, name: str | None) -> Path:
    return path / (STATE_FILE if name is None else f"run-{safe_name(name)}.json")


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def read_state(path: str | Path, name: str | None = None) -> dict | None:
    f = state_file(Path(path), name)
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{f}: unreadable run state ({exc.msg}, line {exc.lineno})") from None


def holds_run(path: Path, name: str | None = None, markers: tuple[str, ...] = RUN_MARKERS) -> bool:
    """True when `path` holds (this) run: its state file, or for older runs one of `markers`."""
    return state_file(path, name).is_file() or any((path / m).exists() for m in markers)


def mode_of(resume: bool, overwrite: bool) -> Mode:
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other: continue the run, or replace it")
    return "resume" if resume else "overwrite" if overwrite else "new"


def open_run(path: str | Path, *, stage: str, identity: dict, mode: Mode = "new", name: str | None = None,
             markers: tuple[str, ...] = RUN_MARKERS, ignore: tuple[str, ...] = (), legacy: dict | None = None,
             lock_it: bool = True) -> Run:
    """Lock `path` and decide, by the rules in this module's docstring, whether this run may write it.

    `identity` is what must match for a resume (JSON-able: the resolved recipe and the inputs' hashes);
    `ignore` lists dotted keys that may differ (a fine-tuning run may add seeds); `legacy` is the
    identity of a run older than run.json, when the caller can tell it (e.g. from its recipe.yaml).
    `name` keeps several runs apart in one directory; `overwrite` then removes only what `markers` lists.
    """
    path = Path(path)
    what = f"{stage} run"
    held = Lock(_mkdir(path), what=what).acquire() if lock_it else None
    try:
        return _decide(path, stage, identity, mode, name, markers, ignore, legacy, held)
    except BaseException:
        if held is not None:
            held.release()
        raise


def _mkdir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file; --out names a directory")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _decide(path: Path, stage: str, identity: dict, mode: Mode, name: str | None, markers: tuple[str, ...],
            ignore: tuple[str, ...], legacy: dict | None, held: Lock | None) -> Run:
    from xlmk.io import atomic_write_json

    sfile = state_file(path, name)
    old = read_state(path, name)
    exists = old is not None or holds_run(path, name, markers)
    label = f"{path}" + (f" (run {name!r})" if name else "")
    run = Run(path, stage, sfile, identity, held)
    if exists and mode == "new":
        status = (old or {}).get("status", "unknown")
        raise ConfigError(f"{label} already holds {'a finished' if status == 'finished' else 'an unfinished'} "
                          f"{(old or {}).get('stage', stage)} run; pass --resume to continue it, --overwrite to replace "
                          "it, or choose another --out")
    if exists and mode == "overwrite":
        if old is None and not any((path / m).exists() for m in RUN_MARKERS) and name is None:
            raise ConfigError(f"{path} does not look like an xlmk run directory; not removing it (remove it yourself)")
        _clear(path, name, markers)
        old = None
    if exists and mode == "resume" and (old is not None or legacy is not None):
        if old is not None and old.get("stage") not in (None, stage):
            raise ConfigError(f"{label} holds a {old.get('stage')} run, not a {stage} run; choose another --out")
        before = old.get("identity", {}) if old is not None else legacy
        refuse_differences(differences(before, identity, ignore=ignore), f"{label}: this run's recipe or inputs "
                           "(new value after ->)", "Resume with the run's own settings, pass --overwrite to replace "
                           "it, or choose another --out")
        run.resumed = True
        run.finished_before = old is not None and old.get("status") == "finished"
    elif exists and mode == "resume":
        run.resumed = True  # an older run without a record of its identity: the stage checks what it can
    if run.finished_before:
        run.state = dict(old or {})  # as it finished: nothing is written
        return run
    run.state = {"stage": stage, "status": "running", "identity": identity, "started": (old or {}).get("started", _now()),
                 "resumed": _now() if run.resumed else None, "command": _command()}
    atomic_write_json(sfile, run.state)
    return run


def _clear(path: Path, name: str | None, markers: tuple[str, ...]) -> None:
    """Remove an earlier run's files (all but the lock; for a named run, only its own files)."""
    if name is None:
        for p in path.iterdir():
            if p.name == LOCK_FILE:
                continue
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        return
    state_file(path, name).unlink(missing_ok=True)
    for m in markers:
        p = path / m
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


# ---------------------------------------------------------------- model identity
GENERIC_NAMES = ("final", "best", "last", "model", "checkpoint", "step", "pretrain")


def model_label(path: str | Path) -> str:
    """A checkpoint's short name: its directory, with the run's name when the directory says little (final, step-100)."""
    p = Path(path)
    if p.name.lower().startswith(GENERIC_NAMES) and p.parent.name:
        return f"{p.parent.name}/{p.name}"
    return p.name or str(path)


def model_identity(path: str | Path | None) -> dict[str, Any]:
    """{"hash", "run", "recipe", "recipe_version"} of a model directory (all None for a hub name).

    `run` names the run directory that produced the model: `runs/A` for `runs/A/final` and for
    `runs/A/checkpoints/step-…`, given as its last two path parts when its own name says little.
    """
    from xlmk.modeling import model_hash

    if path is None or not Path(path).is_dir():
        return {"hash": None, "run": None, "recipe": None, "recipe_version": None}
    p = Path(path).resolve()
    run_dir = p.parent.parent if p.parent.name == "checkpoints" else p.parent if p.name.lower().startswith(GENERIC_NAMES) else p
    run = run_dir.name
    if run.lower().startswith(GENERIC_NAMES) and run_dir.parent.name:
        run = f"{run_dir.parent.name}/{run}"
    recipe, version = _training_recipe(p)
    return {"hash": model_hash(p), "run": run, "recipe": recipe, "recipe_version": version}


def _training_recipe(model_dir: Path) -> tuple[str | None, int | None]:
    import yaml

    f = model_dir / "recipe.yaml"
    if not f.is_file():
        return None, None
    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    version = data.get("version")
    return data.get("name"), version if isinstance(version, int) else None


@contextlib.contextmanager
def locked(path: str | Path, *, what: str) -> Iterator[Path]:
    """Hold `path` exclusively for a whole command (a sweep, the demo) that opens runs below it."""
    path = _mkdir(Path(path))
    with Lock(path, what=what):
        yield path
