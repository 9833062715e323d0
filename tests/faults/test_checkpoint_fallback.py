"""Damaged checkpoints: a corrupt latest one falls back to the previous good one with a warning; none
good is a clear error that never suggests unpickling; checksums cover every file of a checkpoint."""
from __future__ import annotations

import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the suite's helpers (importlib mode, no conftest here)
import faults_b_support as S  # noqa: E402
from xlmk.errors import TrainingError, XlmkWarning  # noqa: E402
from xlmk.pretrain.checkpoint import CHECKSUMS, STATE_DIR, latest_checkpoint, verify_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # one 6-step pre-training run (about 10 s on 2 idle cores) shared by the module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 6-step run with checkpoints at steps 2, 4 and 6 (and its recipe, to resume it)."""
    from xlmk.pretrain.run import pretrain
    from xlmk.pretrain.recipe import PretrainRecipe

    root = tmp_path_factory.mktemp("ckpt-world")
    kdir, corpus, model = S.tiny_world(root)
    recipe = S.pretrain_recipe(model, kdir, corpus, root / "cache", root / "run", heldout_max=0)
    pretrain(PretrainRecipe.model_validate(recipe), output_dir=root / "run")
    return root / "run"


@pytest.fixture()
def run(trained, tmp_path):
    """The run as a kill after its step-6 checkpoint leaves it: not finished (a finished run resumed does nothing)."""
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    state = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**state, "status": "running"}))
    shutil.rmtree(copy / "final")
    return copy


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _step(run: Path, n: int) -> Path:
    return run / "checkpoints" / f"step-{n:08d}"


def test_checksums_cover_every_file(run):
    ckpt = _step(run, 6)
    listed = json.loads((ckpt / CHECKSUMS).read_text())["files"]
    on_disk = {str(p.relative_to(ckpt)) for p in ckpt.rglob("*") if p.is_file() and p.name != CHECKSUMS}
    assert set(listed) == on_disk and f"{STATE_DIR}/optimizer.pt" in listed and "model.safetensors" in listed
    assert verify_checkpoint(ckpt) is None and latest_checkpoint(run) == ckpt


def test_corrupt_latest_falls_back_to_the_previous_good_one(run):
    from xlmk.pretrain.run import pretrain

    _damage(_step(run, 6) / STATE_DIR / "optimizer.pt")
    with pytest.warns(XlmkWarning, match=r"skipped damaged checkpoint\(s\) step-00000006 \(trainer_state/optimizer.pt "
                                         r"does not match its checksum.*resuming from .*step-00000004"):
        assert latest_checkpoint(run) == _step(run, 4)
    good = _step(run, 4).joinpath("model.safetensors").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XlmkWarning)
        result = pretrain(None, resume=run)  # the saved recipe, from step 4 to 6
    assert result.step == 6 and verify_checkpoint(_step(run, 6)) is None  # step 6 written again, whole
    assert _step(run, 4).joinpath("model.safetensors").read_bytes() == good  # the fallback was not touched
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2, 3, 4, 5, 6]  # no step lost, none counted twice


def test_no_good_checkpoint_is_a_clear_error(run):
    for n in (2, 4, 6):
        _damage(_step(run, n) / "model.safetensors")
    with pytest.raises(TrainingError) as err:
        latest_checkpoint(run)
    msg = str(err.value)
    assert msg.startswith(f"{run}: no usable checkpoint: every one is damaged: step-00000006 (model.safetensors")
    assert "step-00000002" in msg and "weights_only" not in msg


def test_a_damaged_checkpoint_named_directly_is_refused(run):
    _damage(_step(run, 4) / "model.safetensors")
    with pytest.raises(TrainingError, match=r"step-00000004: damaged checkpoint: model.safetensors does not match "
                                            r"its checksum \(damaged or changed after it was written\); resume from "
                                            r"the run directory to fall back"):
        latest_checkpoint(_step(run, 4))


def test_unreadable_file_without_checksums_is_named_without_the_unpickling_hint(run, tiny_model):
    """A checkpoint from before checksums: the damage shows when loading, as an error naming the file."""
    from xlmk.pretrain.run import pretrain

    ckpt = _step(run, 6)
    (ckpt / CHECKSUMS).unlink()
    (ckpt / STATE_DIR / "optimizer.pt").write_bytes(b"\x80\x04not a torch file")
    with pytest.raises(TrainingError) as err:
        pretrain(None, resume=ckpt)
    msg = str(err.value)
    assert msg.startswith(f"{ckpt / STATE_DIR / 'optimizer.pt'}: unreadable checkpoint file")
    assert "weights_only" not in msg
