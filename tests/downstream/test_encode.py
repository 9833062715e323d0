"""Encoding and decoding with XLM-R's real tokenizer: MLQA windows and offsets, NER first sub-tokens,
length-grouped batches and dynamic padding."""
from __future__ import annotations

import numpy as np
import pytest

from xlmk.downstream.base import EvalData
from xlmk.downstream.loop import Collate, LengthGroupedBatches, PaddedFeatures
from xlmk.downstream.mlqa import MlqaTask
from xlmk.downstream.ner import NerTask
from xlmk.downstream.readers import NerSentence, QaExample, read_ner
from xlmk.downstream.specs import MlqaSpec, NerSpec


def _one_hot_outputs(train_feats, lengths):
    """Logits that point at the labelled span of every window (flat where the answer is absent)."""
    starts, ends = [], []
    for s, e, n in zip(train_feats.columns["start_positions"], train_feats.columns["end_positions"], lengths):
        a, b = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
        if (s, e) != (0, 0):
            a[s], b[e] = 10.0, 10.0
        starts.append(a)
        ends.append(b)
    return {"start_logits": starts, "end_logits": ends}


@pytest.mark.parametrize("lang", ["zh", "ar", "hi", "en"])
def test_mlqa_windows_and_offsets_give_back_the_gold_answer(realdata, xlmr_tokenizer, lang):
    task = MlqaTask(MlqaSpec(data_dir=str(realdata / "mlqa" / "xglue_subset"), max_length=96, doc_stride=32,
                             max_query_length=24))
    data = task.load("dev", lang)[0]
    train = task.encode(data, xlmr_tokenizer, train=True)
    evalf = task.encode(data, xlmr_tokenizer, train=False)
    assert train.example_index == evalf.example_index
    assert len(evalf) > len(data.examples)  # long contexts really become several windows
    assert max(evalf.lengths) <= 96
    preds = task.decode(data, evalf, _one_hot_outputs(train, evalf.lengths))
    for ex in data.examples:
        gold = ex.answers[0][0]
        # the span covers whole tokens: it holds the answer and at most a few characters more
        assert gold in preds[ex.qid] and len(preds[ex.qid]) <= len(gold) + 6, (ex.qid, gold, preds[ex.qid])
    assert task.score(data, preds)["f1"] > 80


def test_mlqa_answer_outside_a_window_points_at_the_first_token(xlmr_tokenizer):
    context = " ".join(f"word{i}" for i in range(200)) + " The answer is Ljubljana ."
    start = context.index("Ljubljana")
    ex = QaExample("q", "What is the answer?", context, [("Ljubljana", start)])
    task = MlqaTask(MlqaSpec(data_dir=".", max_length=64, doc_stride=16, max_query_length=16))
    data = EvalData("en", "train", [ex], [], "h")
    feats = task.encode(data, xlmr_tokenizer, train=True)
    spans = list(zip(feats.columns["start_positions"], feats.columns["end_positions"]))
    inside = [s for s in spans if s != (0, 0)]
    assert len(spans) > 3 and len(inside) >= 1
    evalf = task.encode(EvalData("en", "dev", [ex], [], "h"), xlmr_tokenizer, train=False)
    i = spans.index(inside[0])
    s, e = inside[0]
    offsets = evalf.meta["offsets"][i]
    assert context[offsets[s][0]:offsets[e][1]].strip() == "Ljubljana"


def test_mlqa_decoding_respects_max_answer_length_and_context_only(xlmr_tokenizer):
    ex = QaExample("q", "Where?", "Alpha beta gamma delta epsilon zeta eta theta.", [("gamma", 11)])
    task = MlqaTask(MlqaSpec(data_dir=".", max_answer_length=2))
    data = EvalData("en", "dev", [ex], [], "h")
    feats = task.encode(data, xlmr_tokenizer, train=False)
    n = feats.lengths[0]
    offsets = feats.meta["offsets"][0]
    ctx = [i for i, o in enumerate(offsets) if o is not None]
    start, end = np.zeros(n), np.zeros(n)
    start[0] = end[0] = 100.0  # the <s> token is outside the context: never an answer
    start[ctx[0]] = 9.0
    end[ctx[5]] = 9.0  # too long a span (6 tokens > 2)
    end[ctx[1]] = 5.0
    pred = task.decode(data, feats, {"start_logits": [start], "end_logits": [end]})
    assert pred["q"] == ex.context[offsets[ctx[0]][0]:offsets[ctx[1]][1]].strip() == "Alpha beta"


