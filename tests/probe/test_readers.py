"""LAMA and mLAMA readers on the real layouts (../shared/realdata) and on small hand-written files."""
import json

import pytest

from xlmk.errors import DataError
from xlmk.probe.lama import MASK, Coverage, read_candidates, read_lama, read_mlama

from probe_support import write_jsonl

CORPORA = ["Google_RE", "TREx", "ConceptNet", "Squad"]


def _lines(path):
    return sum(1 for line in open(path, encoding="utf-8") if line.strip())


def test_lama_reader_on_the_original_layout(realdata):
    lama = realdata / "lama"
    cov = Coverage()
    facts, infos = read_lama(lama, CORPORA, cov, relations_file=str(lama / "TREx-relations.46.xfactr.jsonl"))
    # every line is read, and each is either a fact or a counted drop
    n_lines = sum(_lines(p) for c in CORPORA for p in (lama / c).glob("*.jsonl"))
    assert cov.totals()["read"] == n_lines
    assert len(facts) + sum(cov.totals()["dropped"].values()) == n_lines
    by_corpus = {c: [f for f in facts if f.corpus == c] for c in CORPORA}
    assert {f.relation for f in by_corpus["Google_RE"]} == {"place_of_birth", "date_of_birth", "place_of_death"}
    # templated corpora fill [X] with the subject and put the mask where [Y] was
    f = next(f for f in by_corpus["Google_RE"] if f.relation == "date_of_birth")
    assert f.sentences == [f"{f.subject} (born {MASK})."]
    trex = by_corpus["TREx"][0]
    assert trex.sentences == [f"{trex.subject} is located in {MASK} ."] and trex.templated
    assert infos["TREx"]["P17"]["type"] == "N-1"
    # ConceptNet and SQuAD keep their own masked sentences
    squad = by_corpus["Squad"][0]
    assert not squad.templated and MASK in squad.sentences[0] and squad.object == "gold"
    assert {f.meta.get("pred") for f in by_corpus["ConceptNet"]} == {"HasSubevent"}
    # T-REx relations without a data file are reported, not silently skipped
    assert any("no data file" in n for n in cov.notes[("TREx", "P19", "en")])


def test_google_re_judgments_and_missing_labels(tmp_path):
    def fact(sub, obj, yes, no):
        return {"sub_label": sub, "obj_label": obj, "judgments": [{"judgment": "yes"}] * yes + [{"judgment": "no"}] * no}

    write_jsonl(tmp_path / "Google_RE" / "place_of_birth_test.jsonl", [
        fact("A", "Paris", 2, 3),   # more no than yes: dropped
        fact("B", "Paris", 3, 2),
        fact("C", "Paris", 2, 2),   # a tie is kept (LAMA drops only when no > yes)
        {"sub_label": "D", "judgments": []},
    ])
    cov = Coverage()
    facts, _ = read_lama(tmp_path, ["Google_RE"], cov)
    assert [f.subject for f in facts] == ["B", "C"]
    key = ("Google_RE", "place_of_birth", "en")
    assert cov.entry(key)["dropped"] == {"more raters said no than yes": 1, "no subject or object label": 1}
    assert cov.entry(key)["read"] == 4
    assert any("no data file" in n for n in cov.notes[("Google_RE", "date_of_birth", "en")])


def test_missing_template_long_sentences_and_bad_json(tmp_path):
    write_jsonl(tmp_path / "relations.jsonl", [{"relation": "P1", "template": "[X] is in [Y] .", "type": "N-1"}])
    write_jsonl(tmp_path / "TREx" / "P1.jsonl", [{"sub_label": "A", "obj_label": "Paris"}])
    write_jsonl(tmp_path / "TREx" / "P2.jsonl", [{"sub_label": "A", "obj_label": "Paris"}])  # not in relations.jsonl
    write_jsonl(tmp_path / "Squad" / "test.jsonl", [
        {"sub_label": "Squad", "obj_label": "gold", "masked_sentences": ["word " * 120 + "[MASK] ."]},
        {"sub_label": "Squad", "obj_label": "gold", "masked_sentences": ["no mask here ."]},
    ])
    cov = Coverage()
    facts, _ = read_lama(tmp_path, ["TREx", "Squad"], cov)
    assert [f.relation for f in facts] == ["P1"]
    assert cov.entry(("TREx", "P2", "en"))["dropped"] == {"template missing": 1}
    assert cov.entry(("Squad", "test", "en"))["dropped"] == {"longer than 100 words": 1, "no [MASK] in the sentence": 1}

    (tmp_path / "TREx" / "P1.jsonl").write_text('{"sub_label": "A", "obj_label": "Paris"}\n{broken\n')
    with pytest.raises(DataError, match=r"P1\.jsonl:2: invalid JSON"):
        read_lama(tmp_path, ["TREx"], Coverage())
    with pytest.raises(DataError, match="no Google_RE/ folder"):
        read_lama(tmp_path, ["Google_RE"], Coverage())


def test_mlama_reader_on_the_original_layout(realdata):
    root = realdata / "m_lama" / "mlama1.1"
    cov = Coverage()
    facts, templates = read_mlama(root, ["en", "zh", "de"], cov)
    # the sample holds a template for P19 only: every other relation is reported, not scored
    assert {f.relation for f in facts} == {"P19"} and {f.language for f in facts} == {"en", "zh", "de"}
    zh = next(f for f in facts if f.language == "zh")
    assert zh.sentences == [templates["zh"]["P19"].replace("[X]", zh.subject).replace("[Y]", MASK)]
    dropped = cov.totals()["dropped"]
    assert set(dropped) == {"template missing"}
    assert cov.totals()["read"] == len(facts) + dropped["template missing"]
    with pytest.raises(DataError, match="no mLAMA data for xx"):
        read_mlama(root, ["en", "xx"], Coverage())


def test_candidate_files(realdata, tmp_path):
    root = realdata / "m_lama" / "mlama1.1"
    cands = read_candidates(["../candidates/TREx_multilingual_objects.{lang}.trimmed.json"], root, "en")
    assert set(cands) == {"P19", "P36", "P1376", "P37", "P103"} and "Paris" in cands["P19"]
    with pytest.raises(DataError, match="no candidate file for language 'vi'"):
        read_candidates(["../candidates/TREx_multilingual_objects.{lang}.trimmed.json"], root, "vi")
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"P19": {"objects": [1, 2]}}))
    with pytest.raises(DataError, match="relation 'P19'"):
        read_candidates([str(bad)], root, "en")
