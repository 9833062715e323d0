"""Recipe edges: duplicate keys, booleans where numbers belong, empty key segments, a missing `extends:`
file, and values out of range (seed, betas, max_length against the encoder, a queue larger than memory)."""
from __future__ import annotations

import types

import pytest

from xlmk.config import load_recipe, read_yaml
from xlmk.errors import ConfigError


def test_duplicate_yaml_key_names_file_and_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("extends: xlmk-tiny\noptim:\n  lr: 1.0e-3\n  max_steps: 5\n  lr: 2.0e-3\n")
    with pytest.raises(ConfigError) as err:
        load_recipe("pretrain", path)
    assert str(err.value) == f"{path}:5: invalid YAML: duplicate key 'lr' (first on line 3)"
    path.write_text("a: 1\nb: {a: 1}\n")  # the same key in two mappings is fine
    assert read_yaml(path) == {"a": 1, "b": {"a": 1}}


@pytest.mark.parametrize("override", ["queue.size=true", "run.save_every=false", "loss.temperature=true",
                                      "optim.max_steps=yes"])
def test_a_boolean_is_not_a_number(override):
    """Was: `--set queue.size=true` became 1."""
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^--set {override}: {key}: expected a number, got the boolean"):
        load_recipe("pretrain", "xlmk-tiny", [override])


def test_booleans_still_set_boolean_fields():
    r = load_recipe("pretrain", "xlmk-tiny", ["run.gradient_checkpointing=true", "loss.mask_same_entity=false"])
    assert r.run.gradient_checkpointing is True and r.loss.mask_same_entity is False


@pytest.mark.parametrize("override", ["queue..size=3", ".seed=1", "seed.=1", "queue. .size=3"])
def test_empty_key_segments_are_refused(override):
    with pytest.raises(ConfigError, match="empty part in the key path"):
        load_recipe("pretrain", "xlmk-tiny", [override])


def test_missing_extends_file_is_named_as_a_missing_file(tmp_path):
    """Was: "no pretrain recipe 'base.yaml' (shipped: …)"."""
    child = tmp_path / "child.yaml"
    child.write_text("extends: ./parents/base.yaml\nname: child\n")
    with pytest.raises(ConfigError) as err:
        load_recipe("pretrain", child)
    msg = str(err.value)
    assert msg == (f"{child}: extends: pretrain recipe file './parents/base.yaml': no such file "
                   f"({tmp_path / 'parents' / 'base.yaml'})")
    assert "shipped" not in msg
    with pytest.raises(ConfigError, match="no pretrain recipe 'xlmk-tinyy' .did you mean 'xlmk-tiny'"):
        load_recipe("pretrain", "xlmk-tinyy")  # a name is still looked up in the registry


@pytest.mark.parametrize("stage, recipe, override, said", [
    ("pretrain", "xlmk-tiny", "seed=-1", "seed: Input should be greater than or equal to 0 (got -1)"),
    ("pretrain", "xlmk-tiny", "optim.betas=[2,2]", "optim.betas.0: Input should be less than 1 (got 2)"),
    ("pretrain", "xlmk-tiny", "optim.betas=[0.9,-0.1]", "optim.betas.1: Input should be greater than or equal to 0"),
    ("finetune", "xnli-tiny", "seeds=[1,-2]", "seeds.1: Input should be greater than or equal to 0 (got -2)"),
    ("finetune", "xnli-tiny", "optim.betas=[0.9,1.0]", "optim.betas.1: Input should be less than 1 (got 1.0)"),
    ("probe", "xep-tiny", "seed=-5", "seed: Input should be greater than or equal to 0 (got -5)"),
])
def test_out_of_range_values_are_refused_with_the_range(stage, recipe, override, said):
    with pytest.raises(ConfigError) as err:
        load_recipe(stage, recipe, [override])
    assert f"--set {override}: {said}" in str(err.value)


def _encoder(positions=514, pad=1, hidden=64):
    config = types.SimpleNamespace(max_position_embeddings=positions, pad_token_id=pad, model_type="xlm-roberta",
                                   hidden_size=hidden)
    return types.SimpleNamespace(config=config)


def test_max_length_beyond_the_encoders_positions():
    """Was: an index error deep in the embeddings (max_length=100000)."""
    from xlmk.pretrain.stream import check_sizes

    recipe = load_recipe("pretrain", "xlmk-tiny", ["tasks.mlm.max_length=100000"])
    with pytest.raises(ConfigError, match=r"^tasks.mlm.max_length = 100000: longer than the encoder's 512 positions "
                                          r"\(allowed: up to 512\)$"):
        check_sizes(recipe, _encoder())
    check_sizes(load_recipe("pretrain", "xlmk-tiny", ["tasks.mlm.max_length=512"]), _encoder())


def test_finetune_max_length_is_checked_against_the_checkpoint(tmp_path, tiny_model):
    from xlmk.downstream.run import finetune

    with pytest.raises(ConfigError, match="task.max_length = 600: longer than the encoder's 512 positions"):
        finetune("xnli-tiny", out=tmp_path / "run", model=str(tiny_model), overrides=["task.max_length=600"])
    assert not (tmp_path / "run").exists()


def test_a_queue_that_does_not_fit_in_memory_is_refused_with_its_size():
    """Was: queue.size=1e9 tried to allocate it."""
    from xlmk.contracts import check_queue_memory
    from xlmk.pretrain.stream import check_sizes

    recipe = load_recipe("pretrain", "xlmk-tiny", ["queue.size=1e9"])
    assert recipe.queue.size == 10**9
    with pytest.raises(ConfigError, match=r"^queue.size = 1000000000: 2 queue\(s\) of 1,000,000,000 keys of 64 floats "
                                          r"need 491.7 GiB, more than half the .* GiB of available RAM; lower queue.size"):
        check_sizes(recipe, _encoder())
    check_sizes(load_recipe("pretrain", "xlmk-tiny", ["queue.size=4096"]), _encoder())
    with pytest.raises(ConfigError, match=r"need 1.0 GiB, more than half the 1.0 GiB available"):
        check_queue_memory(2**20, 252, 1, available=2**30)
    check_queue_memory(2**20, 252, 1, available=4 * 2**30)
