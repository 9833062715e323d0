"""Data files and model directories a stage is given: problems found before training or loading, with
the file, the line or byte, and the question id named."""
from __future__ import annotations

import json
import shutil

import pytest

from xlmk.errors import ConfigError, DataError


@pytest.fixture()
def mlqa_copy(tmp_path, sample_world):
    root = tmp_path / "mlqa"
    shutil.copytree(sample_world / "mlqa", root)
    return root


def _first_qa(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    return data, data["data"][0]["paragraphs"][0]["qas"][0]


def test_mlqa_gold_without_answers_is_found_before_training(mlqa_copy, tmp_path):
    """Was: found after a full fine-tuning epoch, without the file's name."""
    from xlmk.downstream.run import finetune

    gold = mlqa_copy / "dev" / "dev-context-de-question-de.json"
    data, qa = _first_qa(gold)
    del qa["answers"]
    gold.write_text(json.dumps(data), encoding="utf-8")
    run = tmp_path / "run"
    with pytest.raises(DataError) as err:
        finetune("mlqa-tiny", out=run, data=str(mlqa_copy), languages=["en", "de"])
    assert str(err.value).startswith(f"{gold}: 1 question(s) without gold `answers`, first id {qa['id']!r}")
    assert not list(run.glob("seed-*"))  # no seed started: nothing trained, nothing to lose


def test_mlqa_file_without_questions_is_named(mlqa_copy):
    from xlmk.downstream.specs import MlqaSpec

    gold = mlqa_copy / "test" / "test-context-en-question-en.json"
    gold.write_text(json.dumps({"version": "1.0", "data": [{"title": "t", "paragraphs": []}]}), encoding="utf-8")
    task = MlqaSpec(data_dir=str(mlqa_copy)).build()
    with pytest.raises(DataError, match=r"test-context-en-question-en.json: no questions in this MLQA test file"):
        task.load("test", "en")
    assert task.load("dev", "en")[0].examples  # the other files still read


def test_lama_file_that_is_not_utf8_names_file_line_and_byte(tmp_path, sample_world):
    from xlmk.probe.lama import Coverage, read_lama

    data = tmp_path / "lama"
    shutil.copytree(sample_world / "lama", data)
    bad = sorted((data / "TREx").glob("*.jsonl"))[0]
    lines = bad.read_bytes().splitlines(keepends=True)
    offset = len(lines[0]) + 5
    bad.write_bytes(lines[0] + lines[1][:5] + b"\xff\xfe" + lines[1][5:] + b"".join(lines[2:]))
    with pytest.raises(DataError) as err:
        read_lama(data, ["TREx"], Coverage())
    assert str(err.value).startswith(f"{bad}:2: not UTF-8 text at byte offset {offset}")


def test_missing_model_path_is_named(tmp_path):
    """Was: a raw traceback from the hub client."""
    from xlmk.downstream.run import finetune
    from xlmk.modeling import load_masked_lm

    missing = tmp_path / "runs" / "A" / "final"
    with pytest.raises(ConfigError, match=f"model {missing}: no such directory$"):
        load_masked_lm(str(missing))
    with pytest.raises(ConfigError, match=f"--model {missing}: no such directory$"):
        finetune("xnli-tiny", out=tmp_path / "run", model=str(missing))
    assert not (tmp_path / "run").exists()


def test_truncated_weights_are_named(tmp_path, tiny_model):
    """Was: safetensors' "MetadataIncompleteBuffer" without the file."""
    from xlmk.modeling import load_masked_lm

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    weights = model / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=rf"^{weights}: truncated: {len(whole) // 2} bytes, its header lists tensors "
                                        rf"up to byte {len(whole)}"):
        load_masked_lm(str(model))
    weights.write_bytes(whole[:6])  # not even a header
    with pytest.raises(DataError, match=rf"^{weights}: not a readable safetensors file"):
        load_masked_lm(str(model))
    weights.write_bytes(whole)
    load_masked_lm(str(model))  # whole again: loads


def test_a_file_or_a_folder_without_config_is_not_a_model(tmp_path):
    from xlmk.contracts import check_model_dir

    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match="weights.bin: is a file, not a model directory"):
        check_model_dir(tmp_path / "weights.bin")
    with pytest.raises(ConfigError, match="not a model directory .no config.json."):
        check_model_dir(tmp_path)
    assert check_model_dir("xlm-roberta-base") is None  # a hub name is left to the hub client


def test_probe_data_folders_are_checked_before_the_model_loads(tmp_path, sample_world):
    from xlmk.probe.run import build_recipe, probe

    data = tmp_path / "mlama"
    shutil.copytree(sample_world / "mlama", data)
    recipe = build_recipe("mlama-tiny", model=str(tmp_path / "no-model"), data=str(data), languages=["en", "xx"])
    with pytest.raises(DataError, match=r"no mLAMA data for xx \(no \{lang\}/templates.jsonl; available: .*en"):
        probe(recipe, out_dir=tmp_path / "out")  # the model path does not exist: it was never loaded
    recipe = build_recipe("lama-tiny", model=str(tmp_path / "no-model"), data=str(tmp_path / "mlama"),
                          overrides=["probe.corpora=[TREx, Squad]"])
    with pytest.raises(DataError, match=r"no TREx/, Squad/ folder; set probe.corpora"):
        probe(recipe, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_training_file_with_no_usable_example_is_found_before_training(mlqa_copy, tmp_path):
    """Every gold answer off its answer_start: all training examples are skipped, which is said now."""
    from xlmk.downstream.run import finetune

    train = mlqa_copy / "squad" / "train-v1.1.json"
    data = json.loads(train.read_text(encoding="utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    answer["answer_start"] = len(paragraph["context"]) + 1
    train.write_text(json.dumps(data), encoding="utf-8")
    run = tmp_path / "run"
    with pytest.raises(DataError, match=rf"^{train}: no usable train example for en \(empty, or every example skipped\)"):
        finetune("mlqa-tiny", out=run, data=str(mlqa_copy), languages=["en"])
    assert not list(run.glob("seed-*"))  # nothing trained
