"""Timed runs shared by the CPU benchmarks and the GPU check (`benchmarks/gpu/check.py`), so that a ratio
measured on a laptop and a figure measured on a GPU come from the same code at different sizes.

- Pre-training: the bare baseline of the engine (the same encoder on the same tensors with nothing of
  ours around it) and the model FLOPs of a micro-batch, for MFU.
- Fine-tuning: xlmk's loop (`loop.fit`) against transformers' `Trainer`, one epoch of XNLI-shaped pairs
  from the same checkpoint, the same batch size, length-grouped batches, linear warm-up, AdamW.
- Probing: `xlmk probe lama` against `pipeline("fill-mask")` on the same facts and the same model.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORDS = ("river city music law north south winter summer bridge market science engine village forest "
         "history school paper garden island station people language mountain letter theatre").split()
CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Dublin", "Lisbon", "Athens", "Oslo", "Warsaw"]
SUBJECTS = ["John Smith", "Maria Garcia", "Chen Wei", "Anna Müller", "Ahmed Ali", "Olga Ivanova", "Paulo Silva", "Yuki Sato"]


def reset_accelerate() -> None:
    """accelerate keeps process-wide singletons; the next Accelerator (other precision) starts clean."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


# ---------------------------------------------------------------- pre-training
def batch_tokens(batch: dict) -> int:
    """Non-padding tokens of a micro-batch of every task (what the engine's tokens/s counts)."""
    return int(sum(v.sum() for b in batch.values() for k, v in b.items() if k.endswith("mask")))


def sequences(batch: dict) -> list[tuple[str, Any, Any]]:
    """(task, ids, attention mask) of every sequence tensor of a micro-batch."""
    out = []
    for name, b in batch.items():
        for ids in (k for k in b if k.endswith("ids")):
            mask = ids.replace("ids", "mask")
            out.append((name, b[ids], b[mask if mask in b else "attention_mask"]))
    return out


def bare_loss(encoder: Any, batch: dict) -> Any:
    """The same encoder on the same tensors with nothing of ours: the LM head at the predicted positions of
    the MLM sequences (as the engine, and as any MLM trainer that skips the 250k-way softmax elsewhere),
    the mean hidden state of every knowledge sequence."""
    import torch.nn.functional as F

    loss = 0.0
    for name, ids, mask in sequences(batch):
        h = encoder.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
        if name == "mlm":
            labels = batch[name]["labels"]
            sel = labels != -100
            loss = loss + F.cross_entropy(encoder.lm_head(h[sel]).float(), labels[sel])
        else:
            loss = loss + h.float().mean()
    return loss


def train_flops(batch: dict, config: Any) -> float:
    """Model FLOPs of one training pass (forward + backward = 3 x forward) over the non-padding tokens:
    per token and layer 2 x (4h^2 + 2 h ff) for the projections and 4 h s for attention over its sequence's
    s tokens, and the LM head (h^2 + h V) at the predicted positions. Embedding look-ups and the small
    knowledge heads are left out (PaLM's convention)."""
    h, ff, layers, vocab = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.vocab_size
    flops = 0.0
    for _, _, mask in sequences(batch):
        lengths = mask.sum(dim=1).double()
        flops += float((lengths * (8 * h * h + 4 * h * ff) + 4 * h * lengths * lengths).sum()) * layers * 3
    if "mlm" in batch:
        flops += 3 * 2 * (h * h + h * vocab) * float((batch["mlm"]["labels"] != -100).sum())
    return flops


# ---------------------------------------------------------------- fine-tuning
@dataclass
class FinetuneWorld:
    model_dir: Path
    tokenizer: Any
    task: Any
    feats: dict  # split -> (EvalData, Features)
    n_train: int


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 60)))


def finetune_world(root: Path, *, n_train: int = 1024, hidden: int = 128, layers: int = 2,
                   model_dir: Path | None = None, max_length: int = 128, seed: int = 0) -> FinetuneWorld:
    """XNLI-shaped sentence pairs (3 labels) encoded for one model: `model_dir`, or a fresh random XLM-R
    of `hidden` x `layers` with a Unigram vocabulary trained on the same sentences."""
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmk.downstream.base import EvalData
    from xlmk.downstream.readers import NliExample
    from xlmk.downstream.specs import XnliSpec
    from xlmk.downstream.xnli import XnliTask
    from xlmk.modeling import quiet_transformers, train_sample_tokenizer

    quiet_transformers()
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    if model_dir is None:
        import torch

        model_dir = root / "m"
        tok = train_sample_tokenizer([sentence(rng) for _ in range(400)], vocab_size=600)
        cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                               intermediate_size=4 * hidden, max_position_embeddings=514, type_vocab_size=1,
                               pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
        torch.manual_seed(seed)
        XLMRobertaForMaskedLM._from_config(cfg).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
    else:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
    task = XnliTask(XnliSpec(data_dir=str(root), layout="xglue", max_length=max_length))

    def pairs(n: int, split: str) -> EvalData:
        ex = [NliExample(sentence(rng), sentence(rng), rng.choice(task.labels)) for _ in range(n)]
        return EvalData("en", split, ex, [], split)

    data = (pairs(n_train, "train"), pairs(8, "dev"), pairs(8, "test"))
    feats = {d.split: (d, task.encode(d, tok, train=d.split == "train")) for d in data}
    return FinetuneWorld(Path(model_dir), tok, task, feats, n_train)


