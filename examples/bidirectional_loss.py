"""A user-written loss for xlmk: the contrastive loss in both directions.

The paper's Eq. 5 scores each query (a masked mention, or subject + relation) against its key and the
other candidates. The authors' released code also scores each key against the batch's queries
("doc2word"). xlmk has that direction built in (`loss: {kind: contrastive, doc2word_weight: 1.0}`, with a
queue of past queries of its own, as the released code); this module writes it as a `kind: custom` loss
without the queue, an example of a user-written loss that needs no change to xlmk:

    loss:
      kind: custom
      target: "bidirectional_loss:bidirectional_contrastive"
      options: {reverse_weight: 1.0}

`target(**options)` must return a callable with the signature of `xlmk.pretrain.losses.contrastive_loss`
that returns an object with `loss`, `accuracy` and `logits` (a `ContrastiveOutput`).
"""
from __future__ import annotations

from xlmk.pretrain.losses import ContrastiveOutput, contrastive_loss


def bidirectional_contrastive(reverse_weight: float = 1.0, similarity: str = "dot", temperature: float = 1.0):
    def loss(query, keys, queue=None, *, positives=None, key_ids=None, queue_ids=None, **_):
        forward = contrastive_loss(query, keys, queue, positives=positives, similarity=similarity,
                                   temperature=temperature, key_ids=key_ids, queue_ids=queue_ids)
        own = keys if positives is None else keys[positives]  # each query's own key, in query order
        backward = contrastive_loss(own, query, None, similarity=similarity, temperature=temperature)
        return ContrastiveOutput(loss=forward.loss + reverse_weight * backward.loss,
                                 accuracy=forward.accuracy, logits=forward.logits)

    return loss
