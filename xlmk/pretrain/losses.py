"""The contrastive loss of Eq. 5 and the relation classifier loss of the `oe-classify` ablation.

Eq. 5 is a softmax over the positive and every other candidate: the other keys of the (global) batch
and the queue. The plain dot product of the paper is the default; L2 normalisation and a temperature
are options, and every result records which was used.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ContrastiveOutput:
    loss: torch.Tensor
    accuracy: torch.Tensor  # share of queries whose positive scores highest (ties count as wrong)
    logits: torch.Tensor


def contrastive_loss(
    query: torch.Tensor,
    keys: torch.Tensor,
    queue: torch.Tensor | None = None,
    *,
    positives: torch.Tensor | None = None,
    similarity: str = "dot",
    temperature: float = 1.0,
    in_batch_negatives: bool = True,
    key_ids: torch.Tensor | None = None,
    queue_ids: torch.Tensor | None = None,
    mask_same_entity: bool = False,
) -> ContrastiveOutput:
    """Cross-entropy of each query against its positive key and all other candidates.

    query [b, d]; keys [B, d] (the global batch of keys); positives [b] index each query's key in
    `keys` (default: query i <-> key i); queue [N, d] detached candidates.
    """
    b = query.shape[0]
    positives = torch.arange(b, device=query.device) if positives is None else positives.to(query.device)
    if similarity == "cosine":
        query, keys = F.normalize(query, dim=-1), F.normalize(keys, dim=-1)
        queue = F.normalize(queue, dim=-1) if queue is not None else None
    elif similarity != "dot":
        raise ValueError(f"unknown similarity {similarity!r} (dot or cosine)")

    if in_batch_negatives:
        batch_logits = query @ keys.t()  # [b, B]
        target = positives
    else:
        batch_logits = (query * keys[positives]).sum(-1, keepdim=True)  # [b, 1]
        target = torch.zeros(b, dtype=torch.long, device=query.device)
    logits = batch_logits
    if queue is not None and queue.shape[0] > 0:
        logits = torch.cat([logits, query @ queue.t().to(query.dtype)], dim=1)
    logits = logits / temperature

    if mask_same_entity and key_ids is not None:
        own = key_ids.to(query.device)[positives]  # [b]
        cand = key_ids.to(query.device) if in_batch_negatives else own[:, None].new_full((b, 1), -2)
        cand = cand.expand(b, -1) if cand.dim() == 1 else cand
        parts = [cand]
        if queue is not None and queue.shape[0] > 0:
            parts.append(queue_ids.to(query.device).expand(b, -1) if queue_ids is not None
                         else torch.full((b, queue.shape[0]), -1, device=query.device, dtype=torch.long))
        cand_ids = torch.cat(parts, dim=1)
        same = (cand_ids == own[:, None]) & (own[:, None] >= 0)
        same[torch.arange(b), target] = False  # never the positive itself
        logits = logits.masked_fill(same, float("-inf"))

    loss = F.cross_entropy(logits.float(), target)
    with torch.no_grad():
        pos = logits.gather(1, target[:, None])
        others = logits.clone()
        others[torch.arange(b), target] = float("-inf")
        accuracy = (pos.squeeze(1) > others.max(dim=1).values).float().mean()
    return ContrastiveOutput(loss=loss, accuracy=accuracy, logits=logits)


def relation_classification_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0):
    """Cross-entropy over relations from [CLS(subject); CLS(object)] (Table 4, 'OE w/o contrastive loss')."""
    loss = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
    accuracy = (logits.argmax(-1) == labels).float().mean()
    return loss, accuracy
