"""The one result row every stage writes (`RUN_DIR/results.jsonl`), and its reader.

A row is self-describing: which model (path, hash and the run directory that trained it), which
recipe/task/probe at which version, which language, split, metric and seed, and the code (git commit,
xlmk version) and data (hash) behind it, so rows from different runs can be merged into one table, and
rows that should not be merged are found. Each row has a `key` over what it measures (not when); a
results file never holds two rows with one key, so a rerun or a resume adds no duplicates.
"""
from __future__ import annotations

import datetime as _dt
import functools
import json
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

from pydantic import Field, ValidationError

from xlmk.config import StrictModel
from xlmk.errors import DataError

RESULTS_FILE = "results.jsonl"
SCHEMA_VERSION = 2  # 2: model_run and key


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ResultRow(StrictModel):
    """One number: a metric of one model on one task/probe, language and split."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this row layout.")
    stage: Literal["pretrain", "probe", "finetune"] = Field(description="The stage that produced the number.")
    name: str = Field(description="Task, probe or recipe name (xnli, mlqa, ner, lama, xep, xlmk-tiny, …).")
    version: int = Field(description="Version of that task/probe/recipe; bumped when data handling or metric changes.")
    model: str = Field(description="Model path or hub name that was evaluated.")
    model_name: str | None = Field(None, description="Short label for tables (defaults to the model directory name).")
    model_hash: str | None = Field(None, description="sha256 over the model's weights and config.")
    model_run: str | None = Field(None, description="Run directory that trained the model (runs/A/final -> 'A'), when known.")
    recipe: str | None = Field(None, description="Recipe that trained the model, when known.")
    recipe_version: int | None = Field(None, description="Version of that recipe.")
    language: str | None = Field(None, description="Language code, or None for language-free numbers.")
    subset: str | None = Field(None, description="Corpus, relation or relation type (e.g. 'TREx/P17', 'TREx/N-1').")
    split: str = Field("test", description="dev, test, train or heldout.")
    metric: str = Field(description="f1, em, accuracy, p@1, mrr, loss, …")
    value: float = Field(description="The number; percentages are stored as 0-100 as the paper prints them.")
    n: int | None = Field(None, description="How many examples the number is over.")
    seed: int | None = Field(None, description="Seed of the run that produced it.")
    protocol: str | None = Field(None, description="Model-selection or scoring protocol (e.g. 'xglue-avg-dev').")
    git_commit: str | None = Field(None, description="Commit of the xlmk source that produced it.")
    xlmk_version: str | None = Field(None, description="xlmk package version.")
    data_hash: str | None = Field(None, description="sha256 of the evaluation data.")
    run_id: str | None = Field(None, description="Identifier of the run (its directory name by default).")
    time: str = Field(default_factory=_now, description="When the row was written (UTC, ISO 8601).")
    extra: dict[str, Any] = Field(default_factory=dict, description="Anything else worth keeping (stage-specific).")
    key: str | None = Field(None, description="Hash of what the row measures (see `row_key`); set when written.")


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the xlmk source tree (with '-dirty' when it has uncommitted changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def xlmk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xlmk")
    except PackageNotFoundError:
        return "0+unknown"


def provenance() -> dict[str, Any]:
    """Fields every row of this process shares."""
    return {"git_commit": git_commit(), "xlmk_version": xlmk_version()}


def row_key(row: ResultRow) -> str:
    """What a row measures: the model (hash, else path, and its label), stage, task/probe and version, the
    recipe that evaluated it, data, language, subset, split, metric, seed and protocol. Not the time or the code."""
    import hashlib

    evaluated_by = row.extra.get("finetune_recipe") or row.extra.get("probe_recipe")
    parts = [row.model_hash or row.model, row.model_name, row.stage, row.name, row.version, evaluated_by, row.data_hash, row.language,
             row.subset, row.split, row.metric, row.seed, row.protocol]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def append_rows(run_dir: str | Path, rows: Iterable[ResultRow]) -> Path:
    """Add rows to RUN_DIR/results.jsonl, leaving out rows whose key the file already holds.

    The file is rewritten in one atomic replace, so a reader (or a kill) sees either all of the new
    rows or none of them, and never half a line.
    """
    path = Path(run_dir) / RESULTS_FILE
    lines = _lines(path)
    seen = {_stored_key(line) for line in lines}
    new = []
    for row in rows:
        row = row if row.key else row.model_copy(update={"key": row_key(row)})
        if row.key not in seen:
            seen.add(row.key)
            new.append(row.model_dump_json() + "\n")
    if new or not path.exists():
        _rewrite(path, lines + new)
    return path


def remove_rows(run_dir: str | Path, drop: Callable[[ResultRow], bool]) -> int:
    """Remove the rows for which `drop` is true (a run being replaced); returns how many."""
    path = Path(run_dir) / RESULTS_FILE
    lines = _lines(path)
    kept = [line for line in lines if not drop(ResultRow.model_validate(json.loads(line)))]
    if len(kept) != len(lines):
        _rewrite(path, kept)
    return len(lines) - len(kept)


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line if line.endswith("\n") else line + "\n" for line in path.read_text(encoding="utf-8").splitlines(True)
            if line.strip()]


def _stored_key(line: str) -> str:
    data = json.loads(line)
    return data.get("key") or row_key(ResultRow.model_validate(data))


def _rewrite(path: Path, lines: list[str]) -> None:
    from xlmk.io import atomic_write_text

    atomic_write_text(path, "".join(lines))


def read_rows(paths: Iterable[str | Path]) -> list[ResultRow]:
    """Rows from result files or run directories (searched recursively for results.jsonl)."""
    rows: list[ResultRow] = []
    for p in paths:
        p = Path(p)
        files = sorted(p.rglob(RESULTS_FILE)) if p.is_dir() else [p]
        if not files or not all(f.is_file() for f in files):
            raise DataError("no results.jsonl found", path=p)
        for f in files:
            with open(f, encoding="utf-8") as fh:
                for i, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(ResultRow.model_validate(json.loads(line)))
                    except json.JSONDecodeError as exc:
                        raise DataError(f"invalid JSON: {exc.msg}", path=f, line=i) from None
                    except ValidationError as exc:
                        first = exc.errors()[0]
                        key = ".".join(str(x) for x in first["loc"])
                        raise DataError(f"invalid result row: {key}: {first['msg']}", path=f, line=i) from None
    return rows
