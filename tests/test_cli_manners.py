"""CLI manners: --version, -h on every command, commands in pipeline order, errors that name a bad model path."""
from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from xlmk.cli.main import app
from xlmk.errors import ConfigError
from xlmk.modeling import check_model_location

runner = CliRunner()


def test_version_flag():
    for flag in ("--version", "-V"):
        res = runner.invoke(app, [flag])
        assert res.exit_code == 0, res.output
        assert re.fullmatch(r"xlmk \d+\.\d+\S* \(.+\)\n", res.output), res.output


def _command_paths(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if hasattr(cmd, "commands"):  # a group
            yield from _command_paths(cmd, prefix + (name,))


def test_short_help_on_every_command():
    root = typer.main.get_command(app)
    paths = list(_command_paths(root))
    assert ("knowledge", "build") in paths and ("pretrain",) in paths and len(paths) > 12
    for path in [()] + paths:
        res = runner.invoke(app, [*path, "-h"])
        assert res.exit_code == 0 and "Usage:" in res.output, (path, res.output)


def test_commands_listed_in_pipeline_order():
    res = runner.invoke(app, ["--help"])
    listed = [m.group(1) for m in re.finditer(r"^│ ([a-z][a-z-]+) ", res.output, flags=re.M)]
    listed = [name for name in listed if name in {"knowledge", "pretrain", "probe", "finetune", "score", "results",
                                                  "demo", "registry"}]
    assert listed == ["knowledge", "pretrain", "probe", "finetune", "score", "results", "demo", "registry"], res.output


def test_model_location_errors_name_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "weights.bin").write_bytes(b"")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"--model .*/missing/final: no such directory"):
        check_model_location(tmp_path / "missing" / "final")
    with pytest.raises(ConfigError, match=r"empty: not a model directory \(no config.json\)"):
        check_model_location(tmp_path / "empty")
    with pytest.raises(ConfigError, match=r"weights.bin: is a file, not a model directory"):
        check_model_location(tmp_path / "weights.bin")
    with pytest.raises(ConfigError, match=r"\./nope: no such directory"):
        check_model_location("./nope")
    check_model_location(tmp_path / "model")
    check_model_location("FacebookAI/xlm-roberta-base")  # a hub id is left to transformers


def test_cli_says_which_model_path_is_missing(tmp_path):
    missing = tmp_path / "run" / "final"
    res = runner.invoke(app, ["probe", "xep", "--recipe", "xep-tiny", "--model", str(missing)])
    # main() prints an XlmkError as one 'error:' line with exit status 2 (tests/test_cli.py checks that path)
    assert isinstance(res.exception, ConfigError), res.output
    assert str(res.exception) == f"model {missing}: no such directory"