def time_xlmk_finetune(world: FinetuneWorld, *, batch: int = 32, precision: str = "no") -> float:
    """Seconds of `loop.fit` end to end: model load, one epoch, scoring a dev and a test set of 8 pairs."""
    from accelerate import Accelerator

    from xlmk.downstream.loop import fit
    from xlmk.downstream.recipe import FinetuneRecipe

    recipe = FinetuneRecipe.model_validate({
        "name": "bench", "task": {"kind": "xnli", "data_dir": "."}, "seeds": [1],
        "optim": {"lr": 5e-5, "epochs": 1, "batch_size": batch, "warmup_ratio": 0.1},
        "selection": {"protocols": ["xglue-avg-dev"], "primary": "xglue-avg-dev"},
        "run": {"eval_batch_size": 64, "log_every": 10_000}})
    accelerator = Accelerator(mixed_precision=precision)
    try:
        start = time.perf_counter()
        fit(world.task, recipe, str(world.model_dir), world.tokenizer, 1, accelerator, train=world.feats["train"],
            dev=[world.feats["dev"]], languages=["en"], load_test=lambda _tok: [world.feats["test"]])
        return time.perf_counter() - start
    finally:
        reset_accelerate()


def time_trainer_finetune(world: FinetuneWorld, out: Path, *, batch: int = 32, precision: str = "no") -> float:
    """Seconds of `from_pretrained` + `Trainer.train()` for one epoch of the same features."""
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer

    from xlmk.compat import trainer_arguments

    _, train = world.feats["train"]
    rows = [{"input_ids": train.columns["input_ids"][i], "attention_mask": train.columns["attention_mask"][i],
             "labels": train.columns["labels"][i]} for i in range(len(train))]
    args = trainer_arguments(output_dir=str(out), per_device_train_batch_size=batch, num_train_epochs=1,
                             learning_rate=5e-5, warmup_steps=0.1, logging_steps=10_000, save_strategy="no",
                             report_to=[], seed=1, dataloader_num_workers=0, disable_tqdm=True,
                             train_sampling_strategy="group_by_length", bf16=precision == "bf16")
    try:
        start = time.perf_counter()
        model = AutoModelForSequenceClassification.from_pretrained(world.model_dir, **world.task.model_kwargs())
        Trainer(model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(world.tokenizer)).train()
        return time.perf_counter() - start
    finally:
        reset_accelerate()


# ---------------------------------------------------------------- probing
def lama_world(root: Path, tokenizer: Any, n_facts: int) -> tuple[Path, list[str]]:
    """A LAMA directory of `n_facts` single-token P19 facts, and the same facts as fill-mask sentences."""
    from xlmk.probe.cloze import word_piece_id

    data = root / "lama"
    (data / "TREx").mkdir(parents=True, exist_ok=True)
    (data / "relations.jsonl").write_text(json.dumps({"relation": "P19", "template": "[X] was born in [Y] .", "type": "N-1"}) + "\n")
    cities = [c for c in CITIES if word_piece_id(tokenizer, c) is not None]  # LAMA keeps single-token objects only
    facts = [{"sub_label": f"{SUBJECTS[i % len(SUBJECTS)]} {i}", "obj_label": cities[i % len(cities)]} for i in range(n_facts)]
    (data / "TREx" / "P19.jsonl").write_text("".join(json.dumps(f) + "\n" for f in facts))
    return data, [f"{f['sub_label']} was born in {tokenizer.mask_token} ." for f in facts]


def lama_recipe(data: Path, *, device: str = "cpu", batch_size: int = 64, precision: str = "fp32") -> Any:
    from xlmk.probe.recipe import ProbeRecipe
    from xlmk.probe.specs import DataDir, LamaProbe

    return ProbeRecipe(name="bench", probe=LamaProbe(data=DataDir(path=str(data)), corpora=["TREx"]),
                       run={"device": device, "batch_size": batch_size, "precision": precision, "save_predictions": False})


def time_lama_probe(model: Any, tokenizer: Any, recipe: Any, out: Path) -> tuple[float, Any]:
    """Seconds of `xlmk probe lama` (reading the data included) and its result."""
    from xlmk.probe.run import probe

    start = time.perf_counter()
    result = probe(recipe, out_dir=out, model=model, tokenizer=tokenizer, overwrite=True)  # each round anew
    return time.perf_counter() - start, result


def fill_mask(model: Any, tokenizer: Any, device: Any) -> Any:
    from transformers import pipeline

    return pipeline("fill-mask", model=model, tokenizer=tokenizer, device=device, top_k=10)


def time_fill_mask(pipe: Any, sentences: list[str], **kwargs: Any) -> tuple[float, list]:
    start = time.perf_counter()
    out = pipe(sentences, **kwargs)
    return time.perf_counter() - start, out
