"""xlmk: knowledge-enhanced multilingual encoders (XLM-K) — knowledge, pre-training, probing, fine-tuning.

The Python API is `xlmk.api`: `load_recipe`, `pretrain`, `probe`, `finetune`, `results`, plain functions
that the CLI calls too. `xlmk.pretrain`, `xlmk.probe` and `xlmk.results` are the subpackages and module
of those names. Nothing heavy is imported until a function is called.
"""
from __future__ import annotations

from xlmk import api
from xlmk.api import finetune, load_recipe

__all__ = ["api", "load_recipe", "finetune"]
