"""The GPU check: throughput, MFU, memory and a short real run of xlmk on one machine, in one go.

Sections, in order (each time-boxed out of one global budget; a section that fails records its error and
the next one runs; the JSON is rewritten after every section, so a killed run keeps what it measured):

  env       GPU, driver, torch/CUDA/transformers versions, the card's dense bf16 peak
  setup     XLM-R base (config of xlm-roberta-base, real 250k vocabulary, random weights), the sample
            world tokenized at the paper's lengths
  pretrain  the `xlmk` recipe: the largest micro-batch that fits (doubling until out of memory), tokens/s
            of the engine (`xlmk.pretrain.loop.train`) against a bare forward/backward/AdamW step of
            the same encoder on the same micro-batches, MFU of both, peak memory of both, the share of
            the queues and heads
  compile   the bare step under torch.compile against eager
  sdpa      which scaled-dot-product attention kernel ran (flash, memory-efficient, cuDNN or math)
  ddp       engine throughput on 2+ GPUs against one (skipped, with the reason, on one GPU)
  finetune  XNLI-shaped fine-tuning, samples/s of xlmk's loop against transformers' Trainer
  lama      LAMA facts/s of `xlmk probe lama` against pipeline("fill-mask")
  small     a time-boxed pre-training of a `small` model: losses first and last, held-out XEP/XOR

Writes OUT/gpu_check.json and OUT/gpu_check.md, and prints a paper-scale projection from the measured
step time. `--dry`: tiny sizes on CPU, every section exercised in seconds (what the tests run).
Run through `benchmarks/gpu/check.sh`, which sets the offline environment.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]  # gpu/, benchmarks/, the checkout

import gpu_report as report  # noqa: E402
from gpu_context import DRY, PEAK_BF16_TFLOPS, REAL, Ctx, Section, Skip  # noqa: E402


class SectionTimeout(BaseException):
    """Raised by the alarm when a section outlives its box (BaseException: library code cannot swallow it)."""


@contextlib.contextmanager
def hard_limit(seconds: float):
    """Interrupt the block after `seconds` (SIGALRM, main thread only): a compilation or a kernel that
    hangs costs its section, not the whole check."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(signum, frame):
        raise SectionTimeout(f"stopped after {seconds:.0f} s, its time box")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def cleanup() -> None:
    """Free what a finished (or failed) section left on the device, and accelerate's singletons."""
    gc.collect()
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    with contextlib.suppress(Exception):
        import baselines

        baselines.reset_accelerate()


def run_sections(sections: list[Section], ctx: Ctx, budget_s: float, *, on_done: Callable[[dict], None] = lambda r: None,
                 grace: float = 1.5, pad_s: float = 5.0, overrun_s: float = 30.0) -> dict[str, dict]:
    """Run each section in a box of `budget left x its share / the shares still to run` (at least its
    floor); sections plan their loops within the box, and a hard limit of `grace` x the box + `pad_s`,
    never more than `overrun_s` past the budget, cuts off one that hangs."""
    results: dict[str, dict] = {}
    start = time.monotonic()
    for i, sec in enumerate(sections):
        left = max(0.0, budget_s - (time.monotonic() - start))
        box = min(left, max(sec.min_s, left * sec.share / sum(s.share for s in sections[i:])))
        t0 = time.monotonic()
        ctx.partial = {}
        print(f"[gpu-check] {sec.name}: box {box:.0f} s", flush=True)
        try:
            if box < 0.5:
                raise Skip(f"no time left in the {budget_s:.0f} s budget")
            with hard_limit(min(box * grace + pad_s, left + overrun_s)):
                entry = {"status": "ok", **sec.run(ctx, box)}
        except Skip as exc:
            entry = {"status": "skipped", "reason": str(exc)}
        except (Exception, SectionTimeout) as exc:
            entry = {"status": "error", "error": f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc(limit=-6)[-3000:]}
            if ctx.partial:
                entry["partial"] = dict(ctx.partial)
        finally:
            cleanup()
        entry["seconds"], entry["box_s"] = round(time.monotonic() - t0, 2), round(box, 1)
        results[sec.name] = entry
        print(f"[gpu-check] {sec.name}: {entry['status']} in {entry['seconds']} s"
              + (f" ({entry.get('reason') or entry.get('error')})" if entry["status"] != "ok" else ""), flush=True)
        on_done(results)
    return results


# ---------------------------------------------------------------- env
def peak_for(name: str) -> float | None:
    return next((tf for key, tf in PEAK_BF16_TFLOPS if key.lower() in name.lower()), None)


