"""Fine-tuning throughput of xlmk's loop against transformers' `Trainer` on the same model, data and batch.

Both train one epoch of sentence-pair classification (XNLI-shaped, 3 labels) from the same saved
checkpoint, batch 32, dynamic padding and length-grouped batches, linear warm-up, fused AdamW, on the
same device (a GPU when there is one). Our side is `loop.fit` end to end (model load, one epoch, and
scoring a dev and a test set of 8 pairs); the Trainer side is `from_pretrained` + `Trainer.train()`.
Samples/s of both are measured in the same run, alternating rounds, best round of each; the ratio
(ours / Trainer, goal >= 1.0) is printed. Nothing is asserted about absolute speed.

Run: `make bench` or `pytest benchmarks/test_finetune_bench.py --benchmark-only -s`.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import baselines as B  # noqa: E402

N_TRAIN, BATCH, HIDDEN, LAYERS, ROUNDS = 1024, 32, 128, 2, 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch

    # one intra-op thread for both sides: on a shared CPU, spinning OpenMP threads make timings swing
    # several-fold with the machine's other load
    torch.set_num_threads(1)
    return B.finetune_world(tmp_path_factory.mktemp("ft-bench"), n_train=N_TRAIN, hidden=HIDDEN, layers=LAYERS)


def test_training_samples_per_second_vs_trainer(benchmark, setup, tmp_path):
    ours, theirs = [], []

    def one_round() -> None:
        # pytest's log capture makes every logger.info/debug call build a record, which slows the
        # Trainer (it logs per step) several-fold; both sides run with logging below WARNING disabled
        logging.disable(logging.INFO)
        try:
            ours.append(B.time_xlmk_finetune(setup, batch=BATCH))
            theirs.append(B.time_trainer_finetune(setup, tmp_path / f"t{len(theirs)}", batch=BATCH))
        finally:
            logging.disable(logging.NOTSET)

    # one untimed round first: the first run of each pays imports and kernel warm-up
    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    ours, theirs = ours[1:], theirs[1:]
    ratios = sorted(t / o for o, t in zip(ours, theirs))  # paired rounds share the machine's load
    ours_sps, theirs_sps = N_TRAIN / min(ours), N_TRAIN / min(theirs)
    print(f"\nfine-tuning, {N_TRAIN} pairs, batch {BATCH}, hidden {HIDDEN} x {LAYERS} layers: "
          f"xlmk loop {ours_sps:.1f} samples/s, Trainer {theirs_sps:.1f} samples/s (best rounds); "
          f"ratio ours/Trainer {ours_sps / theirs_sps:.2f} best-of, {ratios[len(ratios) // 2]:.2f} median of "
          f"{len(ratios)} paired rounds (goal >= 1.0)")
