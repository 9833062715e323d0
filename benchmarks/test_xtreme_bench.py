"""XTREME tasks: QA and tagging fine-tuning against transformers' `Trainer`, sentence encoding for
retrieval against a bare `AutoModel` loop, and BUCC/Tatoeba scoring of 10k x 10k sentences.

- QA (XQuAD/TyDiQA-shaped windows) and tagging (UD-POS-shaped sentences): one epoch of `loop.fit` end to
  end (model load, training, scoring a small dev and test set) against `from_pretrained` +
  `Trainer.train()` on the same features, batch, schedule and device; samples/s ratio ours / Trainer
  (goal >= 1.0), alternating paired rounds after an untimed warm-up round, in wall time and in the
  process's CPU time (one thread each side: on a shared machine CPU seconds measure the work itself).
- Encoding: `retrieve.Encoder` (length-sorted batches, layer states, masked mean) against the plainest
  loop over the same batches (`AutoModel(...).hidden_states[layer]`, masked mean); ratio goal >= 0.95.
- Scoring: `mine_pairs` (margin, k=4, both directions) and `best_matches` (cosine) on 10k x 10k random
  768-d embeddings with the default search (`auto`: a bfloat16 shortlist re-scored in float32 where
  bfloat16 is native), beside the float32 search and one full float32 similarity matrix with `topk`
  (the same work without blocks); the seconds and the load average are printed (goal: under a second
  on CPU), nothing about absolute speed is asserted; the two searches' pairs must agree.

Run: `make bench` or `pytest benchmarks/test_xtreme_bench.py --benchmark-only -s`.
"""
from __future__ import annotations

import logging
import os
import random
import time

import pytest

N_TRAIN, BATCH, HIDDEN, LAYERS, ROUNDS = 512, 32, 128, 2, 3
N_TRAIN_QA = 160  # QA windows are ~5x longer than tagging sentences: fewer keep a round in the same time
WORDS = ("river city music law north south winter summer bridge market science engine village forest "
         "history school paper garden island station people language mountain letter theatre").split()


