"""`layout: hf` for every task, on data sets the tests write with `save_to_disk`: the examples equal those
of the files they were made from, column mappings apply, and missing columns, splits and languages are
named."""
from __future__ import annotations

import pytest

from xlmk.downstream.run import finetune
from xlmk.downstream.specs import MlqaSpec, PanxSpec, PawsxSpec, TydiqaSpec, UdposSpec, XquadSpec
from xlmk.errors import DataError
from xlmk.results import read_rows


def _qa_rows(examples):
    return {"id": [e.qid for e in examples], "question": [e.question for e in examples],
            "context": [e.context for e in examples], "title": [e.title for e in examples],
            "answers": [{"text": [t for t, _ in e.answers], "answer_start": [s for _, s in e.answers]} for e in examples]}


def _save(folder, splits: dict, features=None):
    import datasets

    datasets.disable_progress_bars()
    datasets.DatasetDict({k: datasets.Dataset.from_dict(v, features=features) for k, v in splits.items()}).save_to_disk(str(folder))
    return folder


def test_qa_tasks_read_save_to_disk_folders(sample_world, tmp_path):
    files = TydiqaSpec(data_dir="sample-world").build()
    train = files.load_train().examples + files.load("dev", "en")[0].examples
    tests = {lang: files.load("test", lang)[0].examples for lang in ("en", "ar")}
    # one data set holding every language, as google-research-datasets/tydiqa
    _save(tmp_path / "tydiqa", {"train": _qa_rows(train), "validation": _qa_rows(tests["en"] + tests["ar"])})
    hf = TydiqaSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "tydiqa")).build()
    assert hf.languages() == ["en", "ar"]
    assert [e.qid for e in hf.load("test", "ar")[0].examples] == [e.qid for e in tests["ar"]]
    assert [e.answers for e in hf.load("test", "en")[0].examples] == [e.answers for e in tests["en"]]
    assert len(hf.load_train().examples) + len(hf.load("dev", "en")[0].examples) == len(train)

    # MLQA / XQuAD: one folder per config; training stays the SQuAD file
    for lang in ("en", "ar"):
        _save(tmp_path / "xquad" / f"xquad.{lang}", {"validation": _qa_rows(tests[lang])})
    xquad = XquadSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "xquad"), languages=["en", "ar"]).build()
    assert xquad.languages() == ["en", "ar"] and xquad.load("test", "ar")[0].examples[0].qid == tests["ar"][0].qid
    assert xquad.check_train().name == "train-v1.1.json"
    with pytest.raises(DataError, match=r"no xquad data for: zh \(test\).*dataset_dict.json"):
        XquadSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "xquad"), languages=["zh"]).build().languages()

    renamed = {"qid" if k == "id" else k: v for k, v in _qa_rows(tests["en"]).items()}
    _save(tmp_path / "mlqa" / "mlqa.en.en", {"validation": renamed, "test": renamed})
    mlqa = MlqaSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "mlqa"), languages=["en"])
    with pytest.raises(DataError, match=r"no column for id \(id\) \(it has: qid"):
        mlqa.build().load("test", "en")
    mapped = mlqa.model_copy(update={"hf_columns": {"id": "qid"}}).build()
    assert mapped.languages() == ["en"] and len(mapped.load("dev", "en")[0].examples) == len(tests["en"])


def test_tagging_tasks_read_class_labels_and_string_tags(sample_world, tmp_path):
    import datasets

    files = UdposSpec(data_dir="sample-world").build()
    labels = files.labels
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "upos": datasets.Sequence(datasets.ClassLabel(names=labels))})
    for lang in ("en", "de"):
        splits = {"validation": files.load("dev", lang)[0].examples, "test": files.load("test", lang)[0].examples}
        if lang == "en":
            splits["train"] = files.load_train().examples
        _save(tmp_path / "ud" / f"{lang}_sample",
              {k: {"tokens": [s.tokens for s in v], "upos": [[labels.index(t) for t in s.tags] for s in v]}
               for k, v in splits.items()}, features)
    hf = UdposSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "ud"), hf_config="{lang}_sample").build()
    assert hf.languages() == ["en", "de"]
    got = hf.load("test", "de")[0].examples
    assert [(s.tokens, s.tags) for s in got] == [(s.tokens, s.tags) for s in files.load("test", "de")[0].examples]

    panx = PanxSpec(data_dir="sample-world").build()
    rows = {k: {"tokens": [s.tokens for s in d], "ner_tags": [s.tags for s in d]}  # plain strings this time
            for k, d in (("train", panx.load_train().examples), ("validation", panx.load("dev", "en")[0].examples),
                         ("test", panx.load("test", "en")[0].examples))}
    _save(tmp_path / "wikiann" / "en", rows)
    hf_panx = PanxSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "wikiann")).build()
    assert hf_panx.languages() == ["en"] and hf_panx.load("test", "en")[0].examples[0].tags == rows["test"]["ner_tags"][0]
    rows["test"]["ner_tags"][0][0] = "B-WHAT"
    _save(tmp_path / "bad" / "en", rows)
    with pytest.raises(DataError, match="unknown tag 'B-WHAT'"):
        PanxSpec(data_dir="sample-world", layout="hf", hf_name=str(tmp_path / "bad")).build().load("test", "en")


def test_pawsx_through_a_data_set_folder_end_to_end(sample_world, tiny_model, tmp_path):
    import datasets

    files = PawsxSpec(data_dir="sample-world").build()
    features = datasets.Features({"id": datasets.Value("int32"), "sentence1": datasets.Value("string"),
                                  "sentence2": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["0", "1"])})
    for lang in ("en", "de"):
        split_rows = {}
        for split, name in (("train", "train"), ("dev", "validation"), ("test", "test")):
            examples = files.load_train().examples if split == "train" else files.load(split, lang)[0].examples
            split_rows[name] = {"id": list(range(len(examples))), "sentence1": [e.premise for e in examples],
                                "sentence2": [e.hypothesis for e in examples], "label": [int(e.label) for e in examples]}
        _save(tmp_path / "pawsx" / lang, split_rows, features)
    out = tmp_path / "run"
    finetune("paws-x-tiny", model=str(tiny_model), out=out, languages=["en", "de"],
             overrides=["task.layout=hf", f"task.hf_name={tmp_path / 'pawsx'}", "task.max_train_examples=20",
                        "run.save_model=false"])
    rows = [r for r in read_rows([out]) if r.split == "test"]
    assert {r.language for r in rows} == {"en", "de"} and all(r.n == 20 for r in rows)
