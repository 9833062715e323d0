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
    with pytest.warns(UserWarning, match="no multiword-token information"):  # tokens and tags only: said once
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


# UPOS classes of `datasets`' universal_dependencies data set: the 17 tags and `_`, the UPOS of a multiword range
HF_UPOS = ["NOUN", "PUNCT", "ADP", "NUM", "SYM", "SCONJ", "ADJ", "PART", "DET", "CCONJ", "PROPN", "PRON", "X", "_",
           "ADV", "INTJ", "VERB", "AUX"]


def _conllu_sentences(path):
    sentences, rows, text = [], [], None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("# text = "):
            text = line[len("# text = "):]
        elif not line.strip():
            if rows:
                sentences.append((text, rows))
            rows, text = [], None
        elif not line.startswith("#"):
            rows.append(line.split("\t"))
    return sentences


def _as_universal_dependencies(path):
    """What `datasets`' universal_dependencies script makes of a CoNLL-U file (huggingface/datasets,
    datasets/universal_dependencies/universal_dependencies.py, `_generate_examples`): every line of a
    sentence is an entry, multiword ranges and empty nodes included, without its id; head and deps are
    `str()` of what the conllu parser gives (None for `_`); text is the `# text` comment."""
    out = {"tokens": [], "upos": [], "head": [], "deps": [], "text": []}
    for text, rows in _conllu_sentences(path):
        out["tokens"].append([r[1] for r in rows])
        out["upos"].append([HF_UPOS.index(r[3]) for r in rows])
        out["head"].append(["None" if r[6] == "_" else str(int(r[6])) for r in rows])
        out["deps"].append(["None" if r[8] == "_" else r[8] for r in rows])
        out["text"].append(text if text is not None else " ".join(r[1] for r in rows))
    return out


def _as_xtreme_udpos(path):
    """What `datasets`' xtreme script's udpos configs keep of a CoNLL-U file: the lines whose FORM and
    UPOS are not `_` (multiword ranges go, and so do words without a form), as tokens and pos_tags."""
    out = {"tokens": [], "pos_tags": []}
    for _, rows in _conllu_sentences(path):
        kept = [r for r in rows if r[1] != "_" and r[3] != "_"]
        if kept:
            out["tokens"].append([r[1] for r in kept])
            out["pos_tags"].append([r[3] for r in kept])
    return out


def test_udpos_from_the_universal_dependencies_data_set_gives_the_release_examples(realdata, tmp_path):
    """Marathi has 36 multiword ranges whose words have no form: the data set's rows, without ids, are
    converted back to exactly the sentences the release reader gives."""
    import datasets

    from xlmk.downstream.xtreme_readers import read_conllu

    ud = realdata / "xtreme/udpos"
    files = {"mr": ud / "UD_Marathi-UFAL@r2.5/mr_ufal-ud-test.conllu", "tl": ud / "UD_Tagalog-TRG@r2.5/tl_trg-ud-test.conllu"}
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "upos": datasets.Sequence(datasets.ClassLabel(names=HF_UPOS)),
                                  "head": datasets.Sequence(datasets.Value("string")),
                                  "deps": datasets.Sequence(datasets.Value("string")), "text": datasets.Value("string")})
    for lang, path in files.items():
        _save(tmp_path / "ud" / lang, {"test": _as_universal_dependencies(path)}, features)
    hf = UdposSpec(data_dir="unused", layout="hf", hf_name=str(tmp_path / "ud"), hf_config="{lang}").build()
    for lang, path in files.items():
        release = [(s.tokens, s.tags) for s in read_conllu(path)]
        assert [(s.tokens, s.tags) for s in hf.load("test", lang)[0].examples] == release
    mr = hf.load("test", "mr")[0].examples[0]
    assert mr.tokens[2] == "त्याच्या" and mr.tags[2] == "PRON"  # range 3-4: the form, its head word's tag

    # XTREME's udpos config has no ranges left: read as it is, with a warning that says what is lost
    _save(tmp_path / "xt" / "mr", {"test": _as_xtreme_udpos(files["mr"])})
    xt = UdposSpec(data_dir="unused", layout="hf", hf_name=str(tmp_path / "xt"), hf_config="{lang}",
                   hf_columns={"tags": "pos_tags"}).build()
    with pytest.warns(UserWarning, match=r"no multiword-token information .*surface form.*layout: original"):
        got = xt.load("test", "mr")[0].examples
    assert "त्याच्या" not in got[0].tokens and len(got) == len(read_conllu(files["mr"]))


def test_multiword_ranges_without_ids_are_read_from_the_text_or_refused():
    from xlmk.downstream.xtreme_readers import ud_rows_sentence

    # "vámonos al mar": a three-word range, a two-word range, an empty node (head None, deps set)
    forms = ["vámonos", "vamos", "nos", "os", "al", "a", "el", "mar", "mar"]
    upos = ["_", "VERB", "PRON", "PRON", "_", "ADP", "DET", "NOUN", "NOUN"]
    heads = ["None", "0", "1", "1", "None", "6", "6", "1", "None"]
    deps = ["None"] * 8 + ["1:conj"]
    s = ud_rows_sentence(forms, upos, heads, deps, "vámonos al mar", "ud", 1)
    assert (s.tokens, s.tags) == (["vámonos", "al", "mar"], ["VERB", "ADP", "NOUN"])
    with pytest.raises(DataError, match=r"no text column"):
        ud_rows_sentence(forms, upos, heads, deps, None, "ud", 2)
    with pytest.raises(DataError, match=r"sentence 3: .*'vámonos', 'al'.*do not spell"):
        ud_rows_sentence(forms, upos, heads, deps, "vámonos a el mar", "ud", 3)
    # a word without letters after the range: the range may end before it or take it in
    with pytest.raises(DataError, match=r"several readings"):
        ud_rows_sentence(["dele", "de", "le", ""], ["_", "ADP", "DET", "X"], ["None", "0", "1", "1"], None, "dele", "ud", 4)