def _sentence(rng: random.Random, low: int = 4, high: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xlmk.modeling import quiet_transformers, train_sample_tokenizer

    quiet_transformers()
    torch.set_num_threads(1)  # one intra-op thread for both sides: steadier timings on a shared CPU
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("xtreme-bench")
    tok = train_sample_tokenizer([_sentence(rng) for _ in range(400)], vocab_size=600)
    cfg = XLMRobertaConfig(vocab_size=len(tok), hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=4,
                           intermediate_size=4 * HIDDEN, max_position_embeddings=514, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    XLMRobertaForMaskedLM._from_config(cfg).save_pretrained(root / "m")
    tok.save_pretrained(root / "m")
    return root / "m", tok


def _task(kind: str, root):
    from xlmk.downstream.specs import UdposSpec, XquadSpec

    if kind == "qa":
        return XquadSpec(data_dir=str(root), max_length=128, doc_stride=48, max_query_length=32).build()
    return UdposSpec(data_dir=str(root), layout="xtreme", max_length=128).build()


def _data(kind: str, task, rng: random.Random, n: int, split: str):
    from xlmk.downstream.base import EvalData
    from xlmk.downstream.readers import NerSentence, QaExample

    out = []
    for i in range(n):
        if kind == "qa":
            context = _sentence(rng, 30, 80)
            words = context.split()
            k = rng.randrange(len(words) - 2)
            answer = " ".join(words[k:k + 2])
            start = len(" ".join(words[:k])) + (1 if k else 0)
            out.append(QaExample(f"{split}-{i}", _sentence(rng, 4, 12) + "?", context, [(answer, start)]))
        else:
            words = _sentence(rng).split()
            out.append(NerSentence(words, [rng.choice(task.labels) for _ in words]))
    return EvalData("en", split, out, [], split)


@pytest.fixture(scope="module", params=["qa", "tagging"])
def setup(request, model_dir):
    path, tok = model_dir
    kind = request.param
    task = _task(kind, path.parent)
    rng = random.Random(1)
    n_train = N_TRAIN_QA if kind == "qa" else N_TRAIN
    sets = {s: _data(kind, task, rng, n, s) for s, n in (("train", n_train), ("dev", 8), ("test", 8))}
    feats = {s: (d, task.encode(d, tok, train=s == "train")) for s, d in sets.items()}
    return kind, path, tok, task, feats


def _ours(setup) -> tuple[float, float]:
    from accelerate import Accelerator

    from xlmk.downstream.loop import fit
    from xlmk.downstream.recipe import FinetuneRecipe

    kind, model_dir, tok, task, feats = setup
    recipe = FinetuneRecipe.model_validate({
        "name": "bench", "task": task.spec.model_dump(), "seeds": [1],
        "optim": {"lr": 5e-5, "epochs": 1, "batch_size": BATCH, "warmup_ratio": 0.1},
        "selection": {"protocols": ["xtreme-en-dev"], "primary": "xtreme-en-dev"},
        "run": {"eval_batch_size": 64, "log_every": 10_000}})
    start, cpu = time.perf_counter(), time.process_time()
    fit(task, recipe, str(model_dir), tok, 1, Accelerator(), train=feats["train"], dev=[feats["dev"]],
        languages=["en"], load_test=lambda _tok: [feats["test"]])
    return time.perf_counter() - start, time.process_time() - cpu


def _trainer(setup, out) -> tuple[float, float]:
    from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding, Trainer

    from xlmk.compat import trainer_arguments

    kind, model_dir, tok, task, feats = setup
    _, train = feats["train"]
    rows = [{k: v[i] for k, v in train.columns.items()} for i in range(len(train))]
    collator = DataCollatorWithPadding(tok) if kind == "qa" else DataCollatorForTokenClassification(tok)
    args = trainer_arguments(output_dir=str(out), per_device_train_batch_size=BATCH, num_train_epochs=1,
                             learning_rate=5e-5, warmup_steps=0.1, logging_steps=10_000, save_strategy="no",
                             report_to=[], seed=1, dataloader_num_workers=0, disable_tqdm=True,
                             train_sampling_strategy="group_by_length")
    start, cpu = time.perf_counter(), time.process_time()
    model = task.model_class().from_pretrained(model_dir, **task.model_kwargs())
    Trainer(model=model, args=args, train_dataset=rows, data_collator=collator).train()
    return time.perf_counter() - start, time.process_time() - cpu


def test_qa_and_tagging_samples_per_second_vs_trainer(benchmark, setup, tmp_path):
    ours, theirs = [], []

    def one_round() -> None:
        logging.disable(logging.INFO)  # pytest's log capture slows the per-step logging Trainer otherwise
        try:
            ours.append(_ours(setup))
            theirs.append(_trainer(setup, tmp_path / f"t{len(theirs)}"))
        finally:
            logging.disable(logging.NOTSET)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    ours, theirs = ours[1:], theirs[1:]
    n = len(setup[4]["train"][1])
    for what, i in (("wall", 0), ("CPU", 1)):  # one thread each: CPU seconds show the work, wall the load too
        o, t = [r[i] for r in ours], [r[i] for r in theirs]
        ratios = sorted(b / a for a, b in zip(o, t))
        print(f"\n{setup[0]} fine-tuning, {n} features, batch {BATCH}, {what} time, load average {os.getloadavg()[0]:.1f}: "
              f"xlmk loop {n / min(o):.1f}/s, Trainer {n / min(t):.1f}/s (best rounds); ratio ours/Trainer "
              f"{min(t) / min(o):.2f} best-of, {ratios[len(ratios) // 2]:.2f} median of {len(ratios)} paired rounds "
              f"({', '.join(f'{r:.2f}' for r in ratios)}; goal >= 1.0)")


def test_encoding_sentences_per_second_vs_a_bare_automodel_loop(benchmark, model_dir):
    import torch
    from transformers import AutoModel

    from xlmk.downstream.recipe import FinetuneRecipe
    from xlmk.downstream.retrieve import Encoder

    path, tok = model_dir
    rng = random.Random(2)
    sentences = [_sentence(rng, 3, 50) for _ in range(2000)]
    recipe = FinetuneRecipe.model_validate({"name": "b", "task": {"kind": "tatoeba", "data_dir": ".", "layer": 1},
                                            "run": {"eval_batch_size": 64, "cpu": True}})
    ours_enc = Encoder(str(path), tok, recipe)
    bare = AutoModel.from_pretrained(path, add_pooling_layer=False).eval()

    def baseline() -> None:
        ids = tok(sentences, truncation=True, max_length=512)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        with torch.inference_mode():
            for start in range(0, len(order), 64):
                batch = tok.pad({"input_ids": [ids[i] for i in order[start:start + 64]]}, return_tensors="pt")
                states = bare(**batch, output_hidden_states=True).hidden_states[1]
                m = batch["attention_mask"].unsqueeze(-1).float()
                (states * m).sum(1) / m.sum(1)

    ours, theirs = [], []

    def one_round() -> None:
        t = time.perf_counter()
        ours_enc(sentences)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        baseline()
        theirs.append(time.perf_counter() - t)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    print(f"\nencoding {len(sentences)} sentences: ours {len(sentences) / min(ours):.0f}/s, bare AutoModel loop "
          f"{len(sentences) / min(theirs):.0f}/s; ratio {min(theirs) / min(ours):.2f} (goal >= 0.95)")


def test_scoring_ten_thousand_by_ten_thousand(benchmark):
    import torch

    from xlmk.downstream.neighbours import resolve
    from xlmk.downstream.retrieval import best_matches, mine_pairs, normalize

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10_000, 768, generator=g), torch.randn(10_000, 768, generator=g)
    # one thread and every core: on a shared machine a second thread that is not scheduled stalls every op
    threads = sorted({1, os.cpu_count() or 1})
    times: dict[tuple[int, str], list[float]] = {}
    results = {}

    def timed(key: tuple[int, str], f) -> None:
        t = time.perf_counter()
        f()
        times.setdefault(key, []).append(time.perf_counter() - t)

    def one_round() -> None:
        for n in threads:
            torch.set_num_threads(n)
            timed((n, "mine"), lambda: results.__setitem__("auto", mine_pairs(x, y, scoring="margin", k=4)))
            timed((n, "nearest"), lambda: best_matches(y, x, scoring="cosine"))
            timed((n, "mine32"), lambda: results.__setitem__("float32", mine_pairs(x, y, scoring="margin", k=4,
                                                                                  search="float32")))

            def full() -> None:
                xn, yn = normalize(x), normalize(y)
                sims = xn @ yn.T
                torch.topk(sims, 4, dim=1)
                torch.topk(sims, 4, dim=0)

            timed((n, "full"), full)
        torch.set_num_threads(1)  # what the module's other tests use

    benchmark.pedantic(one_round, rounds=3, iterations=1, warmup_rounds=1)
    assert {p[:2] for p in results["auto"]} == {p[:2] for p in results["float32"]}  # the same pairs, whichever search
    best = {k: min(v[1:]) for k, v in times.items()}
    for n in threads:
        print(f"\n10k x 10k, 768-d, {n} thread(s), search auto = {resolve('auto', x.device)}, load average "
              f"{os.getloadavg()[0]:.1f}: BUCC mining (margin, both directions) {best[n, 'mine']:.2f} s, Tatoeba "
              f"nearest (cosine) {best[n, 'nearest']:.2f} s, mining with the float32 search {best[n, 'mine32']:.2f} s; "
              f"one full float32 matrix product with top-k both ways {best[n, 'full']:.2f} s; ratio full/mining "
              f"{best[n, 'full'] / best[n, 'mine']:.2f} (goal: mining and nearest under 1 s)")
