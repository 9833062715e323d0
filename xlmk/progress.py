"""Progress of long work: rich bars on a terminal, plain timestamped lines in a log file, or JSON lines.

`make_progress()` picks the display from `XLMK_LOG_FORMAT` (`auto`: bars when stderr is a terminal,
plain lines otherwise; `rich`, `plain`, `json`), which `xlmk --log-format` sets. Off a terminal (SLURM,
nohup, `| tee`) a line goes to stderr when a task starts, every `XLMK_LOG_EVERY` (`30s` by default, or
`100steps` for training loops, which post `metrics`), and when it ends: step, the task's live info (loss
terms, tokens/s), rate and ETA.
`XLMK_QUIET=1` silences all of it, as does being any process but the first under a launcher. Stages
only call `add_task`/`update`/`advance`/`remove_task`.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.progress import (
    BarColumn,
    ProgressColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from xlmk.errors import ConfigError

LOG_FORMATS = ("auto", "rich", "plain", "json")


class InfoColumn(ProgressColumn):
    """Free text a task sets with `progress.update(task, info=...)`, e.g. a live line of losses."""

    def render(self, task):  # noqa: D102
        from rich.text import Text

        return Text(str(task.fields.get("info", "")))


def quiet() -> bool:
    # under a launcher only the first process reports, or a log file holds every line once per process
    return os.environ.get("XLMK_QUIET", "") == "1" or os.environ.get("RANK", "0") != "0"


def log_format() -> str:
    """The display `make_progress` uses: rich, plain or json (auto resolved against stderr)."""
    fmt = os.environ.get("XLMK_LOG_FORMAT", "auto") or "auto"
    if fmt not in LOG_FORMATS:
        raise ConfigError(f"XLMK_LOG_FORMAT={fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
    if fmt == "auto":
        return "rich" if sys.stderr.isatty() else "plain"
    return fmt


def log_every() -> tuple[float, int]:
    """(seconds, steps) between lines from `XLMK_LOG_EVERY`: '30s', '30' (seconds) or '100steps'."""
    text = (os.environ.get("XLMK_LOG_EVERY", "") or "30s").strip().lower()
    try:
        if text.endswith("steps"):
            steps = int(text[: -len("steps")])
            if steps < 1:
                raise ValueError
            return 30.0, steps  # the time rule still paces tasks that count no steps (bytes, rows)
        seconds = float(text[:-1] if text.endswith("s") else text)
        if seconds < 0:
            raise ValueError
        return seconds, 0
    except ValueError:
        raise ConfigError(f"XLMK_LOG_EVERY={text!r}: expected seconds ('30s', '0' = every update) "
                          "or steps ('100steps')") from None


def configure(*, log_format: str | None = None, every: str | None = None) -> None:
    """Set the display for this process and the processes it starts (launchers, workers)."""
    if log_format is not None:
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"--log-format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
        os.environ["XLMK_LOG_FORMAT"] = log_format
    if every is not None:
        os.environ["XLMK_LOG_EVERY"] = every
        log_every()  # refuse a malformed value now, not at the first line


def progress_enabled() -> bool:
    """Whether rich bars are drawn (the line displays have their own switch)."""
    return not quiet() and log_format() == "rich"


def make_progress(*, transient: bool = False, bytes_: bool = False) -> Any:
    """A rich Progress on a terminal, else a LineProgress with the same methods; silent under XLMK_QUIET=1."""
    fmt = "rich" if quiet() else log_format()
    if fmt != "rich":
        seconds, steps = log_every()
        return LineProgress(fmt, seconds=seconds, steps=steps, bytes_=bytes_)
    from rich.progress import DownloadColumn, TransferSpeedColumn

    count = [DownloadColumn(), TransferSpeedColumn()] if bytes_ else [MofNCompleteColumn()]
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *count,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        InfoColumn(),
        transient=transient,
        disable=quiet(),
    )


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float
    fields: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    start_completed: float = 0.0
    last_time: float = field(default_factory=time.monotonic)
    last_completed: float = 0.0
    finished: bool = False


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class LineProgress:
    """rich.Progress's task methods, drawn as one line per event instead of a bar (for log files)."""

    def __init__(self, fmt: str = "plain", *, seconds: float = 30.0, steps: int = 0, bytes_: bool = False,
                 stream: TextIO | None = None) -> None:
        if fmt not in ("plain", "json"):
            raise ConfigError(f"log format {fmt!r}: expected plain or json")
        self.fmt, self.seconds, self.steps, self.bytes_ = fmt, seconds, steps, bytes_
        self.stream = stream
        self.tasks: dict[int, _Task] = {}
        self._next_id = 0

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        for task_id in list(self.tasks):
            self.remove_task(task_id)

    # ---- the rich.Progress methods stages call
    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: Any) -> int:
        task_id = self._next_id  # ids only grow: a removed task keeps its id
        self._next_id += 1
        self.tasks[task_id] = _Task(description, total, completed, dict(fields), start_completed=completed,
                                    last_completed=completed)
        self._emit(self.tasks[task_id], "start")
        return task_id

    def update(self, task_id: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None, **fields: Any) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            return
        if total is not None:
            task.total = total
        if description is not None:
            task.description = description
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        task.fields.update(fields)
        self._maybe_emit(task)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def remove_task(self, task_id: int) -> None:
        task = self.tasks.pop(task_id, None)
        if task is not None and not task.finished:
            self._emit(task, "end")

    # ---- lines
    def _maybe_emit(self, task: _Task) -> None:
        if task.finished:
            return
        if task.total is not None and task.completed >= task.total:
            self._emit(task, "end")
            task.finished = True
            return
        now = time.monotonic()
        # the step rule applies to training loops, which post `metrics`; bytes and rows follow the clock
        by_steps = self.steps and "metrics" in task.fields
        if (by_steps and task.completed - task.last_completed >= self.steps) or \
                (not by_steps and now - task.last_time >= self.seconds):
            self._emit(task, "progress")

    def _emit(self, task: _Task, event: str) -> None:
        now = time.monotonic()
        task.last_time, task.last_completed = now, task.completed
        elapsed = now - task.started
        done = task.completed - task.start_completed
        rate = done / elapsed if elapsed > 0 and done > 0 else None
        eta = (task.total - task.completed) / rate if rate and task.total is not None else None
        stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        stream = self.stream or sys.stderr
        if self.fmt == "json":
            record = {"time": stamp, "event": event, "task": task.description, "completed": task.completed,
                      "total": task.total, "elapsed_s": round(elapsed, 3),
                      "rate_per_s": None if rate is None else round(rate, 3),
                      "eta_s": None if eta is None else round(eta, 1)}
            record.update({k: v for k, v in task.fields.items() if _jsonable(v)})
            stream.write(json.dumps(record) + "\n")
        else:
            size = _bytes if self.bytes_ else (lambda n: f"{n:,.0f}")
            count = size(task.completed) + (f"/{size(task.total)}" if task.total is not None else "")
            if task.total:
                count += f" ({100 * task.completed / task.total:.0f}%)"
            parts = [stamp, task.description, count]
            info = task.fields.get("info")
            if info:
                parts.append(str(info))
            if rate is not None:
                parts.append(f"{_bytes(rate)}/s" if self.bytes_ else f"{rate:,.2f} it/s")
            parts.append(f"elapsed {_clock(elapsed)}")
            if eta is not None and event != "end":
                parts.append(f"eta {_clock(eta)}")
            stream.write(" | ".join(parts) + "\n")
        stream.flush()


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False
