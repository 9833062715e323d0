"""Model cards in saved model directories, and `xlmk push` refusing clearly when it cannot upload."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from xlmk.errors import ConfigError, XlmkError
from xlmk.modelcard import parameter_count, render_card
from xlmk.modeling import model_hash
from xlmk.publish import push
from xlmk.results import ResultRow, append_rows


@pytest.fixture()
def model_copy(tiny_model, tmp_path):
    out = tmp_path / "run" / "final"
    shutil.copytree(tiny_model, out)
    return out


def test_card_of_a_fresh_model_gives_its_size(model_copy):
    card = render_card(model_copy)
    assert card.startswith("---\nlibrary_name: transformers\n")
    assert "hidden 64, layers 2" in card and f"parameters: {parameter_count(model_copy):,}" in card
    assert "@inproceedings{jiang2022xlmk" in card and "No result rows found" in card


def test_card_lists_rows_about_this_model_found_beside_it(model_copy, tmp_path):
    common = dict(stage="probe", version=1, split="test", metric="accuracy", model=str(model_copy),
                  model_hash=model_hash(model_copy), data_hash="ab" * 32, seed=1)
    append_rows(model_copy.parent, [ResultRow(name="xep", language=lang, value=v, **common)
                                    for lang, v in (("en", 30.0), ("de", 20.0))])
    other = tmp_path / "elsewhere"
    append_rows(other, [ResultRow(name="xor", language="en", value=12.5, **common),
                        ResultRow(name="xor", language="en", value=99.0, **{**common, "model": "x", "model_hash": "0"})])
    card = render_card(model_copy, search=[other])
    assert "| probe | xep | test | accuracy | 25.00 | 2 languages, seed 1 | abababababab |" in card
    assert "| probe | xor | test | accuracy | 12.50 |" in card and "99.00" not in card


def test_push_writes_the_card_and_refuses_offline(model_copy, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not (model_copy / "README.md").exists()
    with pytest.raises(XlmkError, match="offline \\(HF_HUB_OFFLINE is set\\): nothing was uploaded"):
        push(model_copy, "someone/xlmk-tiny")
    card = (model_copy / "README.md").read_text()
    assert 'from_pretrained("someone/xlmk-tiny")' in card
    done = push(model_copy, "someone/xlmk-tiny", dry_run=True)
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(done["files"])


def test_push_without_a_token_says_so(model_copy, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)  # as on a machine never logged in
    with pytest.raises(XlmkError, match="no Hugging Face token: nothing was uploaded. Run `hf auth login`"):
        push(model_copy, "someone/xlmk-tiny")


def test_push_refuses_bad_arguments_by_name(model_copy, tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        push(tmp_path / "missing", "a/b")
    with pytest.raises(ConfigError, match="--repo 'a/b/c': expected NAME or OWNER/NAME"):
        push(model_copy, "a/b/c")


def test_push_command_offline(model_copy):
    res = subprocess.run([sys.executable, "-m", "xlmk.cli", "push", "--model", str(model_copy), "--repo", "me/m"],
                         capture_output=True, text=True, timeout=60, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 2 and "nothing was uploaded" in res.stderr and "Traceback" not in res.stderr
