"""XEP/XOR read states the way the heads were trained: pooling and similarity come from the heads' meta."""
from __future__ import annotations

import torch

from xlmk.probe.dense import normalise_if, states_at, trained_readout
from xlmk.probe.scoring import Encoded


class _Heads:
    def __init__(self, meta):
        self.meta = meta


def test_readout_follows_the_heads_meta():
    assert trained_readout(None, "mep") == ("first", "dot")
    heads = _Heads({"mep_pooling": "mean", "oe_pooling": None, "loss": {"similarity": "cosine", "temperature": 0.05}})
    assert trained_readout(heads, "mep") == ("mean", "cosine")
    assert trained_readout(heads, "oe") == ("first", "cosine")
    v = torch.tensor([[3.0, 4.0]])
    assert torch.allclose(normalise_if(v, "cosine"), torch.tensor([[0.6, 0.8]]))
    assert torch.equal(normalise_if(v, "dot"), v)


def test_mean_pooling_is_the_mean_over_real_tokens(tiny_model):
    import transformers

    model = transformers.AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    tok = transformers.AutoTokenizer.from_pretrained(tiny_model)
    texts = ["Paris is the capital of France.", "Berlin."]
    items = [Encoded(tok(t)["input_ids"], None) for t in texts]
    got = states_at(model, items, [0, 0], layer=-1, device=torch.device("cpu"), batch_size=2,
                    pad_id=tok.pad_token_id, pooling="mean")
    with torch.no_grad():
        for i, t in enumerate(texts):
            h = model.base_model(**tok(t, return_tensors="pt")).last_hidden_state[0]
            assert torch.allclose(got[i], h.mean(0), atol=1e-5)
    first = states_at(model, items, [0, 0], layer=-1, device=torch.device("cpu"), batch_size=2, pad_id=tok.pad_token_id)
    assert not torch.allclose(first, got)
