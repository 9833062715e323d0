"""Cross-lingual Object Recognition (XOR, Appendix B): which description is the object of (subject, relation)?

The query is the subject's description: its `<s>` state plus the relation's embedding goes through the
checkpoint's `oe_query` head (Eq. 3), each candidate description's `<s>` state through `oe_key` (Eq. 4).
Without relation embeddings the subject is used alone; without OE heads the raw `<s>` states are
compared. The report says which.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from xlmk.probe.dense import candidate_table, centering, candidate_vectors, check_head, normalise_if, trained_readout, describe_items, evaluate, project, resolve_layer, states_at, table_hash
from xlmk.probe.lama import Coverage
from xlmk.probe.queries import Split, true_objects, xor_queries
from xlmk.probe.specs import XorProbe


def run_xor(spec: XorProbe, model: Any, tokenizer: Any, *, kdir: Path, heads: Any, seed: int, device: torch.device,
            split: Split = Split(),
            batch_size: int, cache_dir: Path, model_id: str, precision: str, coverage: Coverage,
            advance_factory: Callable[[str, int], Callable[[int], None]]) -> tuple[list, list[dict], dict]:
    hidden = model.config.hidden_size
    use = heads if spec.use_heads else None
    q_head = check_head(use, "oe_query", hidden, "xlmk_heads.json") if use is not None else None
    k_head = check_head(use, "oe_key", hidden, "xlmk_heads.json") if use is not None else None
    with_heads = q_head is not None and k_head is not None
    with_relation = with_heads and spec.use_relation and heads.relations is not None
    layer = resolve_layer(spec.layer, heads, "oe")
    # read states and compare them the way the heads were trained (mean pooling, cosine for the tiny recipes)
    pooling, similarity = trained_readout(heads if with_heads else None, "oe")

    queries = xor_queries(kdir, languages=spec.languages, per_language=spec.queries_per_language, seed=seed,
                                   rule=spec.gold_description, candidate_languages=spec.candidate_languages,
                                   oversample=spec.oversample, coverage=coverage, split=split)
    if with_relation:
        known = set(heads.relation_ids)
        for q in queries:
            if q.relation not in known:
                coverage.drop(coverage.key("XOR", "triples", q.language), "relation unknown to the checkpoint's heads")
        kept = [q for q in queries if q.relation in known]
        for lang in {q.language for q in queries}:
            coverage.set_kept(coverage.key("XOR", "triples", lang), sum(q.language == lang for q in kept))
    else:
        kept = queries

    rows = candidate_table(kdir, kept, n=spec.candidates, seed=seed, languages=spec.candidate_languages, cache_dir=cache_dir)
    cvecs, cached = candidate_vectors(model, tokenizer, rows, head=k_head if with_heads else None,
                                      head_name="oe_key" if with_heads else "raw", layer=layer, max_length=spec.max_length,
                                      device=device, batch_size=batch_size, cache_dir=cache_dir, model_id=model_id,
                                      precision=precision, advance_factory=advance_factory, pooling=pooling,
                                      center=centering(heads, "oe_key") if with_heads else None)
    items = describe_items(tokenizer, [q.text for q in kept], spec.max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    states = states_at(model, items, [0] * len(items), layer=layer, device=device, batch_size=batch_size, pad_id=pad,
                       advance=advance_factory("queries", len(items)), pooling=pooling)
    center = centering(heads, "oe_query") if with_heads else None
    if center is not None:
        states = center(states, [q.language for q in kept])
    if with_relation:
        with torch.no_grad():
            states = states + heads.relation_embedding([q.relation for q in kept]).float().cpu()
    qvecs = project(q_head if with_heads else None, states, device)
    exclude = None
    if spec.filtered:
        objects = true_objects(kdir, [q.subject for q in kept])
        exclude = {i: objects[(q.subject, q.relation)] - {q.gold_qid} for i, q in enumerate(kept)}
    scores, predictions = evaluate("XOR", kept, normalise_if(qvecs, similarity), rows, normalise_if(cvecs, similarity), device=device, exclude=exclude)
    if with_relation:
        representation = "oe_query(subject <s> + relation embedding) . oe_key(object <s>)"
    elif with_heads:
        representation = ("oe_query(subject <s>) . oe_key(object <s>): subject alone, "
                          + ("use_relation: false" if not spec.use_relation else "the checkpoint has no relation embeddings"))
    else:
        representation = ("raw subject <s> . raw object <s>: subject alone, "
                          + ("use_heads: false" if not spec.use_heads else "no OE heads in the checkpoint"))
    if with_heads:
        representation += f" [{pooling} states, {similarity}]"
    info = {
        "split": split.name, "heldout": {"rows": split.rows, "entities": split.entities},
        "protocol": "heads+relation" if with_relation else "heads" if with_heads else "raw-states",
        "representation": representation, "layer": layer, "pooling": pooling, "language_centered": center is not None, "similarity": similarity, "n_candidates": len(rows), "candidate_embeddings_cached": cached,
        "filtered": spec.filtered,
        "data_hash": table_hash([{"l": q.language, "s": q.subject, "r": q.relation, "g": q.gold_qid, "gl": q.gold_lang}
                                 for q in kept] + rows, ("l", "s", "r", "g", "gl", "qid", "lang", "text")),
    }
    return scores, predictions, info
