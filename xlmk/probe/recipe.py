"""The probe recipe: which encoder, which probe (LAMA, mLAMA, XEP, XOR or your own), how to run it.

Shipped recipes live in `registry/recipes/probe/` (`lama`, `mlama`, `xep`, `xor`, and `*-tiny` twins
on the bundled sample world). `xlmk probe <kind> --model DIR` loads the recipe of that name and points
its encoder at DIR.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from xlmk.components import Encoder, HFMaskedLM
from xlmk.config import Seed, StrictModel
from xlmk.probe.specs import LamaProbe, ProbeSpec


class ProbeRun(StrictModel):
    """How to run a probe: batching, device, precision and where outputs go."""

    batch_size: int = Field(64, ge=1, description="Sequences per forward pass (inputs are sorted by length first).")
    device: str = Field("auto", description="auto (cuda when available, else cpu), cpu, cuda, cuda:1, mps, …")
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Weights and activations; log-probabilities are always computed in fp32.")
    output_dir: str = Field("runs/probe", description="Run directory: results.jsonl, predictions, coverage.json, recipe.yaml.")
    save_predictions: bool = Field(True, description="Write every fact's or query's prediction (JSONL) for error analysis.")
    cache_dir: str | None = Field(None, description="Where candidate lists and their embeddings are cached; None = $XLMK_CACHE or ~/.cache/xlmk.")
    model_name: str | None = Field(None, description="Short label of the model in tables; None = the model directory's name.")


class ProbeRecipe(StrictModel):
    """A complete probing run on one model."""

    name: str = Field(description="Recipe name (the file's stem by default).")
    version: int = Field(1, ge=1, description="Bumped when the recipe's meaning changes; stored in every result row's extra.")
    description: str = Field("", description="One line on what the recipe is for.")
    seed: Seed = Field(0, description="Seed of query and candidate sampling (XEP/XOR); stored in every result row.")
    encoder: Encoder = Field(default_factory=HFMaskedLM, description="The model probed (no training happens).")
    probe: ProbeSpec = Field(default_factory=LamaProbe, description="What to probe, and on which data.")
    run: ProbeRun = Field(default_factory=ProbeRun, description="Batching, device and outputs.")
