"""Cross-lingual Entity Prediction (XEP, Appendix B): which description belongs to the masked entity?

The query is a sentence of `mentions` with the mention replaced by the mask token; its state at the
mask goes through the checkpoint's `mep_query` head, each candidate description's `<s>` state through
`mep_key` (Eq. 1-2), and the dot product ranks them. A checkpoint without these heads is probed with the
raw states (mention state against description `<s>` state), and the report says so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from xlmk.probe.cloze import object_tokens
from xlmk.probe.dense import candidate_table, centering, candidate_vectors, check_head, normalise_if, trained_readout, evaluate, project, resolve_layer, states_at, table_hash
from xlmk.probe.lama import Coverage
from xlmk.probe.queries import Split, xep_queries
from xlmk.probe.scoring import Encoded
from xlmk.probe.specs import XepProbe


def masked_sentence(tokenizer: Any, text: str, start: int, end: int, mode: str) -> str:
    """The sentence with its mention replaced by one mask (span) or one per sub-token (per-token)."""
    n = 1
    if mode == "per-token":
        spaced = start == 0 or text[start - 1].isspace()
        n = max(1, len(object_tokens(tokenizer, text[start:end], spaced)))
    return text[:start] + tokenizer.mask_token * n + text[end:]


def run_xep(spec: XepProbe, model: Any, tokenizer: Any, *, kdir: Path, heads: Any, seed: int, device: torch.device,
            split: Split = Split(),
            batch_size: int, cache_dir: Path, model_id: str, precision: str, coverage: Coverage,
            advance_factory: Callable[[str, int], Callable[[int], None]]) -> tuple[list, list[dict], dict]:
    hidden = model.config.hidden_size
    use = heads if spec.use_heads else None
    q_head = check_head(use, "mep_query", hidden, "xlmk_heads.json") if use is not None else None
    k_head = check_head(use, "mep_key", hidden, "xlmk_heads.json") if use is not None else None
    with_heads = q_head is not None and k_head is not None
    layer = resolve_layer(spec.layer, heads, "mep")
    # read states and compare them the way the heads were trained (mean pooling, cosine for the tiny recipes)
    pooling, similarity = trained_readout(heads if with_heads else None, "mep")
    trained = heads.meta.get("mention_mask") if heads is not None else None
    mode = spec.mention_mask or (trained if trained in ("span", "per-token") else "span")

    queries = xep_queries(kdir, languages=spec.languages, per_language=spec.queries_per_language, seed=seed,
                          rule=spec.gold_description, candidate_languages=spec.candidate_languages,
                          oversample=spec.oversample, coverage=coverage, split=split)
    items, positions, kept = [], [], []
    for q in queries:
        masked = masked_sentence(tokenizer, q.text, q.start, q.end, mode)
        enc = tokenizer(masked, truncation=True, max_length=spec.max_length)
        ids = list(enc["input_ids"])
        if tokenizer.mask_token_id not in ids:
            coverage.drop(coverage.key("XEP", "mentions", q.language), f"mention beyond {spec.max_length} tokens")
            continue
        types = enc.get("token_type_ids")
        items.append(Encoded(ids, list(types) if types is not None else None))
        positions.append(ids.index(tokenizer.mask_token_id))
        kept.append(q)
    for lang in {q.language for q in queries}:
        coverage.set_kept(coverage.key("XEP", "mentions", lang), sum(q.language == lang for q in kept))

    rows = candidate_table(kdir, kept, n=spec.candidates, seed=seed, languages=spec.candidate_languages, cache_dir=cache_dir)
    cvecs, cached = candidate_vectors(model, tokenizer, rows, head=k_head if with_heads else None,
                                      head_name="mep_key" if with_heads else "raw", layer=layer, max_length=spec.max_length,
                                      device=device, batch_size=batch_size, cache_dir=cache_dir, model_id=model_id,
                                      precision=precision, advance_factory=advance_factory, pooling=pooling,
                                      center=centering(heads, "mep_key") if with_heads else None)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    states = states_at(model, items, positions, layer=layer, device=device, batch_size=batch_size, pad_id=pad,
                       advance=advance_factory("queries", len(items)), pooling=pooling)
    center = centering(heads, "mep_query") if with_heads else None
    if center is not None:
        states = center(states, [q.language for q in kept])
    qvecs = project(q_head if with_heads else None, states, device)
    scores, predictions = evaluate("XEP", kept, normalise_if(qvecs, similarity), rows, normalise_if(cvecs, similarity), device=device)
    info = {
        "split": split.name, "heldout": {"rows": split.rows, "entities": split.entities},
        "protocol": "heads" if with_heads else "raw-states",
        "representation": (f"mep_query({'mean' if pooling == 'mean' else 'mask'} state) . mep_key(description {'mean' if pooling == 'mean' else '<s>'} state), {similarity}" if with_heads
                           else "raw mask state . raw description <s> state (no MEP heads in the checkpoint)"
                           if spec.use_heads else "raw mask state . raw description <s> state (use_heads: false)"),
        "layer": layer, "pooling": pooling, "similarity": similarity, "language_centered": center is not None, "n_candidates": len(rows), "candidate_embeddings_cached": cached, "mention_mask": mode,
        "data_hash": table_hash([{"l": q.language, "t": q.text, "s": q.start, "e": q.end, "g": q.gold_qid, "gl": q.gold_lang}
                                 for q in kept] + rows, ("l", "t", "s", "e", "g", "gl", "qid", "lang", "text")),
    }
    return scores, predictions, info
