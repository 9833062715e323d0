"""Readers of every layout the tasks accept, on the real samples, and their errors on bad lines."""
from __future__ import annotations

import json

import pytest

from xlmk.downstream.readers import check_tags, read_ner, read_nli, read_squad
from xlmk.errors import DataError

LABELS = ["entailment", "neutral", "contradiction"]
ALIASES = {"contradictory": "contradiction"}
XNLI_LANGS = {"ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"}


@pytest.mark.parametrize("suffix", ["tsv", "jsonl"])
def test_xnli_original_release_is_split_by_language(realdata, suffix):
    by_lang = read_nli(realdata / "xnli" / "XNLI-1.0" / f"xnli.test.{suffix}", LABELS, ALIASES)
    if suffix == "tsv":
        assert set(by_lang) == XNLI_LANGS
        assert all(len(v) == 1 and v[0].label == "contradiction" for v in by_lang.values())
        assert by_lang["en"][0].premise and by_lang["en"][0].line >= 2
    else:  # the jsonl sample holds only Arabic rows
        assert set(by_lang) == {"ar"} and len(by_lang["ar"]) == 5
    only = read_nli(realdata / "xnli" / "XNLI-1.0" / f"xnli.dev.{suffix}", LABELS, ALIASES, language="ar")
    assert set(only) == {"ar"}


def test_xnli_mt_and_xglue_layouts(realdata, tmp_path):
    mt = read_nli(realdata / "xnli/XNLI-MT-1.0/multinli/multinli.train.de.tsv", LABELS, ALIASES)[None]
    rows = (realdata / "xnli/XNLI-MT-1.0/multinli/multinli.train.de.tsv").read_text(encoding="utf-8").strip().splitlines()
    assert len(mt) == len(rows) - 1 and mt[0].premise == rows[1].split("\t")[0] and mt[0].label in LABELS
    xg = read_nli(realdata / "xnli/xglue_format/en.dev", LABELS, ALIASES)[None]  # no trailing newline
    assert [e.label for e in xg] == ["neutral", "contradiction"]
    header = read_nli(realdata / "xnli/xglue_format/multinli.train.en.tsv", LABELS, ALIASES)[None]
    assert [e.label for e in header] == ["neutral"]
    f = tmp_path / "multinli.train.fr.tsv"
    f.write_text("premise\thypo\tlabel\nA\tB\tcontradictory\nC\tD\tentailment\n", encoding="utf-8")
    assert [e.label for e in read_nli(f, LABELS, ALIASES)[None]] == ["contradiction", "entailment"]


def test_xnli_bad_lines_name_file_and_line(tmp_path):
    f = tmp_path / "de.dev"
    f.write_text("A\tB\tneutral\nC\tD\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"de\.dev:2: expected 3 tab-separated columns, found 2"):
        read_nli(f, LABELS, ALIASES)
    f.write_text("A\tB\tneutral\nC\tD\tmaybe\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"de\.dev:2: unknown label 'maybe'"):
        read_nli(f, LABELS, ALIASES)
    j = tmp_path / "x.jsonl"
    j.write_text('{"language": "en", "sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n{"language": \n',
                 encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl:2: invalid JSON"):
        read_nli(j, LABELS, ALIASES)


def test_squad_layout_with_and_without_version(realdata):
    no_version = read_squad(realdata / "squad" / "train-v1.1.subset.json")
    assert len(no_version.examples) == 39 and not no_version.misaligned
    ex = no_version.examples[0]
    text, start = ex.answers[0]
    assert ex.context[start:start + len(text)] == text
    gxlt = read_squad(realdata / "mlqa/hf_dummy_context_en/dev-context-en-question-de.json")
    assert len(gxlt.examples) == 1 and gxlt.examples[0].question


def test_squad_answer_not_at_its_start_is_counted_not_shifted(tmp_path):
    data = {"data": [{"title": "t", "paragraphs": [{"context": "Paris is the capital of France.", "qas": [
        {"id": "ok", "question": "Capital?", "answers": [{"text": "Paris", "answer_start": 0}]},
        {"id": "bad", "question": "Country?", "answers": [{"text": "France", "answer_start": 3}]}]}]}]}
    f = tmp_path / "dev.json"
    f.write_text(json.dumps(data), encoding="utf-8")
    got = read_squad(f)
    assert got.misaligned == ["bad"]
    assert got.examples[1].answers == [("France", 3)]  # kept as written
    data["data"][0]["paragraphs"][0]["qas"][0].pop("id")
    f.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing or invalid 'id'"):
        read_squad(f)
    f.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"dev\.json:1: invalid JSON"):
        read_squad(f)


def test_ner_layouts(realdata):
    xglue = read_ner(realdata / "ner/xglue_ner/es.dev", "xglue")
    assert xglue[0].tokens == ["Paulo", "("] and xglue[0].tags == ["I-LOC", "O"]  # IOB1 as written
    panx = read_ner(realdata / "wikiann/zh/train", "panx")
    assert all(not t.startswith("zh:") for s in panx for t in s.tokens)
    assert panx[0].tokens[:4] == ["2", "0", "0", "9"]
    en = read_ner(realdata / "wikiann/en/train", "panx")
    assert en[0].tokens[:2] == ["R.H.", "Saunders"] and en[0].tags[:2] == ["B-ORG", "I-ORG"]
    conll = read_ner(realdata / "ner/conll2003_hf/train.txt", "conll")
    assert conll[0].tokens[:3] == ["The", "European", "Commission"] and conll[0].tags[1] == "B-ORG"
    docstart = read_ner(realdata / "ner/conll2002_hf/ned.train", "conll")
    assert docstart[0].tokens[0] == "De" and all("-DOCSTART-" not in s.tokens for s in docstart)
    assert read_ner(realdata / "wikiann/en/train")[0].tokens == en[0].tokens  # auto-detected


def test_ner_bad_lines_name_file_and_line(tmp_path):
    f = tmp_path / "en.dev"
    f.write_text("EU I-ORG\nrejects O\n\nGerman\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"en\.dev:4: expected a token and a tag"):
        read_ner(f, "xglue")
    f.write_text("EU I-ORG\nrejects O\n\nGerman I-MISC\ncall B-FOO\n", encoding="utf-8")
    sents = read_ner(f, "xglue")
    with pytest.raises(DataError, match=r"en\.dev:5: unknown tag 'B-FOO'"):
        check_tags(sents, ["O", "I-ORG", "I-MISC", "B-MISC"], f)
    p = tmp_path / "train"
    p.write_text("en:EU\tB-ORG\nrejects\tO\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train:2: expected 'lang:token<TAB>tag'"):
        read_ner(p, "panx")
