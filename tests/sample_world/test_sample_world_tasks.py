"""Corpus, LAMA/mLAMA, XNLI, MLQA and WikiANN samples follow the original layouts."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from xlmk.sample_world import LANGUAGES


def _jsonl(path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_corpus(sample_world):
    for lang in LANGUAGES:
        lines = (sample_world / "corpus" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
        assert 100 <= len(lines) <= 300 and all(line.strip() for line in lines)
        end = {"zh": "。", "hi": "।"}.get(lang, ".")
        assert sum(line.endswith(end) for line in lines) > 0.9 * len(lines)


def test_lama_layout(sample_world, realdata):
    real = _jsonl(realdata / "lama" / "TREx" / "P17.jsonl")[0]
    relations = _jsonl(sample_world / "lama" / "relations.jsonl")
    assert len(relations) >= 8 and {r["type"] for r in relations} == {"1-1", "N-1", "N-M"}
    real_rel = _jsonl(realdata / "lama" / "TREx-relations.46.xfactr.jsonl")[0]
    for rel in relations:
        assert set(rel) == set(real_rel)
        assert "[X]" in rel["template"] and "[Y]" in rel["template"] and rel["template"].endswith(" .")
        rows = _jsonl(sample_world / "lama" / "TREx" / f"{rel['relation']}.jsonl")
        assert rows
        for row in rows:
            assert list(row) == list(real)
            assert row["predicate_id"] == rel["relation"]
            for ev in row["evidences"]:
                assert set(ev) == set(real["evidences"][0]) and ev["masked_sentence"].count("[MASK]") == 1
    assert len({r["uuid"] for rel in relations for r in _jsonl(sample_world / "lama" / "TREx" / f"{rel['relation']}.jsonl")}) > 100


@pytest.mark.parametrize("lang", LANGUAGES)
def test_mlama_layout(sample_world, realdata, lang):
    real_lang = lang if (realdata / "m_lama" / "mlama1.1" / lang).is_dir() else "en"
    real = _jsonl(realdata / "m_lama" / "mlama1.1" / real_lang / "P19.jsonl")[0]
    real_tpl = _jsonl(realdata / "m_lama" / "mlama1.1" / real_lang / "templates.jsonl")[0]
    templates = _jsonl(sample_world / "mlama" / lang / "templates.jsonl")
    assert len(templates) >= 8
    for tpl in templates:
        assert list(tpl) == list(real_tpl) and "[X]" in tpl["template"] and "[Y]" in tpl["template"]
        rows = _jsonl(sample_world / "mlama" / lang / f"{tpl['relation']}.jsonl")
        assert rows and all(list(row) == list(real) for row in rows)
        assert [row["lineid"] for row in rows] == list(range(len(rows)))
    if lang == "zh":
        assert all(t["template"].endswith("。") for t in templates)


def test_xnli(sample_world, realdata):
    real_header = (realdata / "xnli" / "XNLI-1.0" / "xnli.dev.tsv").read_text(encoding="utf-8").splitlines()[0]
    for split in ("dev", "test"):
        lines = (sample_world / "xnli" / "XNLI-1.0" / f"xnli.{split}.tsv").read_text(encoding="utf-8").splitlines()
        assert lines[0] == real_header
        rows = [line.split("\t") for line in lines[1:]]
        assert all(len(r) == 19 for r in rows)
        assert Counter(r[0] for r in rows) == {lang: 30 for lang in LANGUAGES}
        assert {r[1] for r in rows} == {"entailment", "neutral", "contradiction"}
        for r in rows:
            assert Counter(r[11:16])[r[1]] >= 3 and r[18] == "True"
        pairs = {}
        for r in rows:
            pairs.setdefault(r[9], set()).add((r[0], r[1]))
        assert all(len(v) == 7 and len({label for _, label in v}) == 1 for v in pairs.values()), "parallel rows"
    train = (sample_world / "xnli" / "XNLI-MT-1.0" / "multinli" / "multinli.train.en.tsv").read_text(encoding="utf-8")
    lines = train.splitlines()
    assert lines[0] == "premise\thypo\tlabel" and len(lines) - 1 == 300
    assert {line.split("\t")[2] for line in lines[1:]} == {"entailment", "neutral", "contradictory"}


def _qas(path) -> list:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(p["context"], qa) for article in data["data"] for p in article["paragraphs"] for qa in p["qas"]]


def test_mlqa_answers_are_at_answer_start(sample_world):
    ids = []
    files = sorted((sample_world / "mlqa").rglob("*.json"))
    assert len(files) == 2 * len(LANGUAGES) + 1
    for path in files:
        qas = _qas(path)
        expected = 150 if path.name == "train-v1.1.json" else 20
        assert len(qas) == expected, path
        for context, qa in qas:
            assert qa["question"].strip()
            for answer in qa["answers"]:
                start = answer["answer_start"]
                assert context[start:start + len(answer["text"])] == answer["text"], (path, qa)
            ids.append(qa["id"])
    assert len(ids) == len(set(ids))
    squad = json.loads((sample_world / "mlqa" / "squad" / "train-v1.1.json").read_text(encoding="utf-8"))
    assert squad["version"] == "1.1" and all(" " not in article["title"] for article in squad["data"])


def _ner(path) -> list:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n\n")
    return [block.split("\n") for block in text.strip("\n").split("\n\n")]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ner_is_valid_iob2(sample_world, lang):
    splits = ("train", "dev", "test") if lang == "en" else ("dev", "test")
    assert sorted(p.name for p in (sample_world / "ner" / "wikiann" / lang).iterdir()) == sorted(splits)
    for split in splits:
        sentences = _ner(sample_world / "ner" / "wikiann" / lang / split)
        assert len(sentences) == (300 if split == "train" else 30)
        for sentence in sentences:
            previous = "O"
            for line in sentence:
                token, tag = line.split("\t")
                assert token.startswith(f"{lang}:") and len(token) > len(lang) + 1
                assert tag in {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
                if tag.startswith("I-"):
                    assert previous[2:] == tag[2:], sentence
                if lang == "zh":
                    assert len(token) == len("zh:") + 1
                previous = tag
            assert any(line.split("\t")[1] != "O" for line in sentence)
