"""Which knowledge rows training never sees, in one place for pre-training and for XEP/XOR probing.

Two splits, both chosen by a stable hash (the same in every run, every process and every probe):
- rows (`data.heldout`): a mention (language, page, span, entity) or a triple (subject, relation, object)
  whose CRC-32 falls below the share; `prepare.py` marks them (`mention_heldout`, `triple_heldout`);
- entities (`data.heldout_entities`): a QID whose salted CRC-32 falls below the share; its mentions and
  the triples it is the subject of never enter training (the zero-shot reading of XEP/XOR).

The probes recompute the same keys from the knowledge tables, so a model is probed on rows its
training stream could not draw; `tests/pretrain/test_heldout.py` checks both sides agree.
"""
from __future__ import annotations

import zlib
from typing import Iterable

import numpy as np

ENTITY_SALT = "heldout-entity\t"


def below(keys: Iterable[str], fraction: float) -> np.ndarray:
    """True where a key's CRC-32 falls below `fraction` of its range."""
    cut = int(fraction * 2**32)
    return np.fromiter((zlib.crc32(k.encode("utf-8")) < cut for k in keys), dtype=bool)


def mention_key(lang: str, page_title: str, start: int, end: int, qid: str) -> str:
    return f"{lang}\t{page_title}\t{start}\t{end}\t{qid}"


def triple_key(subject: str, relation: str, obj: str) -> str:
    return f"{subject}\t{relation}\t{obj}"


def entity_mask(qids: Iterable[str], fraction: float) -> np.ndarray:
    """A boolean per QID: held out of training as an entity."""
    return below((ENTITY_SALT + q for q in qids), fraction)