def environment(ctx: Ctx, box: float) -> dict[str, Any]:
    import platform
    import subprocess

    import accelerate
    import torch
    import transformers

    from xlmk.results import provenance

    out: dict[str, Any] = {"date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                           "python": platform.python_version(), "torch": torch.__version__,
                           "cuda": torch.version.cuda, "transformers": transformers.__version__,
                           "accelerate": accelerate.__version__, **provenance(), "device": ctx.device,
                           "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        out.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version(),
                   bf16_supported=torch.cuda.is_bf16_supported())
        with contextlib.suppress(Exception):
            out["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                           capture_output=True, text=True, timeout=15).stdout.split("\n")[0].strip()
        if ctx.peak_tflops is None:
            ctx.peak_tflops = peak_for(props.name)
            out["peak_source"] = "table of dense bf16 peaks" if ctx.peak_tflops else "unknown card: pass --peak-tflops"
        else:
            out["peak_source"] = "--peak-tflops"
    else:
        out.update(gpu=None, cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads())
        out["peak_source"] = "--peak-tflops" if ctx.peak_tflops else "no GPU: MFU needs --peak-tflops"
    out["peak_bf16_tflops"] = ctx.peak_tflops
    return out


# ---------------------------------------------------------------- main
def build_sections() -> list[Section]:
    import pretrain_sections as P
    import stage_sections as S

    return [Section("env", 0.1, environment, min_s=20), Section("setup", 0.5, P.setup, min_s=60),
            Section("pretrain", 4.0, P.pretrain), Section("compile", 2.5, P.compiled), Section("sdpa", 0.4, P.sdpa),
            Section("ddp", 1.5, P.ddp), Section("finetune", 2.0, S.finetune), Section("lama", 1.0, S.lama),
            Section("small", 5.0, P.small)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="Folder for gpu_check.json and gpu_check.md (kept small).")
    ap.add_argument("--work", type=Path, default=None, help="Scratch folder for models, caches and runs (several GB at "
                                                            "base size; default: xlmk-gpu-work in the system temp folder).")
    ap.add_argument("--dry", action="store_true", help="Tiny sizes on CPU: exercise every section in seconds.")
    ap.add_argument("--budget", type=float, default=None, help="Seconds for all sections together (default 420; --dry 240).")
    ap.add_argument("--peak-tflops", type=float, default=None, help="The card's dense bf16 peak, when not in the table.")
    ap.add_argument("--ddp", type=int, default=None, help="Processes of the DDP section (default: the GPU count; "
                                                          "< 2 skips it; with --dry, 2 runs it on CPU with gloo).")
    ap.add_argument("--sections", default=None, help="Comma-separated subset to run (env and setup always run).")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import tempfile

    import torch

    sizes = DRY if args.dry else REAL
    if not args.dry and not torch.cuda.is_available():
        print("[gpu-check] no CUDA device: run with --dry for the CPU rehearsal", file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = (args.work or Path(tempfile.gettempdir()) / "xlmk-gpu-work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XLMK_CACHE", str(work / "cache"))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    ctx = Ctx(sizes=sizes, out=out, work=work, device="cpu" if args.dry else "cuda", peak_tflops=args.peak_tflops,
              ddp_procs=args.ddp if args.ddp is not None else gpus)
    sections = build_sections()
    if args.sections:
        wanted = {s.strip() for s in args.sections.split(",")} | {"env", "setup"}
        unknown = wanted - {s.name for s in sections}
        if unknown:
            print(f"[gpu-check] unknown sections: {', '.join(sorted(unknown))} "
                  f"(known: {', '.join(s.name for s in sections)})", file=sys.stderr)
            return 2
        sections = [s for s in sections if s.name in wanted]
    budget = args.budget or sizes.budget_s
    started = time.monotonic()

    def write(results: dict) -> None:
        report.write(out, {"dry": args.dry, "budget_s": budget, "sizes": sizes.__dict__, "sections": results,
                           "total_s": round(time.monotonic() - started, 1)})

    results = run_sections(sections, ctx, budget, on_done=write)
    doc = {"dry": args.dry, "budget_s": budget, "sizes": sizes.__dict__, "sections": results,
           "total_s": round(time.monotonic() - started, 1)}
    doc["projection"] = report.projection(results)
    report.write(out, doc)
    print(report.projection_text(doc["projection"]), flush=True)
    print(f"[gpu-check] done in {doc['total_s']} s: {out / 'gpu_check.json'}, {out / 'gpu_check.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
