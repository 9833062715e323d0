"""Shared fixtures: real data samples, the bundled sample world, tiny offline models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("XLMK_QUIET", "1")

ROOT = Path(__file__).resolve().parent.parent


def _realdata_dir() -> Path:
    env = os.environ.get("XLMK_REALDATA")
    return Path(env) if env else ROOT.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata: small real samples in their original layouts (CI has it beside the checkout)."""
    path = _realdata_dir()
    if not path.is_dir():
        pytest.fail(f"real data samples not found at {path} (set XLMK_REALDATA)")
    return path


@pytest.fixture(scope="session")
def sample_world() -> Path:
    from xlmk.sample_world import DATA_DIR

    return DATA_DIR


@pytest.fixture(scope="session")
def xlmk_cache(tmp_path_factory) -> Path:
    """A cache directory shared by the whole session (models built once)."""
    path = tmp_path_factory.mktemp("xlmk-cache")
    os.environ["XLMK_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(xlmk_cache) -> Path:
    """A tiny random XLM-R with the sample-world Unigram tokenizer (fast on CPU)."""
    from xlmk.modeling import cached_init_model

    return cached_init_model("tiny", "sample", 0, xlmk_cache)


@pytest.fixture(scope="session")
def tiny_xlmr_model(xlmk_cache) -> Path:
    """A tiny random XLM-R with XLM-R's real 250k vocabulary (realistic tokenization, slower)."""
    from xlmk.modeling import cached_init_model

    return cached_init_model("tiny", "xlmr", 0, xlmk_cache)