def test_ner_labels_sit_on_the_first_sub_token(realdata, xlmr_tokenizer):
    task = NerTask(NerSpec(data_dir=str(realdata / "wikiann"), layout="panx"))
    sents = read_ner(realdata / "wikiann" / "en" / "train", "panx")
    data = EvalData("en", "train", sents, [], "h")
    feats = task.encode(data, xlmr_tokenizer, train=True)
    label_of = {i: lab for i, lab in enumerate(task.labels)}
    for k, sent in enumerate(sents):
        labelled = [label_of[x] for x in feats.columns["labels"][k] if x != -100]
        assert labelled == sent.tags  # exactly one label per word, in order
    # a word of several sub-tokens gets its label once
    assert any(sum(1 for x in row if x == -100) > 2 for row in feats.columns["labels"])
    evalf = task.encode(data, xlmr_tokenizer, train=False)
    logits = []
    for row in feats.columns["labels"]:
        m = np.zeros((len(row), len(task.labels)))
        for pos, lab in enumerate(row):
            m[pos, lab if lab != -100 else 0] = 1.0
        logits.append(m)
    assert task.decode(data, evalf, {"logits": logits}) == [s.tags for s in sents]


def test_ner_words_cut_off_by_max_length_are_predicted_o_and_counted(xlmr_tokenizer):
    sent = NerSentence(["Angela", "Merkel", "visited", "Paris", "and", "Berlin"],
                       ["B-PER", "I-PER", "O", "B-LOC", "O", "B-LOC"])
    task = NerTask(NerSpec(data_dir=".", layout="xglue", max_length=8))
    data = EvalData("en", "test", [sent], [], "h")
    feats = task.encode(data, xlmr_tokenizer, train=False)
    n = feats.lengths[0]
    logits = np.zeros((n, len(task.labels)))
    logits[:, task.labels.index("B-LOC")] = 1.0
    pred = task.decode(data, feats, {"logits": [logits]})[0]
    covered = {w for w in feats.meta["word_ids"][0] if w is not None}
    assert len(covered) < 6
    assert pred == ["B-LOC" if i in covered else "O" for i in range(6)]
    assert data.notes["words_without_prediction"] == 6 - len(covered)


def test_length_grouped_batches_cover_everything_once_and_reshuffle():
    lengths = [(i * 37) % 101 + 1 for i in range(1000)]
    batches = LengthGroupedBatches(lengths, 16, seed=3, group=10)
    first, second = list(batches), list(batches)
    for order in (first, second):
        assert sorted(i for b in order for i in b) == list(range(1000))
    assert first != second  # a fresh order every pass
    assert list(LengthGroupedBatches(lengths, 16, seed=3, group=10)) == first  # reproducible from the seed
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first])
    plain = LengthGroupedBatches(lengths, 16, seed=3, by_length=False)
    spread_plain = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in plain])
    assert spread < spread_plain / 3  # similar lengths share a batch: little padding


def test_collate_pads_dynamically():
    batch = Collate(pad_id=1)([{"input_ids": [0, 5, 2], "attention_mask": [1, 1, 1], "labels": [-100, 3, -100]},
                               {"input_ids": [0, 2], "attention_mask": [1, 1], "labels": [-100, -100]}])
    assert batch["input_ids"].tolist() == [[0, 5, 2], [0, 2, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, 3, -100], [-100, -100, -100]]
    scalar = Collate(pad_id=1)([{"input_ids": [0, 2], "labels": 2}, {"input_ids": [0], "labels": 0}])
    assert scalar["labels"].tolist() == [2, 0]


def test_features_padded_once_give_the_batches_collate_gives():
    import random

    import torch

    rng = random.Random(0)
    n = 40
    lengths = [rng.randint(1, 30) for _ in range(n)]
    columns = {"input_ids": [[rng.randint(3, 99) for _ in range(k)] for k in lengths],
               "attention_mask": [[1] * k for k in lengths],
               "labels": [[rng.choice([-100, 1, 2]) for _ in range(k)] for k in lengths],
               "start_positions": [rng.randint(0, 5) for _ in range(n)],
               "weights": [rng.random() for _ in range(n)]}
    padded = PaddedFeatures(columns, pad_id=1)
    assert len(padded) == n and padded[7] == 7
    for batch in ([3, 1, 4], [0], list(range(n)), [rng.randrange(n) for _ in range(9)]):
        want = Collate(pad_id=1)([{k: v[i] for k, v in columns.items()} for i in batch])
        got = padded.collate(batch)
        assert set(got) == set(want)
        for key in want:
            assert got[key].dtype == want[key].dtype and torch.equal(got[key], want[key]), key
