"""End-to-end fine-tuning of a tiny model on the real samples: rows, predictions in the original
layouts (scored back by `score` to the same numbers), seed statistics, selection inside the loop,
errors before training, resuming."""
from __future__ import annotations

import json

import pytest

from xlmk.downstream import loop
from xlmk.downstream.run import finetune, score
from xlmk.errors import ConfigError, DataError
from xlmk.io import sha256_file
from xlmk.results import read_rows

FAST = ["optim.lr=1e-3", "run.eval_batch_size=32"]
LEAN = FAST + ["run.save_model=false"]


def _rows(run_dir, **match):
    return [r for r in read_rows([run_dir]) if all(getattr(r, k) == v for k, v in match.items())]


def test_xnli_original_layout_two_seeds(realdata, small_model, tmp_path):
    out = tmp_path / "run"
    res = finetune("xnli", model=str(small_model), data=str(realdata / "xnli"), seeds=[1, 2], out=out,
                   overrides=FAST + ["optim.epochs=2", "optim.batch_size=2", "task.max_length=64"])
    langs = res.summary["languages"]
    assert len(langs) == 15 and langs[0] == "en"
    rows = _rows(out, split="test", protocol="xglue-avg-dev", metric="accuracy")
    assert {r.seed for r in rows} == {1, 2} and len(rows) == 2 * 15  # measurements only: no derived rows
    assert {r.language for r in rows} == set(langs) and all(r.subset is None for r in rows)
    for r in rows:
        assert r.name == "xnli" and r.version == 1 and r.stage == "finetune" and r.data_hash and r.model_hash
        assert r.extra["finetune_recipe"] == "xnli" and r.extra["epoch"] in (1, 2) and r.n == 1
        # predictions in the original layout score back to the row's number
        pred = out / f"seed-{r.seed}/predictions/xglue-avg-dev/test-{r.language}.tsv"
        got = score("xnli", realdata / "xnli/XNLI-1.0/xnli.test.tsv", pred, lang=r.language)
        assert got["scores"]["accuracy"] == r.value
    # the summary's mean, max (seed with the best average) and std come from the rows
    stats = json.loads((out / "summary.json").read_text())["protocols"]["xglue-avg-dev"]["test"]
    by_seed = {s: {r.language: r.value for r in rows if r.seed == s} for s in (1, 2)}
    avg = {s: sum(v.values()) / 15 for s, v in by_seed.items()}
    for lang in langs:
        assert stats["mean"]["accuracy"][lang] == pytest.approx((by_seed[1][lang] + by_seed[2][lang]) / 2)
    assert stats["mean"]["accuracy"]["avg"] == pytest.approx((avg[1] + avg[2]) / 2)
    best = 2 if avg[2] > avg[1] else 1
    assert stats["max_seed"] == best and stats["max"]["accuracy"] == pytest.approx({**by_seed[best], "avg": avg[best]})
    assert stats["std"]["accuracy"]["avg"] == pytest.approx(abs(avg[1] - avg[2]) / 2 ** 0.5)
    assert (out / "seed-1/model/config.json").is_file()
    history = [json.loads(x) for x in (out / "seed-2/history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and set(history[0]["dev"]) == {f"dev-{x}" for x in langs}


def test_mlqa_all_languages_scored_with_the_official_metric(realdata, small_model, tmp_path):
    out = tmp_path / "run"
    finetune("mlqa", model=str(small_model), data=str(realdata / "mlqa/xglue_subset"), seeds=[1], out=out,
             overrides=LEAN + ["optim.epochs=1", "optim.batch_size=8", "task.max_length=256", "task.doc_stride=64",
                               "task.max_query_length=32", f"task.train_file={realdata / 'squad/train-v1.1.subset.json'}",
                               "task.max_train_examples=16", "selection.protocols=[xglue-avg-dev]"])
    rows = _rows(out, split="test", seed=1, metric="f1")
    assert {r.language for r in rows} == {"en", "es", "de", "ar", "hi", "vi", "zh"}
    for r in rows:
        gold = realdata / f"mlqa/xglue_subset/test/test-context-{r.language}-question-{r.language}.json"
        assert r.data_hash == _single_file_hash(gold)
        pred = out / f"seed-1/predictions/xglue-avg-dev/test-{r.language}.json"
        assert set(json.loads(pred.read_text())) == {q["id"] for a in json.loads(gold.read_text())["data"]
                                                      for p in a["paragraphs"] for q in p["qas"]}
        assert score("mlqa", gold, pred)["scores"]["f1"] == r.value
    assert all(r.protocol == "xglue-avg-dev" for r in read_rows([out]))


def _single_file_hash(path):
    import hashlib

    h = hashlib.sha256()
    h.update(path.name.encode())
    h.update(sha256_file(path).encode())
    return h.hexdigest()


def test_mlqa_g_xlt_pairs_are_scored_in_the_context_language(realdata, small_model, tmp_path):
    out = tmp_path / "run"
    template = "dev-context-{lang}-question-{qlang}.json"
    finetune("mlqa", model=str(small_model), data=str(realdata / "mlqa/hf_dummy_context_en"), seeds=[1], out=out,
             languages=["en"],
             overrides=LEAN + ["optim.epochs=1", "task.question_languages=all", f"task.files.dev={template}",
                               f"task.files.test={template}", "task.max_length=256", "task.doc_stride=64",
                               "task.max_query_length=32", f"task.train_file={realdata / 'squad/train-v1.1.subset.json'}",
                               "task.max_train_examples=4"])
    subsets = {r.subset for r in _rows(out, split="test", seed=1, metric="f1", language="en")}
    assert subsets == {None} | {f"context-en-question-{q}" for q in ("es", "de", "ar", "hi", "vi", "zh")}
    assert (out / "seed-1/predictions/xglue-avg-dev/test-context-en-question-zh.json").is_file()


@pytest.mark.parametrize("task,data,langs", [("ner", "ner/xglue_ner", ["en", "de", "es", "nl"]),
                                             ("panx", "wikiann", ["en", "ar", "de", "es", "nl", "zh"])])
def test_ner_and_panx_end_to_end(realdata, small_model, tmp_path, task, data, langs):
    out = tmp_path / "run"
    res = finetune(task, model=str(small_model), data=str(realdata / data), seeds=[3], out=out,
                   overrides=LEAN + ["optim.epochs=2", "optim.batch_size=2", "task.max_train_examples=6"])
    assert res.summary["languages"] == langs
    rows = _rows(out, split="test", seed=3, metric="f1", protocol="xglue-avg-dev")
    assert {r.language for r in rows} == set(langs) and all(r.name == task for r in rows)
    for r in rows:
        gold = realdata / data / (f"{r.language}.test" if task == "ner" else f"{r.language}/test")
        pred = out / f"seed-3/predictions/xglue-avg-dev/test-{r.language}.tsv"
        sentences = pred.read_text().split("\n\n")
        assert len([s for s in sentences if s.strip()]) == len([s for s in gold.read_text().split("\n\n") if s.strip()])
        assert score(task, gold, pred)["scores"]["f1"] == r.value


def test_a_language_without_data_fails_before_any_model_is_loaded(realdata, tmp_path):
    with pytest.raises(DataError, match=r"no ner data for: fr \(dev\), fr \(test\)"):
        finetune("ner", model=str(tmp_path / "no-such-model"), data=str(realdata / "ner/xglue_ner"),
                 languages=["en", "fr"], out=tmp_path / "run")
    with pytest.raises(ConfigError, match="xtreme-en-dev, which selects on en dev"):
        finetune("ner", model=str(tmp_path / "no-such-model"), data=str(realdata / "ner/xglue_ner"),
                 languages=["de", "es"], out=tmp_path / "run")
    with pytest.raises(ConfigError, match="no data folder given; pass --data"):
        finetune("xnli", model=str(tmp_path / "m"), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_selection_inside_the_loop_keeps_each_protocols_weights(realdata, small_model, tmp_path, monkeypatch):
    """Dev scores are scripted so that XGLUE's mean picks epoch 2 and English dev picks epoch 1; the
    test evaluation of each protocol must run on that epoch's weights, and the saved model is XGLUE's."""
    script = {1: {"en": 90.0, "other": 10.0}, 2: {"en": 50.0, "other": 60.0}, 3: {"en": 40.0, "other": 20.0}}
    epoch = {"n": 0}
    weights_at_epoch, weights_at_test = {}, {}
    real_evaluate = loop.evaluate

    def scripted(model, task, sets, *args, **kwargs):
        scores, preds = real_evaluate(model, task, sets, *args, **kwargs)
        fingerprint = float(sum(p.detach().double().sum() for p in model.parameters()))
        if sets[0][0].split == "dev":
            epoch["n"] += 1
            weights_at_epoch[epoch["n"]] = fingerprint
            for label in scores:
                scores[label]["f1"] = script[epoch["n"]]["en" if label == "dev-en" else "other"]
        else:
            weights_at_test[len(weights_at_test)] = fingerprint
        return scores, preds

    monkeypatch.setattr(loop, "evaluate", scripted)
    out = tmp_path / "run"
    res = finetune("ner", model=str(small_model), data=str(realdata / "ner/xglue_ner"), seeds=[1], out=out,
                   overrides=FAST + ["optim.epochs=3", "optim.batch_size=1"])
    chosen = {p: s["test"]["epochs"][1] for p, s in res.summary["protocols"].items()}
    assert chosen == {"xglue-avg-dev": 2, "xtreme-en-dev": 1}
    assert len(set(weights_at_epoch.values())) == 3  # the weights did change every epoch
    assert weights_at_test == {0: pytest.approx(weights_at_epoch[2]), 1: pytest.approx(weights_at_epoch[1])}
    dev_rows = {r.protocol: r.value for r in _rows(out, split="dev", seed=1, language="en", metric="f1")}
    assert dev_rows == {"xglue-avg-dev": 50.0, "xtreme-en-dev": 90.0}
    from transformers import AutoModelForTokenClassification

    saved = AutoModelForTokenClassification.from_pretrained(out / "seed-1/model")
    assert float(sum(p.detach().double().sum() for p in saved.parameters())) == pytest.approx(weights_at_epoch[2])


def test_a_run_resumes_after_its_finished_seeds(realdata, small_model, tmp_path, monkeypatch):
    out = tmp_path / "run"
    args = dict(model=str(small_model), data=str(realdata / "ner/xglue_ner"), out=out,
                overrides=LEAN + ["optim.epochs=1", "optim.batch_size=2", "run.save_predictions=false"])
    calls = []
    real_fit = loop.fit
    monkeypatch.setattr(loop, "fit", lambda *a, **k: calls.append(a[4]) or real_fit(*a, **k))
    first = finetune("ner", seeds=[1], **args)
    (out / "summary.json").unlink()  # as if the run had stopped before its summary
    second = finetune("ner", seeds=[1, 2], resume=True, **args)
    assert calls == [1, 2]
    assert second.summary["seeds"] == [1, 2] and first.summary["seeds"] == [1]
    rows = read_rows([out])
    assert len([r for r in rows if r.seed == 1]) == len([r for r in rows if r.seed == 2]) == 2 * 2 * 4 * 3
    with pytest.raises(ConfigError, match="already holds a finished finetune run; pass --resume"):
        finetune("ner", seeds=[1, 2], **args)
    (out / "summary.json").unlink()
    with pytest.raises(ConfigError, match=r"differs in: recipe.optim.lr: [0-9.e-]+ -> 0.0001"):
        finetune("ner", seeds=[1, 2, 3], resume=True, **{**args, "overrides": args["overrides"] + ["optim.lr=1e-4"]})


def test_answers_off_their_answer_start_are_reported_not_shifted(realdata, small_model, tmp_path, capsys):
    data = tmp_path / "mlqa"
    for split in ("dev", "test"):
        (data / split).mkdir(parents=True)
        name = f"{split}-context-en-question-en.json"
        gold = json.loads((realdata / "mlqa/xglue_subset" / split / name).read_text())
        if split == "test":
            gold["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 1
        (data / split / name).write_text(json.dumps(gold))
    out = tmp_path / "run"
    res = finetune("mlqa", model=str(small_model), data=str(data), languages=["en"], seeds=[1], out=out,
                   overrides=LEAN + ["optim.epochs=1", "task.max_length=256", "task.doc_stride=64",
                                     f"task.train_file={realdata / 'squad/train-v1.1.subset.json'}",
                                     "task.max_train_examples=4"])
    assert res.summary["data_notes"] == {"test-en": {"answer_not_at_answer_start": 1}}
    assert "test-en: 1 answer not at answer start" in capsys.readouterr().err
    row = next(r for r in read_rows([out]) if r.split == "test" and r.language == "en" and r.seed == 1)
    assert row.extra["answer_not_at_answer_start"] == 1


def test_a_finished_seed_leaves_no_weights_behind(realdata, small_model, tmp_path, monkeypatch):
    """Seeds share one accelerator: each seed's model (and optimizer state) must be freed, by reference
    counting alone, before the next seed loads its own."""
    import weakref

    models: list = []
    alive_at_start: list[int] = []
    real_fit = loop.fit

    def spy(*a, **k):
        alive_at_start.append(sum(ref() is not None for ref in models))
        result = real_fit(*a, **k)
        models.append(weakref.ref(result["model"]))
        return result

    monkeypatch.setattr(loop, "fit", spy)
    finetune("ner", model=str(small_model), data=str(realdata / "ner/xglue_ner"), seeds=[1, 2, 3], out=tmp_path / "run",
             overrides=LEAN + ["optim.epochs=1", "optim.batch_size=4", "run.save_predictions=false"])
    assert alive_at_start == [0, 0, 0]
