"""A full disk while writing a checkpoint, a shard or result rows: "disk full while writing PATH", the
previous file intact, no temporary left behind. Once on a real, tiny tmpfs where the platform allows
mounting one, and everywhere through a write shim."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the suite's helpers (importlib mode, no conftest here)
import faults_b_support as S  # noqa: E402
from xlmk.io import DiskFullError, atomic_dir, atomic_write_json, atomic_write_text  # noqa: E402


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture()
def tiny_disk(tmp_path):
    where = tmp_path / "mnt"
    if not S.mount_small_tmpfs(where, "256k"):
        pytest.skip("mounting a tmpfs needs root on Linux")
    try:
        yield where
    finally:
        S.unmount(where)


def test_real_full_disk_keeps_the_previous_checkpoint(tiny_disk):
    import torch

    ckpt = tiny_disk / "checkpoints" / "step-00000002"
    with atomic_dir(ckpt) as tmp:
        torch.save({"w": torch.zeros(10)}, tmp / "optimizer.pt")
    before = (ckpt / "optimizer.pt").read_bytes()
    with pytest.raises(DiskFullError) as err:
        with atomic_dir(ckpt) as tmp:  # torch reports the short write only as "unexpected pos"
            torch.save({"w": torch.zeros(1 << 18)}, tmp / "optimizer.pt")
    assert str(err.value).startswith(f"disk full while writing {ckpt} ")
    assert (ckpt / "optimizer.pt").read_bytes() == before
    assert _leftovers(ckpt.parent) == []


def test_real_full_disk_keeps_the_previous_shard(tiny_disk):
    import pyarrow as pa

    from xlmk.knowledge.shards import write_table

    shard = tiny_disk / "mentions" / "part-00000.parquet"
    write_table(shard, pa.table({"text": ["short"]}))
    kept = shard.read_bytes()
    big = pa.table({"text": [os.urandom(16).hex() for _ in range(40_000)]})  # ~1.3 MB that zstd cannot shrink
    with pytest.raises(DiskFullError, match=f"disk full while writing {shard} "):
        write_table(shard, big)
    assert shard.read_bytes() == kept and _leftovers(shard.parent) == []


def test_real_full_disk_leaves_no_half_result_line(tiny_disk):
    from xlmk.io import append_text

    rows = tiny_disk / "results.jsonl"
    rows.write_text('{"metric": "accuracy", "value": 1.0}\n')
    before = rows.read_bytes()
    with pytest.raises(DiskFullError, match=f"disk full while writing {rows} "):
        append_text(rows, '{"value": 2.0}\n' * 40_000)
    assert rows.read_bytes() == before


def test_shim_full_disk_while_writing_a_file(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    atomic_write_json(target, {"step": 2})
    monkeypatch.setattr(Path, "write_bytes", S.enospc)
    with pytest.raises(DiskFullError) as err:
        atomic_write_json(target, {"step": 4})
    assert str(err.value) == (f"disk full while writing {target} (no space left on device); the previous version is "
                              "intact: free some space and run the command again")
    monkeypatch.undo()
    assert target.read_text() == '{\n  "step": 2\n}\n' and _leftovers(tmp_path) == []


def test_shim_full_disk_inside_a_checkpoint_names_the_checkpoint(tmp_path, monkeypatch):
    import torch

    ckpt = tmp_path / "checkpoints" / "step-00000002"
    with atomic_dir(ckpt) as tmp:
        atomic_write_text(tmp / "recipe.yaml", "name: a\n")

    def short_write(*args, **kwargs):  # what torch's zip writer raises on ENOSPC
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 4160 vs 4054")

    monkeypatch.setattr(torch, "save", short_write)
    with pytest.raises(DiskFullError, match=f"^disk full while writing {ckpt} "):
        with atomic_dir(ckpt) as tmp:
            atomic_write_text(tmp / "recipe.yaml", "name: b\n")
            torch.save({}, tmp / "optimizer.pt")
    assert (ckpt / "recipe.yaml").read_text() == "name: a\n" and _leftovers(ckpt.parent) == []


def test_shim_full_disk_appending_result_rows(tmp_path, monkeypatch):
    import os

    from xlmk.results import ResultRow, append_rows

    row = ResultRow(stage="probe", name="xep", version=1, model="m", metric="accuracy", value=50.0)
    path = append_rows(tmp_path, [row])
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", S.enospc)  # the write reached the page cache; the flush to disk failed
    with pytest.raises(DiskFullError, match=f"disk full while writing {path} "):
        append_rows(tmp_path, [row.model_copy(update={"seed": 2}), row.model_copy(update={"seed": 3})])
    monkeypatch.undo()
    assert path.read_bytes() == before  # the file is as before: no half line, no row written twice later


def test_other_errors_are_not_called_a_full_disk(tmp_path):
    with pytest.raises(ValueError, match="not a disk problem"):
        with atomic_dir(tmp_path / "x") as tmp:
            (tmp / "a").write_text("a")
            raise ValueError("not a disk problem")
    assert not (tmp_path / "x").exists() and _leftovers(tmp_path) == []
