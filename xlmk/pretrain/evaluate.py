"""The held-out check of a pre-trained model: in-batch XEP and XOR accuracy on mentions and triples that
training never saw (chosen by a hash of the row, `data.heldout`; a held-out sentence that a trained row
also holds is left out).

XEP: a sentence with its mention masked must pick its entity's description (in another language) out of
the descriptions of the other examples of its batch. XOR: a subject description plus the relation must
pick its object's description. Chance is 1 / batch size. The full 32k-candidate probes live in
`xlmk probe xep|xor`; this check is cheap enough to run at the end of every pre-training run and
compares runs on the same examples. A model without knowledge heads (plain MLM) is scored with its raw
states and cosine similarity, read both at the paper's positions and as mean states, the better of the
two reported; XOR then uses the subject alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from xlmk.pretrain.model import pool
from xlmk.pretrain.data import MEPExamples, OEExamples, TokenInfo, collate_mep, collate_oe, heldout_examples
from xlmk.pretrain.prepare import PreparedKnowledge

EVAL_VERSION = 2  # 2: XEP leaves out held-out sentences that a trained row shares


def _score(q: torch.Tensor, k: torch.Tensor, similarity: str) -> torch.Tensor:
    if similarity == "cosine":
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    return q @ k.t()


def _hits(logits: torch.Tensor) -> int:
    """Queries whose own key (the diagonal) scores strictly highest; a tie counts as a miss."""
    pos = logits.diagonal()
    others = logits.clone()
    others.fill_diagonal_(float("-inf"))
    return int((pos > others.max(dim=1).values).sum())


@torch.no_grad()
def heldout_accuracy(model_dir: str | Path, kp: PreparedKnowledge, *, batch_size: int = 32, limit: int = 2048,
                     max_length: int = 256, seed: int = 0, device: str | None = None) -> dict[str, dict[str, Any]]:
    """{"xep": {...}, "xor": {...}} with accuracy, chance, n and whether the knowledge heads were used."""
    from xlmk.modeling import load_masked_lm
    from xlmk.pretrain.heads import load_knowledge_heads

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    encoder, tokenizer = load_masked_lm(str(model_dir))
    encoder.to(device).eval()
    heads = load_knowledge_heads(model_dir, map_location=device)
    info = TokenInfo.of(tokenizer, encoder.get_input_embeddings().weight.shape[0])
    meta = heads.meta if heads is not None else {}
    similarity = (meta.get("loss") or {}).get("similarity", "dot")

    def states(b: dict, ids: str, mask: str, layer: int | None) -> torch.Tensor:
        layer = -1 if layer is None else layer
        out = encoder.base_model(input_ids=b[ids].to(device), attention_mask=b[mask].to(device),
                                 output_hidden_states=layer != -1)
        return out.last_hidden_state if layer == -1 else out.hidden_states[layer]

    def mep_pairs(b: dict, raw_pooling: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
        use = heads is not None and heads.get("mep_query") is not None
        layer, how = (meta.get("mep_layer"), meta.get("mep_pooling") or "first") if use else (-1, raw_pooling)
        x = pool(states(b, "input_ids", "attention_mask", layer), b["attention_mask"].to(device), how,
                 b["query_pos"].to(device))
        z = pool(states(b, "desc_ids", "desc_mask", layer), b["desc_mask"].to(device), how)
        if not use:
            return x, z, False
        if heads.centered:  # by language code: this knowledge's language ids may be ordered otherwise
            x = heads.center_by_name("mep_query", x, [kp.languages[i] for i in b["lang"].tolist()])
            z = heads.center_by_name("mep_key", z, [kp.languages[i] for i in b["desc_lang"].tolist()])
        return heads.get("mep_query")(x), heads.get("mep_key")(z), True

    def oe_pairs(b: dict, raw_pooling: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
        use = heads is not None and heads.get("oe_query") is not None and heads.relations is not None
        layer, how = (meta.get("oe_layer"), meta.get("oe_pooling") or "first") if use else (-1, raw_pooling)
        s = pool(states(b, "subj_ids", "subj_mask", layer), b["subj_mask"].to(device), how)
        z = pool(states(b, "obj_ids", "obj_mask", layer), b["obj_mask"].to(device), how)
        if not use:
            return s, z, False  # no relation encoder: the subject alone
        rel = heads.relation_index([kp.relations[r] for r in b["relation"].tolist()]).to(device)
        if heads.centered:  # the heads' language ids are by code; this knowledge's may be ordered otherwise
            s = heads.center_by_name("oe_query", s, [kp.languages[i] for i in b["lang"].tolist()])
            z = heads.center_by_name("oe_key", z, [kp.languages[i] for i in b["obj_lang"].tolist()])
        return heads.get("oe_query")(s + heads.relations(rel)), heads.get("oe_key")(z), True

    mep = heldout_examples(MEPExamples(kp, "other", None, seed), limit, seed) if len(kp.mention) else []
    oe = heldout_examples(OEExamples(kp, "other", None, seed), limit, seed) if len(kp.triple_s) else []
    mention_mask = meta.get("mention_mask") or "span"
    out = {}
    for name, exs, pairs, collate in (
            ("xep", mep, mep_pairs, lambda c: collate_mep(c, info, mention_mask, max_length)),
            ("xor", oe, oe_pairs, lambda c: collate_oe(c, info, max_length))):
        # raw states (no trained head for this task) get the better of both readouts: a fair baseline
        first = _run(exs, batch_size, lambda c: pairs(collate(c), "first"), similarity)
        if first["heads"] or not first["n"]:
            out[name] = first
            continue
        mean = _run(exs, batch_size, lambda c: pairs(collate(c), "mean"), similarity)
        out[name] = max(first | {"pooling": "first"}, mean | {"pooling": "mean"}, key=lambda r: r["accuracy"])
    return out


def _run(exs: list[dict], batch_size: int, pairs, similarity: str) -> dict[str, Any]:
    hits, n, chance, used = 0, 0, [], False
    for i in range(0, len(exs), batch_size):
        chunk = exs[i:i + batch_size]
        if len(chunk) < 2:  # a batch of one has no negative
            break
        q, k, used = pairs(chunk)
        # trained heads are scored as they were trained; raw states by cosine (their norms carry no meaning)
        hits += _hits(_score(q.float(), k.float(), similarity if used else "cosine"))
        n += len(chunk)
        chance.append(1.0 / len(chunk))
    return {"accuracy": hits / n if n else float("nan"), "n": n,
            "chance": float(np.mean(chance)) if chance else float("nan"), "heads": used, "batch_size": batch_size}
