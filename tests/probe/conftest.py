"""Fixtures of the probing tests (building blocks live in probe_support.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # probe_support, also when a single test file is run

from probe_support import make_model, make_tokenizer, save, write_knowledge


@pytest.fixture(scope="session")
def tok():
    return make_tokenizer()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tok):
    """A random tiny model on disk (loaded through the recipe's encoder, as users do)."""
    return save(make_model(tok), tok, tmp_path_factory.mktemp("tiny-probe-model"))


@pytest.fixture()
def kdir(tmp_path):
    return write_knowledge(tmp_path / "knowledge")
