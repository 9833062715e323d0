"""xlmk: knowledge-enhanced multilingual encoders (XLM-K) — knowledge, pre-training, probing, fine-tuning.

The Python API is in `xlmk.api` and re-exported here: `load_recipe`, `pretrain`, `probe`, `finetune`,
`results`. Nothing heavy is imported until one of them is called.
"""
from __future__ import annotations

from xlmk.api import finetune, load_recipe

__all__ = ["load_recipe", "pretrain", "probe", "finetune", "results"]


def __getattr__(name: str):
    # `xlmk.pretrain`, `xlmk.probe` and `xlmk.results` are modules made callable on import
    if name in ("pretrain", "probe", "results"):
        import importlib

        return importlib.import_module(f"xlmk.{name}")
    raise AttributeError(f"module 'xlmk' has no attribute {name!r}")
