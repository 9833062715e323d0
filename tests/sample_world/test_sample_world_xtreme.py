"""XTREME's other tasks in the sample world follow their release layouts, as the real samples do."""
from __future__ import annotations

import json

from xlmk.downstream.xtreme_readers import read_bucc_pairs, read_bucc_sentences, read_conllu, read_pawsx, read_plain


def test_pawsx_files_have_the_release_header_and_parallel_ids(sample_world, realdata):
    real = (realdata / "xtreme/pawsx/hf-datasets/paws-x/en/dummy_data/x-final.tar.gz/x-final/en/dev_2k.tsv")
    header = real.read_text(encoding="utf-8").splitlines()[0]
    ids = {}
    for lang in ("en", "de", "es", "zh"):
        for name in ("dev_2k", "test_2k", "train" if lang == "en" else "translated_train"):
            path = sample_world / f"pawsx/x-final/{lang}/{name}.tsv"
            assert path.read_text(encoding="utf-8").splitlines()[0] == header
            pairs = read_pawsx(path, ["0", "1"])
            assert {e.label for e in pairs} == {"0", "1"}
            ids[(lang, name)] = [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    assert ids[("en", "test_2k")] == ids[("de", "test_2k")] == ids[("zh", "test_2k")]  # parallel, as the release


def test_bucc_gold_pairs_name_existing_sentences_and_distractors_stay_unpaired(sample_world):
    for lang in ("de", "zh"):
        for split in ("sample", "training"):
            prefix = sample_world / f"bucc2018/{lang}-en/{lang}-en.{split}"
            src, trg = read_bucc_sentences(f"{prefix}.{lang}"), read_bucc_sentences(f"{prefix}.en")
            gold = read_bucc_pairs(f"{prefix}.gold")
            assert {s for s, _ in gold} < set(src.ids) and {t for _, t in gold} < set(trg.ids)
            assert all(i.startswith(f"{lang}-") and len(i) == len(lang) + 10 for i in src.ids)


def test_tatoeba_sides_are_line_aligned(sample_world):
    for iso in ("ara", "deu", "spa", "hin", "vie", "cmn"):
        src = read_plain(sample_world / f"tatoeba/tatoeba.{iso}-eng.{iso}")
        eng = read_plain(sample_world / f"tatoeba/tatoeba.{iso}-eng.eng")
        assert len(src) == len(eng) == 40 and len(set(eng)) == 40 and all(src)


def test_ud_files_are_conllu_with_multiword_tokens(sample_world):
    files = sorted((sample_world / "udpos/ud-treebanks-v2.5").glob("UD_*/*.conllu"))
    assert len(files) == 15  # en train/dev/test, six other languages dev/test
    fused = [line for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.split("\t")[0].count("-") == 1
             and line[0].isdigit()]
    assert fused  # German im/zum are written as UD multiword tokens
    de = read_conllu(next(f for f in files if f.name == "de_sample-ud-test.conllu"))
    assert any(t in ("im", "zum") for s in de for t in s.tokens)


def test_qa_files(sample_world):
    for lang in ("en", "de", "ar", "zh"):
        data = json.loads((sample_world / f"xquad/xquad.{lang}.json").read_text(encoding="utf-8"))
        assert data["version"] == "1.1" and all("title" not in a for a in data["data"])
    train = json.loads((sample_world / "tydiqa/tydiqa-goldp-v1.1-train.json").read_text(encoding="utf-8"))
    ids = [qa["id"] for a in train["data"] for p in a["paragraphs"] for qa in p["qas"]]
    assert {i.split("-")[0] for i in ids} == {"english", "arabic"} and any("--" in i for i in ids)
