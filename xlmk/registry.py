"""The families of components, assembled above the stages.

`xlmk.components` holds the general families (encoder, head, queue, loss, dataset) and imports no stage;
the stages define their own spec unions (`xlmk.downstream.specs.TaskSpec`, `xlmk.probe.specs.ProbeSpec`).
This module puts them side by side for `xlmk registry`, so the import graph points one way:
registry -> stages -> components.
"""
from __future__ import annotations

from typing import Any, get_args

from xlmk.components import DatasetSpec, Encoder, Head, Loss, Queue
from xlmk.config import StrictModel, _suggest
from xlmk.downstream.specs import TaskSpec
from xlmk.errors import ConfigError
from xlmk.probe.specs import ProbeSpec

FAMILIES: dict[str, tuple[str, Any]] = {
    "encoder": ("The network being pre-trained, probed or fine-tuned.", Encoder),
    "head": ("Projections of encoder states into the contrastive space.", Head),
    "queue": ("The candidate list of negatives (Appendix C).", Queue),
    "loss": ("Objectives of the knowledge tasks.", Loss),
    "dataset": ("Where training text and knowledge come from.", DatasetSpec),
    "task": ("Fine-tuning tasks (xlmk finetune): data layout, languages, sequence lengths.", TaskSpec),
    "probe": ("Probes (xlmk probe): LAMA, mLAMA, XEP, XOR.", ProbeSpec),
}


def family_members(family: str) -> list[type[StrictModel]]:
    if family not in FAMILIES:
        raise ConfigError(f"unknown family {family!r}{_suggest(family, FAMILIES)} (families: {', '.join(FAMILIES)})")
    union = get_args(FAMILIES[family][1])[0]
    return list(get_args(union))


def kind_of(member: type[StrictModel]) -> str:
    return get_args(member.model_fields["kind"].annotation)[0]
