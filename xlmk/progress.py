"""Rich progress bars for long work; silent when the output is not a terminal or XLMK_QUIET=1."""
from __future__ import annotations

import os
import sys

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


class InfoColumn(ProgressColumn):
    """Free text a task sets with `progress.update(task, info=...)`, e.g. a live line of losses."""

    def render(self, task):  # noqa: D102
        from rich.text import Text

        return Text(str(task.fields.get("info", "")))


def progress_enabled() -> bool:
    return os.environ.get("XLMK_QUIET", "") != "1" and sys.stderr.isatty()


def make_progress(*, transient: bool = False, bytes_: bool = False) -> Progress:
    """A Progress with description, bar, count (or bytes), rate-friendly ETA; disabled off-terminal."""
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
        disable=not progress_enabled(),
    )
