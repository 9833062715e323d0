"""User strings that become file or directory names (language codes) are validated: `../x` cannot
climb out of a run or knowledge directory, on the command line or in a recipe."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xlmk.cli.main import app
from xlmk.contracts import safe_name
from xlmk.errors import ConfigError

BAD = ["../x", "..", "en/../../etc", "a b", "", "x" * 33, "en\n"]


@pytest.mark.parametrize("code", ["en", "zh-yue", "zh_classical", "sr-Latn", "be_x_old", "x" * 32])
def test_language_codes_pass(code):
    assert safe_name(code, "--languages") == code


@pytest.mark.parametrize("code", BAD)
def test_path_like_codes_are_refused(code):
    with pytest.raises(ConfigError, match=r"^--languages: .* is not allowed \(use 1-32 letters, digits, '_' or '-'; "
                                          r"it becomes part of a file name\)$"):
        safe_name(code, "--languages")


def test_probe_languages_are_refused_on_the_command_line(tmp_path):
    res = CliRunner().invoke(app, ["probe", "xep", "--recipe", "xep-tiny", "--languages", "en,../x",
                                   "--out", str(tmp_path / "out")])
    assert isinstance(res.exception, ConfigError) and str(res.exception).startswith("--languages: '../x' is not allowed")
    assert not (tmp_path / "out").exists()


def test_probe_languages_from_a_recipe_are_refused(tmp_path):
    from xlmk.probe.run import build_recipe, check_probe_inputs

    recipe = build_recipe("xep-tiny", overrides=["probe.candidate_languages=[en, ../../x]"])
    with pytest.raises(ConfigError, match=r"^probe.candidate_languages: '../../x' is not allowed"):
        check_probe_inputs(recipe.probe, None)


def test_finetune_languages_are_refused_before_any_directory_is_made(tmp_path):
    from xlmk.downstream.run import finetune

    with pytest.raises(ConfigError, match=r"^--languages: '../x' is not allowed"):
        finetune("xnli-tiny", out=tmp_path / "run", languages=["en", "../x"])
    with pytest.raises(ConfigError, match=r"^task.languages: '../x' is not allowed"):
        finetune("xnli-tiny", out=tmp_path / "run", overrides=["task.languages=[en, ../x]"])
    with pytest.raises(ConfigError, match=r"^task.train_language: 'en/..' is not allowed"):
        finetune("xnli-tiny", out=tmp_path / "run", overrides=["task.train_language=en/.."])
    assert not (tmp_path / "run").exists()


def test_knowledge_build_languages_are_refused(tmp_path):
    wd = tmp_path / "wd.json"
    wd.write_text("[\n]\n")
    res = CliRunner().invoke(app, ["knowledge", "build", "--out", str(tmp_path / "k"), "--wikidata", str(wd),
                                   "--languages", "en,../../outside"])
    assert isinstance(res.exception, ConfigError)
    assert str(res.exception).startswith("--languages: '../../outside' is not allowed")
    assert not (tmp_path / "k").exists() and not (tmp_path / "outside").exists()


def test_pretrain_knowledge_languages_are_refused(tmp_path):
    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import prepare_sources

    recipe = PretrainRecipe.model_validate({"name": "t", "data": {
        "knowledge": {"kind": "knowledge-dir", "path": str(tmp_path), "languages": ["en", "../x"]},
        "corpus": {"kind": "sample-corpus"}}})
    with pytest.raises(ConfigError, match=r"^data.knowledge.languages: '../x' is not allowed"):
        prepare_sources(recipe, tokenizer=None)
