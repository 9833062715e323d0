"""Result rows: written whole, read back with provenance, bad lines named by file and line."""
from __future__ import annotations

import json

import pytest

from xlmk.errors import DataError
from xlmk.results import ResultRow, append_rows, provenance, read_rows


def row(**kw):
    base = dict(stage="finetune", name="xnli", version=1, model="ckpt", language="en", split="test",
                metric="accuracy", value=80.0, seed=1, **provenance())
    base.update(kw)
    return ResultRow(**base)


def test_rows_round_trip_and_runs_are_found_recursively(tmp_path):
    append_rows(tmp_path / "run-a", [row(), row(language="de", value=70.0)])
    append_rows(tmp_path / "sweep" / "run-b", [row(seed=2)])
    rows = read_rows([tmp_path])
    assert [(r.language, r.seed) for r in rows] == [("en", 1), ("de", 1), ("en", 2)]
    assert rows[0].xlmk_version and rows[0].time.endswith("+00:00")


def test_bad_rows_name_file_and_line(tmp_path):
    f = tmp_path / "results.jsonl"
    f.write_text(row().model_dump_json() + "\n" + "{oops\n")
    with pytest.raises(DataError, match=rf"{f}:2: invalid JSON"):
        read_rows([f])
    f.write_text(json.dumps({**row().model_dump(), "valeu": 3}) + "\n")
    with pytest.raises(DataError, match=rf"{f}:1: invalid result row: valeu"):
        read_rows([f])
    with pytest.raises(DataError, match="no results.jsonl"):
        read_rows([tmp_path / "empty"])
