"""The GPU check (`benchmarks/gpu/check.sh`): its dry run on CPU exercises every section and writes the
whole report; the section runner goes on past a failing or hanging section and hands unused time to
the sections after it; the projection follows its formula. The real sizes run only on CUDA (`gpu`)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GPU_DIR = ROOT / "benchmarks" / "gpu"
SECTIONS = ["env", "setup", "pretrain", "compile", "sdpa", "ddp", "finetune", "lama", "small"]


@pytest.fixture(scope="module")
def check():
    """benchmarks/gpu/check.py as a module (it puts its own folder and benchmarks/ on sys.path)."""
    import accelerate.state  # noqa: F401 - imported once here, not inside the first section's clean-up
    import torch  # noqa: F401

    spec = importlib.util.spec_from_file_location("xlmk_gpu_check", GPU_DIR / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ctx(check, tmp_path, ddp: int = 0):
    from gpu_context import DRY, Ctx

    return Ctx(sizes=DRY, out=tmp_path, work=tmp_path, device="cpu", peak_tflops=None, ddp_procs=ddp)


def test_runner_records_failures_and_goes_on(check, tmp_path):
    from gpu_context import Section, Skip

    seen: list[list[str]] = []

    def boom(ctx, box):
        ctx.partial["engine_tokens_per_s"] = 1234
        raise ValueError("no such kernel")

    def skip(ctx, box):
        raise Skip("1 GPU")

    def fine(ctx, box):
        return {"tokens_per_s": 12.5, "box_given": box}

    sections = [Section("a", 1, boom), Section("b", 1, skip), Section("c", 1, fine)]
    results = check.run_sections(sections, _ctx(check, tmp_path), 60, on_done=lambda r: seen.append(list(r)))
    assert [results[n]["status"] for n in "abc"] == ["error", "skipped", "ok"]
    assert "ValueError: no such kernel" in results["a"]["error"] and "boom" in results["a"]["traceback"]
    assert results["a"]["partial"] == {"engine_tokens_per_s": 1234}  # what it measured before failing is kept
    assert results["b"]["reason"] == "1 GPU" and "partial" not in results["b"]
    assert results["c"]["tokens_per_s"] == 12.5
    # a third of the budget each, and the time the first two did not use goes to the last one
    assert results["a"]["box_s"] == pytest.approx(20, abs=0.5)
    assert results["c"]["box_given"] > results["a"]["box_s"] + 10
    assert seen == [["a"], ["a", "b"], ["a", "b", "c"]]  # the report is rewritten after every section


def test_runner_cuts_off_a_hanging_section(check, tmp_path):
    from gpu_context import Section

    def hang(ctx, box):
        time.sleep(30)
        return {}

    start = time.monotonic()
    results = check.run_sections([Section("hang", 1, hang), Section("next", 1, lambda ctx, box: {"ran": True})],
                                 _ctx(check, tmp_path), 6.0, grace=1.0, pad_s=0.0)
    assert time.monotonic() - start < 10
    assert results["hang"]["status"] == "error" and "time box" in results["hang"]["error"]
    assert results["next"]["status"] == "ok" and results["next"]["ran"] is True


def test_ddp_section_skips_with_its_reason_on_one_device(tmp_path, check):
    import pretrain_sections
    from gpu_context import Skip

    with pytest.raises(Skip, match="GPU"):
        pretrain_sections.ddp(_ctx(check, tmp_path, ddp=1), 60)


def test_micro_batch_search_doubles_until_out_of_memory(check, tmp_path, monkeypatch):
    import pretrain_sections as P
    import torch
    from gpu_context import REAL, Ctx

    calls: list[int] = []

    def engine(ctx, data, run_dir):
        micro = data["batch"]["micro_size"]
        calls.append(micro)
        if micro >= 128:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return {"step_s": 0.001 * micro, "peak_allocated_gib": micro / 2}

    monkeypatch.setattr(P, "run_engine", engine)
    monkeypatch.setattr(P, "recipe_dict", lambda ctx, **kw: {"batch": {"micro_size": kw["micro"]}})
    ctx = Ctx(sizes=REAL, out=tmp_path, work=tmp_path, device="cuda", peak_tflops=989.0, ddp_procs=1)
    best, step_s, tried = P._search(ctx, 600)
    assert (best, calls) == (64, [32, 64, 128]) and step_s == pytest.approx(0.064)
    assert tried == [{"micro": 32, "fits": True, "step_s": 0.032, "peak_gib": 16.0},
                     {"micro": 64, "fits": True, "step_s": 0.064, "peak_gib": 32.0}, {"micro": 128, "fits": False}]
    # a box too short for the next size stops the search where it is, and says so
    calls.clear()
    best, _, tried = P._search(ctx, 0.0)
    assert best == 32 and calls == [32] and tried[-1]["note"] == "not tried: time box"


def test_model_flops_count_tokens_not_padding(check):
    import baselines as B
    import torch
    from transformers import XLMRobertaConfig

    cfg = XLMRobertaConfig(vocab_size=10, hidden_size=4, intermediate_size=16, num_hidden_layers=1)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    labels = torch.tensor([[-100, 5, -100], [7, -100, -100]])
    batch = {"mlm": {"input_ids": torch.ones_like(mask), "attention_mask": mask, "labels": labels}}
    # per token 8h^2 + 4h ff = 384 over 5 tokens, attention 4h (3^2 + 2^2) = 208, x3; LM head 6 (h^2 + hV) x 2
    assert B.train_flops(batch, cfg) == 3 * (384 * 5 + 208) + 6 * (16 + 40) * 2
    padded = {"mlm": {k: torch.cat([v, torch.full((2, 2), -100 if k == "labels" else 0)], dim=1)
                      for k, v in batch["mlm"].items()}}
    assert B.train_flops(padded, cfg) == B.train_flops(batch, cfg)
    assert B.batch_tokens(padded) == 5


def test_peak_table(check):
    assert check.peak_for("NVIDIA H200") == 989.0
    assert check.peak_for("NVIDIA H100 80GB HBM3") == 989.0
    assert check.peak_for("NVIDIA H100 PCIe") == 756.0
    assert check.peak_for("NVIDIA A100-SXM4-80GB") == 312.0
    assert check.peak_for("NVIDIA L40S") == 362.0
    assert check.peak_for("Tesla T4") is None


def test_projection_formula(check):
    import gpu_report

    pretrain = {"status": "ok", "engine_tokens_per_s": 1000.0, "tokens_per_example": 500.0,
                "tokens_per_example_max": 1536, "recipe_effective_size": 8192, "recipe_max_steps": 100_000}
    p = gpu_report.projection({"pretrain": pretrain, "ddp": {"status": "ok", "scaling_efficiency": 0.9}})
    assert p["computed"] and p["ddp_scaling_source"] == "measured"
    assert p["measured_lengths"]["step_s"] == pytest.approx(8192 * 500 / (16 * 1000 * 0.9), abs=0.01)
    assert p["measured_lengths"]["wall_hours"] == pytest.approx(100_000 * 8192 * 500 / (16 * 1000 * 0.9) / 3600, abs=0.1)
    assert p["max_lengths"]["step_s"] > p["measured_lengths"]["step_s"]
    single = gpu_report.projection({"pretrain": pretrain, "ddp": {"status": "skipped", "reason": "1 GPU"}})
    assert single["ddp_scaling"] == 1.0 and single["ddp_scaling_source"].startswith("assumed")
    assert not gpu_report.projection({"pretrain": {"status": "error", "error": "x"}})["computed"]


@pytest.mark.slow
def test_dry_run_exercises_every_section(tmp_path, xlmk_cache):
    """The whole check at tiny sizes on CPU, with 2 gloo processes for the DDP section and a made-up peak
    so that MFU is computed: every section ends ok with sane figures, and both reports are written."""
    out = tmp_path / "out"
    env = dict(os.environ, XLMK_CACHE=str(xlmk_cache), PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(GPU_DIR / "check.sh"), "--dry", "--out", str(out), "--work", str(tmp_path / "work"),
                           "--ddp", "2", "--peak-tflops", "1", "--budget", "600"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "gpu_check.json").read_text())
    s = doc["sections"]
    assert list(s) == SECTIONS
    assert {n: s[n]["status"] for n in SECTIONS} == dict.fromkeys(SECTIONS, "ok"), \
        {n: s[n].get("error") for n in SECTIONS if s[n]["status"] != "ok"}
    assert s["env"]["torch"] and s["env"]["peak_bf16_tflops"] == 1.0
    p = s["pretrain"]
    assert p["engine_tokens_per_s"] > 0 and p["bare_tokens_per_s"] > 0 and p["same_tokens"] is True
    assert p["engine_vs_bare"] == pytest.approx(p["engine_tokens_per_s"] / p["bare_tokens_per_s"], rel=0.01)
    assert 0 < p["mfu_bare"] and 0 < p["mfu_engine"]
    assert p["micro_batch"] in [t["micro"] for t in p["micro_batch_search"] if t["fits"]]
    assert p["memory"]["queues_gib"] > 0 and p["memory"]["peak_reason"]  # CPU: peaks not measured, said why
    assert s["compile"]["compiled_tokens_per_s"] > 0 and s["compile"]["backend"] == "eager"
    assert s["sdpa"]["padded_batch"] != ["none"] and s["sdpa"]["attn_implementation"] == "sdpa"
    assert s["ddp"]["processes"] == 2 and s["ddp"]["scaling_efficiency"] > 0
    assert s["finetune"]["xlmk_samples_per_s"] > 0 and s["finetune"]["trainer_samples_per_s"] > 0
    assert s["lama"]["kept"] == s["lama"]["facts"] and s["lama"]["xlmk_vs_pipeline"] > 0
    small = s["small"]
    assert small["steps"] == 3 and set(small["losses"]) == {"mlm", "mep", "oe"}
    for probe in ("xep", "xor"):
        r = small["heldout_inbatch"][probe]
        assert r["n"] > 0 and 0 <= r["accuracy"] <= 1 and 0 < r["chance"] < 1
    proj = doc["projection"]
    assert proj["computed"] and proj["measured_lengths"]["step_s"] > 0 and proj["ddp_scaling_source"] == "measured"
    md = (out / "gpu_check.md").read_text()
    assert "dry run" in md and "## small: ok" in md and "paper-scale projection" in md and "Traceback" not in md
    assert "paper-scale projection" in proc.stdout
    assert not list(out.glob("*.safetensors")) and {f.name for f in out.iterdir()} == {"gpu_check.json", "gpu_check.md"}


@pytest.mark.gpu
def test_real_sizes_on_cuda(tmp_path):
    """On a CUDA machine: the real check in a shortened budget; the throughput sections measure."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(GPU_DIR / "check.sh"), "--out", str(out), "--work", str(tmp_path / "work"),
                           "--sections", "pretrain,sdpa", "--budget", "240"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHON=sys.executable), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads((out / "gpu_check.json").read_text())["sections"]
    assert s["pretrain"]["status"] == "ok", s["pretrain"].get("error")
    assert s["pretrain"]["engine_tokens_per_s"] > 0 and s["pretrain"]["memory"]["engine_peak_gib"] > 0
    assert s["sdpa"]["status"] == "ok"
