"""Recipes and checkpoints run custom code only when the user allows it, and say how to allow it."""
from __future__ import annotations

import pytest
import yaml

from xlmk.config import import_target, load_recipe
from xlmk.errors import ConfigError
from xlmk.trust import Policy, custom_targets, enforced

SHELL = {"kind": "custom", "target": "os:system", "options": {"command": "touch PWNED"}}


def _shell_recipe(tmp_path):
    data = load_recipe("pretrain", "mep-tiny").model_dump(mode="json")
    data["loss"] = SHELL
    path = tmp_path / "shell.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data


def test_a_recipe_naming_custom_code_is_refused_before_any_work(tmp_path, monkeypatch):
    from xlmk.pretrain.run import pretrain

    monkeypatch.chdir(tmp_path)
    path, _ = _shell_recipe(tmp_path)
    with pytest.raises(ConfigError) as err:
        pretrain(str(path), output_dir=tmp_path / "run")
    message = str(err.value)
    assert "names custom code that xlmk would import and run: loss.target = 'os:system'" in message
    assert "--trust-custom-code (Python: trust_custom_code=True)" in message and "--user-module FILE" in message
    assert not (tmp_path / "run").exists() and not (tmp_path / "PWNED").exists()


def test_the_command_line_says_which_flag_allows_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from xlmk.cli.main import app

    monkeypatch.chdir(tmp_path)
    path, _ = _shell_recipe(tmp_path)
    result = CliRunner().invoke(app, ["pretrain", "--recipe", str(path), "--out", str(tmp_path / "run")])
    assert isinstance(result.exception, ConfigError) and "Pass --trust-custom-code" in str(result.exception)
    assert not (tmp_path / "PWNED").exists()


def test_resuming_a_checkpoint_whose_recipe_names_custom_code_asks_for_the_flag(tmp_path, monkeypatch):
    """A downloaded run directory: its checkpoint's recipe.yaml is what --resume would run."""
    from xlmk.pretrain.run import pretrain

    monkeypatch.chdir(tmp_path)
    _, data = _shell_recipe(tmp_path)
    data["tasks"]["mep"]["loss"] = {"kind": "custom", "target": "evil:payload"}
    ckpt = tmp_path / "downloaded" / "checkpoints" / "step-00000002"
    (ckpt / "trainer_state").mkdir(parents=True)
    (ckpt / "trainer_state" / "state.json").write_text('{"step": 2}')
    (ckpt / "recipe.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        pretrain(None, resume=tmp_path / "downloaded")
    message = str(err.value)
    assert f"the recipe.yaml of {ckpt} names custom code" in message
    assert "loss.target = 'os:system'" in message and "tasks.mep.loss.target = 'evil:payload'" in message
    assert "--trust-custom-code" in message and not (tmp_path / "PWNED").exists()
    assert sorted(p.name for p in (tmp_path / "downloaded").iterdir()) == ["checkpoints"]  # nothing written


def test_a_custom_task_and_a_custom_probe_need_the_flag_too(tmp_path, tiny_model):
    from xlmk.downstream.run import finetune
    from xlmk.probe.recipe import ProbeRecipe
    from xlmk.probe.run import probe

    with pytest.raises(ConfigError, match=r"finetune recipe 'xnli-tiny' names custom code .*task.target = "
                                          r"'custom_task:build'"):
        finetune("xnli-tiny", out=tmp_path / "f", overrides=["task={kind: custom, target: 'custom_task:build'}"])
    rec = ProbeRecipe(name="vocab", encoder={"kind": "hf-masked-lm", "path": str(tiny_model)},
                      probe={"kind": "custom", "target": "os:getcwd", "version": 1})
    with pytest.raises(ConfigError, match=r"probe recipe 'vocab' names custom code .*probe.target = 'os:getcwd'"):
        probe(rec, out_dir=tmp_path / "p")
    assert not (tmp_path / "f").exists() and not (tmp_path / "p").exists()


USER_PROBE = '''
def share_of_long_pieces(model, tokenizer, min_length=3, **_):
    vocab = tokenizer.get_vocab()
    yield {"metric": "long-pieces", "value": 100.0 * sum(len(p) >= min_length for p in vocab) / len(vocab),
           "subset": "vocabulary", "n": len(vocab)}
'''


def test_a_user_module_named_by_path_is_imported_and_allowed_and_nothing_else(tmp_path, tiny_model):
    from xlmk.probe.recipe import ProbeRecipe
    from xlmk.probe.run import probe
    from xlmk.results import read_rows

    module = tmp_path / "code" / "my_vocab_probe.py"
    module.parent.mkdir()
    module.write_text(USER_PROBE)
    rec = ProbeRecipe(name="vocab", encoder={"kind": "hf-masked-lm", "path": str(tiny_model)},
                      probe={"kind": "custom", "target": "my_vocab_probe:share_of_long_pieces", "version": 1})
    res = probe(rec, out_dir=tmp_path / "p", user_modules=[module])  # not on sys.path: imported from the file
    (row,) = read_rows([tmp_path / "p"])
    assert row.metric == "long-pieces" and 0 < row.value < 100 and res.rows[0].value == row.value
    other = rec.model_copy(update={"probe": rec.probe.model_copy(update={"target": "os:getcwd"})})
    with pytest.raises(ConfigError, match="probe.target = 'os:getcwd'"):
        probe(other, out_dir=tmp_path / "q", user_modules=[module])
    with pytest.raises(ConfigError, match=r"--user-module .*nope.py: not a .py file"):
        probe(rec, out_dir=tmp_path / "q", user_modules=[tmp_path / "nope.py"])


def test_every_import_inside_a_stage_is_checked_and_targets_are_found_anywhere():
    with enforced(Policy()):
        with pytest.raises(ConfigError, match=r"head.target: 'os:system' is custom code; pass --trust-custom-code"):
            import_target("os:system", where="head.target")
    with enforced(Policy(modules=frozenset({"os"}))):
        assert callable(import_target("os.path:join"))  # a submodule of a named module
    assert callable(import_target("os:getcwd"))  # outside a stage: the caller's own Python code
    recipe = {"heads": [{"kind": "custom", "target": "a:b", "options": {"inner": {"kind": "custom", "target": "c:d"}}}]}
    assert custom_targets(recipe) == [("heads.0.target", "a:b"), ("heads.0.options.inner.target", "c:d")]
