"""Strict recipes: extends, --set with type checking, and errors that name file, key and nearest names."""
from __future__ import annotations

from pathlib import Path

import pytest

from xlmk.config import load_recipe, recipe_path, registry_dir
from xlmk.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_merges_mappings_and_replaces_kinds(tmp_path):
    base = recipe_path("pretrain", "xlmk")
    child = write(tmp_path / "child.yaml", f"extends: {base}\nqueue: {{size: 64}}\nloss: {{kind: contrastive, temperature: 0.07}}\n")
    r = load_recipe("pretrain", child)
    assert r.name == "child"  # the name never comes from the parent
    assert r.queue.size == 64 and r.queue.push == "micro-batch"  # merged, not replaced
    assert r.loss.temperature == 0.07 and r.loss.similarity == "cosine"  # merged with xlmk's loss (same kind)
    assert r.optim.lr == pytest.approx(3e-5)  # inherited


def test_extends_by_name_chain_and_null_removes_a_task():
    r = load_recipe("pretrain", "oe-classify-tiny")
    assert r.tasks.mep is None and r.tasks.oe is not None
    assert r.tasks.oe.loss.kind == "relation-cross-entropy"
    assert r.tasks.oe.max_length == 64  # from xlmk-tiny
    assert r.encoder.kind == "init"


def test_set_overrides_are_type_checked():
    r = load_recipe("pretrain", "xlmk", ["optim.lr=1e-4", "queue.size=4096", "run.precision=fp32"])
    assert r.optim.lr == pytest.approx(1e-4) and isinstance(r.optim.lr, float)
    assert r.queue.size == 4096
    with pytest.raises(ConfigError, match=r"--set queue.size=many: queue.size: Input should be a valid integer"):
        load_recipe("pretrain", "xlmk", ["queue.size=many"])


def test_set_on_a_string_field_keeps_the_text():
    r = load_recipe("pretrain", "xlmk", ["encoder.path=123"])
    assert r.encoder.path == "123"


def test_misspelt_key_names_file_key_and_suggestion(tmp_path):
    bad = write(tmp_path / "bad.yaml", "extends: xlmk\noptim: {lrr: 0.1}\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe("pretrain", bad)
    msg = str(exc.value)
    assert str(bad) in msg and "optim.lrr" in msg and "did you mean 'lr'" in msg


def test_misspelt_kind_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown kind 'fifa' \(did you mean 'fifo'\?\)"):
        load_recipe("pretrain", "xlmk", ["queue.kind=fifa"])
    bad = write(tmp_path / "bad.yaml", "extends: xlmk\nloss: {kind: contrastiv}\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe("pretrain", bad)
    assert str(bad) in str(exc.value) and "'contrastive'" in str(exc.value)


def test_error_inside_a_parent_names_the_parent(tmp_path):
    parent = write(tmp_path / "parent.yaml", "extends: xlmk\nbatch: {micro_sizee: 4}\n")
    child = write(tmp_path / "child.yaml", "extends: parent.yaml\nqueue: {size: 8}\n")
    with pytest.raises(ConfigError) as exc:
        load_recipe("pretrain", child)
    assert str(parent) in str(exc.value) and "micro_size" in str(exc.value)


def test_unknown_recipe_and_cycles(tmp_path):
    with pytest.raises(ConfigError, match=r"did you mean 'xlmk'"):
        load_recipe("pretrain", "xlmq")
    write(tmp_path / "a.yaml", "extends: b.yaml\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_recipe("pretrain", tmp_path / "a.yaml")


def test_invalid_yaml_names_the_line(tmp_path):
    bad = write(tmp_path / "bad.yaml", "name: x\nqueue: {size: 3\n")
    with pytest.raises(ConfigError, match=rf"{bad}:\d+: invalid YAML"):
        load_recipe("pretrain", bad)


def test_cross_field_rules(tmp_path):
    bad = write(tmp_path / "bad.yaml", "extends: xlmk\ndata: {knowledge: null}\n")
    with pytest.raises(ConfigError, match="data.knowledge is required"):
        load_recipe("pretrain", bad)


def test_registry_dir_is_the_checkout_registry():
    assert (registry_dir() / "recipes" / "pretrain" / "xlmk.yaml").is_file()


def test_set_kind_starts_a_fresh_component():
    r = load_recipe("pretrain", "xlmk-tiny", ["data.knowledge.kind=knowledge-dir", "data.knowledge.path=/k"])
    assert r.data.knowledge.kind == "knowledge-dir" and r.data.knowledge.path == "/k"


def test_set_below_a_switched_off_task_is_refused():
    with pytest.raises(ConfigError, match=r"tasks.mep is null in this recipe"):
        load_recipe("pretrain", "mlm-only-tiny", ["tasks.mep.pooling=mean"])
    r = load_recipe("pretrain", "mlm-only-tiny", ["tasks.mep={}", "tasks.mep.max_length=32"])
    assert r.tasks.mep is not None and r.tasks.mep.max_length == 32
