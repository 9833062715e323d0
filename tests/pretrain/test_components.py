"""Hand-computed checks of the contrastive loss (Eq. 5), the FIFO candidate queue (Appendix C) and heads."""
from __future__ import annotations

import math

import pytest
import torch

from xlmk.pretrain.heads import KnowledgeHeads, ProjectionHead, load_knowledge_heads
from xlmk.pretrain.losses import contrastive_loss
from xlmk.pretrain.queue import CandidateQueue


def test_contrastive_loss_three_queries_five_candidates():
    # 3 queries, 3 in-batch keys (key i is the positive of query i) + 2 queued candidates
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    queue = torch.tensor([[0.0, 2.0], [-1.0, 0.0]])
    out = contrastive_loss(q, k, queue)
    # logits rows = q . [k0 k1 k2 z0 z1]
    rows = [[2, 0, 1, 0, -1], [0, 1, 0, 2, 0], [2, 1, 1, 2, -1]]
    expected = [-(r[i] - math.log(sum(math.exp(x) for x in r))) for i, r in enumerate(rows)]
    assert out.loss.item() == pytest.approx(sum(expected) / 3, rel=1e-6)
    # query 0 wins (2 > 1); query 1 loses to z0 (2 > 1); query 2 loses to k0 and z0 (2 > 1)
    assert out.accuracy.item() == pytest.approx(1 / 3)
    # a tie between the positive and a negative counts against the model
    tie = contrastive_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert tie.accuracy.item() == 0.0


def test_contrastive_loss_temperature_cosine_and_same_entity_mask():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[3.0, 0.0], [0.0, 5.0]])
    out = contrastive_loss(q, k, similarity="cosine", temperature=0.5)
    logits = torch.tensor([1.0, 0.0]) / 0.5
    assert out.loss.item() == pytest.approx(-(logits[0] - torch.logsumexp(logits, 0)).item(), rel=1e-6)
    # a queued copy of the positive's own entity would be a false negative; masked it is ignored
    queue = torch.tensor([[10.0, 0.0]])
    ids = torch.tensor([7, 8])
    plain = contrastive_loss(q, k[:1], queue, key_ids=ids[:1], queue_ids=torch.tensor([7]))
    masked = contrastive_loss(q, k[:1], queue, key_ids=ids[:1], queue_ids=torch.tensor([7]), mask_same_entity=True)
    assert plain.loss.item() > 5 and masked.loss.item() == pytest.approx(0.0, abs=1e-6)


def test_queue_fifo_as_appendix_c():
    g = torch.Generator().manual_seed(0)
    N, d = 4, 2
    q = CandidateQueue(N, d, generator=g)
    start = q.ordered()[0].clone()
    # randomly initialised with normal / sqrt(d) (not zeros), all random slots have id -1
    assert start.abs().sum() > 0 and (q.ordered()[1] == -1).all()
    z1, z2, z3 = torch.full((1, d), 1.0), torch.full((1, d), 2.0), torch.full((1, d), 3.0)
    q.push(z1, torch.tensor([1]))  # {Z2r, Z3r, Z4r, Z+1}
    keys, ids = q.ordered()
    assert torch.equal(keys[:3], start[1:]) and torch.equal(keys[3], z1[0]) and ids.tolist() == [-1, -1, -1, 1]
    q.push(z2, torch.tensor([2]))  # {Z3r, Z4r, Z+1, Z+2}
    q.push(z3, torch.tensor([3]))  # {Z4r, Z+1, Z+2, Z+3}
    keys, ids = q.ordered()
    assert torch.equal(keys[0], start[3]) and ids.tolist() == [-1, 1, 2, 3]
    # wrap-around: two more push out Z4r and Z+1
    q.push(torch.full((2, d), 4.0), torch.tensor([4, 5]))
    assert q.ordered()[1].tolist() == [2, 3, 4, 5]
    # more keys than slots: only the newest N survive, in order
    q.push(torch.arange(12.0).view(6, 2), torch.arange(10, 16))
    assert q.ordered()[1].tolist() == [12, 13, 14, 15]


def test_heads_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    heads = KnowledgeHeads({"mep_query": ProjectionHead(8, 8, 8), "mep_key": ProjectionHead(8, 16, 8, batch_norm=True)},
                           relation_ids=["P17", "P36"], hidden_size=8)
    x = torch.randn(3, 8)
    heads.eval()
    before = (heads.get("mep_query")(x), heads.get("mep_key")(x), heads.relation_embedding(["P36", "P17"]))
    heads.save(tmp_path)
    loaded = load_knowledge_heads(tmp_path)
    after = (loaded.get("mep_query")(x), loaded.get("mep_key")(x), loaded.relation_embedding(["P36", "P17"]))
    for a, b in zip(before, after):
        assert torch.allclose(a, b)
    assert loaded.get("oe_query") is None
    with pytest.raises(KeyError, match="P999"):
        loaded.relation_embedding(["P999"])
    assert load_knowledge_heads(tmp_path / "nothing-here") is None
