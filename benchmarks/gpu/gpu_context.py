"""What the GPU check's sections share: the sizes of the real check and of `--dry`, the context handed
to every section, and the `Skip` a section raises when it does not apply (its message is the reason)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# dense (no sparsity) bf16 tensor-core peaks from the vendor's data sheets, TFLOP/s; first match wins
PEAK_BF16_TFLOPS = [("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0)]


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the real check and `--dry`."""

    size: str                     # init-model size of the throughput sections
    tokenizer: str                # its vocabulary: xlmr = XLM-R's real 250k; sample = the sample world's 4k
    precision: str                # the recipes' run.precision
    mlm_length: int
    knowledge_length: int
    languages: list[str] | None   # of the sample world; None = all seven
    micro_start: int
    micro_max: int
    max_timed_steps: int
    max_accum: int                # gradient accumulation at most (the recipe's on 16 GPUs, where the box allows)
    compile_backend: str
    ft_train: int
    ft_batch: int
    ft_length: int
    lama_facts: int
    lama_batch: int
    rounds: int                   # timed rounds of the fine-tuning and probing comparisons after a warm-up
                                  # round (0: the warm-up round is the one timed)
    small_size: str
    small_steps: int | None       # None = as many as the time box allows
    small_batch: int
    small_heldout: int            # held-out mentions and triples scored after the small run
    budget_s: float


REAL = Sizes(size="base", tokenizer="xlmr", precision="bf16", mlm_length=512, knowledge_length=256, languages=None,
             micro_start=32, micro_max=512, max_timed_steps=20, max_accum=64, compile_backend="inductor", ft_train=4096,
             ft_batch=32, ft_length=256, lama_facts=2048, lama_batch=128, rounds=2, small_size="small", small_steps=None,
             small_batch=32, small_heldout=2048, budget_s=420.0)
# CPU bf16 autocast is kept, so the dry run takes the same precision branches as the GPU; torch.compile's
# `eager` backend traces without generating code (inductor would spend a minute compiling on CPU)
DRY = Sizes(size="tiny", tokenizer="sample", precision="bf16", mlm_length=64, knowledge_length=32, languages=None,
            micro_start=2, micro_max=2, max_timed_steps=1, max_accum=1, compile_backend="eager", ft_train=48,
            ft_batch=16, ft_length=64, lama_facts=24, lama_batch=16, rounds=0, small_size="tiny", small_steps=3,
            small_batch=8, small_heldout=32, budget_s=240.0)


@dataclass
class Ctx:
    """What the sections share: sizes, folders, the device, and figures earlier sections found."""

    sizes: Sizes
    out: Path
    work: Path
    device: str
    peak_tflops: float | None
    ddp_procs: int
    shared: dict[str, Any] = field(default_factory=dict)
    partial: dict[str, Any] = field(default_factory=dict)  # figures a section has so far; kept if it fails later


class Skip(Exception):
    """A section that does not apply here; its message is the reason recorded."""


@dataclass
class Section:
    name: str
    share: float                                   # of the budget left when it starts, against those after it
    run: Callable[[Ctx, float], dict[str, Any]]    # (ctx, box seconds) -> figures
    min_s: float = 0.0                             # a floor for its box (setup must finish for the rest to run)
