"""Where XLM-R's tokenizer comes from: an explicit path, the shared copy, else the hub's FacebookAI/xlm-roberta-base."""
from __future__ import annotations

import pytest

from xlmk import modeling
from xlmk.errors import ConfigError


def test_explicit_path_wins_and_a_wrong_one_is_named(tmp_path, monkeypatch):
    (tmp_path / "tokenizer.json").write_text("{}")
    monkeypatch.setenv("XLMK_XLMR_TOKENIZER", str(tmp_path))
    assert modeling.xlmr_tokenizer_file() == tmp_path / "tokenizer.json"
    monkeypatch.setenv("XLMK_XLMR_TOKENIZER", str(tmp_path / "nope.json"))
    with pytest.raises(ConfigError, match="XLMK_XLMR_TOKENIZER=.*nope.json: no tokenizer.json there"):
        modeling.xlmr_tokenizer_file()


def test_falls_back_to_the_hub_when_online_and_says_so_offline(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("XLMK_XLMR_TOKENIZER", raising=False)
    monkeypatch.setattr(modeling, "_local_xlmr_tokenizers", lambda: [tmp_path / "absent" / "tokenizer.json"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE is set.*FacebookAI/xlm-roberta-base"):
        modeling.xlmr_tokenizer_file()
    asked = []
    fetched = tmp_path / "hub" / "tokenizer.json"
    # the download itself needs a network this test does not have: record what is asked for
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name: asked.append((repo, name)) or str(fetched))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert modeling.xlmr_tokenizer_file() == fetched
    assert asked == [("FacebookAI/xlm-roberta-base", "tokenizer.json")]
