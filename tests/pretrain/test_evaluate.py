"""The held-out in-batch XEP/XOR check: what counts as a hit, what chance is, which states are scored."""
from __future__ import annotations

import pytest
import torch

from xlmk.pretrain.evaluate import _hits, _run, heldout_accuracy


def test_hits_count_the_diagonal_and_ties_as_misses():
    logits = torch.tensor([[3.0, 1.0, 0.0], [2.0, 2.0, 0.0], [0.0, 5.0, 4.0]])
    assert _hits(logits) == 1  # row 0 wins; row 1 ties with a negative; row 2 loses


def test_run_batches_and_chance():
    exs = [{"i": i} for i in range(10)]  # batches of 4, 4 and 2

    def identity(chunk):
        x = torch.eye(4)[: len(chunk)]
        return x, x, True

    def shuffled(chunk):
        x = torch.eye(4)[: len(chunk)]
        return x, x.roll(1, 0), True

    good = _run(exs, 4, identity, "dot")
    assert good["accuracy"] == 1.0 and good["n"] == 10
    assert good["chance"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 2) / 3)
    assert _run(exs, 4, shuffled, "dot")["accuracy"] == 0.0
    # a trailing batch of one has no negative and is not scored
    assert _run(exs[:5], 4, identity, "dot")["n"] == 4


def test_a_model_without_heads_is_scored_on_raw_states(recipe_data, prepared, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(recipe_data["encoder"]["path"])
    model.save_pretrained(tmp_path / "plain")
    AutoTokenizer.from_pretrained(recipe_data["encoder"]["path"]).save_pretrained(tmp_path / "plain")
    out = heldout_accuracy(tmp_path / "plain", prepared, batch_size=4, limit=8, max_length=32)
    assert out["xep"]["heads"] is False and out["xep"]["n"] == 8 and out["xep"]["chance"] == 0.25
    assert 0.0 <= out["xep"]["accuracy"] <= 1.0
