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
import random
import time

import pytest

N_TRAIN, BATCH, HIDDEN, LAYERS, ROUNDS = 1024, 32, 128, 2, 3
WORDS = ("river city music law north south winter summer bridge market science engine village forest "
         "history school paper garden island station people language mountain letter theatre").split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 60)))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmk.downstream.base import EvalData
    from xlmk.downstream.readers import NliExample
    from xlmk.downstream.specs import XnliSpec
    from xlmk.downstream.xnli import XnliTask
    from xlmk.modeling import quiet_transformers, train_sample_tokenizer

    quiet_transformers()
    # one intra-op thread for both sides: on a shared CPU, spinning OpenMP threads make timings swing
    # several-fold with the machine's other load
    torch.set_num_threads(1)
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("ft-bench")
    tok = train_sample_tokenizer([_sentence(rng) for _ in range(400)], vocab_size=600)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=4,
                           intermediate_size=4 * HIDDEN, max_position_embeddings=514, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    XLMRobertaForMaskedLM._from_config(cfg).save_pretrained(root / "m")
    tok.save_pretrained(root / "m")
    task = XnliTask(XnliSpec(data_dir=str(root), layout="xglue", max_length=128))
    labels = task.labels

    def pairs(n: int, split: str) -> EvalData:
        ex = [NliExample(_sentence(rng), _sentence(rng), rng.choice(labels)) for _ in range(n)]
        return EvalData("en", split, ex, [], split)

    train, dev, test = pairs(N_TRAIN, "train"), pairs(8, "dev"), pairs(8, "test")
    feats = {d.split: (d, task.encode(d, tok, train=d.split == "train")) for d in (train, dev, test)}
    return root / "m", tok, task, feats


def _ours(setup) -> float:
    from accelerate import Accelerator

    from xlmk.downstream.loop import fit
    from xlmk.downstream.recipe import FinetuneRecipe

    model_dir, tok, task, feats = setup
    recipe = FinetuneRecipe.model_validate({
        "name": "bench", "task": {"kind": "xnli", "data_dir": "."}, "seeds": [1],
        "optim": {"lr": 5e-5, "epochs": 1, "batch_size": BATCH, "warmup_ratio": 0.1},
        "selection": {"protocols": ["xglue-avg-dev"], "primary": "xglue-avg-dev"},
        "run": {"eval_batch_size": 64, "log_every": 10_000}})
    accelerator = Accelerator()
    start = time.perf_counter()
    fit(task, recipe, str(model_dir), tok, 1, accelerator, train=feats["train"], dev=[feats["dev"]],
        languages=["en"], load_test=lambda _tok: [feats["test"]])
    return time.perf_counter() - start


def _trainer(setup, out) -> float:
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer, TrainingArguments

    model_dir, tok, task, feats = setup
    _, train = feats["train"]
    rows = [{"input_ids": train.columns["input_ids"][i], "attention_mask": train.columns["attention_mask"][i],
             "labels": train.columns["labels"][i]} for i in range(len(train))]
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=BATCH, num_train_epochs=1,
                             learning_rate=5e-5, warmup_steps=0.1, logging_steps=10_000, save_strategy="no",
                             report_to=[], seed=1, dataloader_num_workers=0, disable_tqdm=True,
                             train_sampling_strategy="group_by_length")
    start = time.perf_counter()
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, **task.model_kwargs())
    Trainer(model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tok)).train()
    return time.perf_counter() - start


def test_training_samples_per_second_vs_trainer(benchmark, setup, tmp_path):
    ours, theirs = [], []

    def one_round() -> None:
        # pytest's log capture makes every logger.info/debug call build a record, which slows the
        # Trainer (it logs per step) several-fold; both sides run with logging below WARNING disabled
        logging.disable(logging.INFO)
        try:
            ours.append(_ours(setup))
            theirs.append(_trainer(setup, tmp_path / f"t{len(theirs)}"))
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
