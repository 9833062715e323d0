"""Fixtures of the pre-training tests: a synthetic knowledge world (3 languages), a corpus, a tiny model."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import pretrain_helpers as H  # noqa: E402


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """(knowledge dir, corpus dir, tiny model dir, cache dir), built once per session."""
    root = tmp_path_factory.mktemp("pretrain-world")
    kdir = H.write_knowledge(root / "knowledge")
    corpus = H.write_corpus(root / "corpus")
    model = H.write_tiny_model(root / "model", H.world_texts(kdir, corpus))
    return kdir, corpus, model, root / "cache"


@pytest.fixture(scope="session")
def tokenizer(world):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(world[2])


@pytest.fixture()
def recipe_data(world, tmp_path):
    kdir, corpus, model, cache = world
    return H.recipe_dict(model, kdir, corpus, cache, tmp_path / "run")


@pytest.fixture(scope="session")
def prepared(world, tokenizer):
    from xlmk.pretrain.prepare import prepare_knowledge

    kdir, _, _, cache = world
    return prepare_knowledge(kdir, tokenizer, heldout=0.1, cache_dir=cache)


@pytest.fixture()
def one_thread():
    """Tiny models gain nothing from a second thread and lose several-fold when other work holds the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
