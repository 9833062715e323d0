"""Dense retrieval over description candidates, shared by XEP and XOR (Appendix B).

Queries and candidates are encoder states read at one layer (a mention's mask position, or a
description's `<s>`), projected through the checkpoint's knowledge heads when it has them. Candidate
embeddings are computed once per (model, candidate list, head, layer, length) and cached as safetensors;
scoring all candidates is one matrix product per block of queries. A hit is judged by QID (a candidate
list may describe one entity in several languages), and ties count against the model.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from xlmk.errors import DataError
from xlmk.probe.scoring import Encoded, length_sorted_batches

EMBEDDING_CACHE_VERSION = 1


def encoder_of(model: Any) -> Any:
    """The transformer without its LM head (the states the knowledge heads read)."""
    base = getattr(model, "base_model", None)
    return base if base is not None else model


@torch.no_grad()
def states_at(model: Any, items: Sequence[Encoded], positions: Sequence[int], *, layer: int, device: torch.device,
              batch_size: int, pad_id: int, advance: Callable[[int], None] | None = None,
              pooling: str = "first") -> torch.Tensor:
    """[n, hidden] fp32 states of `items` at `positions` (pooling `first`) or their mean over the sequence's
    tokens (pooling `mean`, as heads trained with `pooling: mean` read them), at hidden layer `layer`."""
    encoder = encoder_of(model)
    hidden_size = model.config.hidden_size
    out = torch.empty((len(items), hidden_size), dtype=torch.float32)
    for idx, batch in length_sorted_batches(items, batch_size, pad_id):
        batch = {k: v.to(device) for k, v in batch.items()}
        if layer == -1:
            h = encoder(**batch).last_hidden_state
        else:
            h = encoder(**batch, output_hidden_states=True).hidden_states[layer]
        if pooling == "mean":
            m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
            out[idx] = ((h * m).sum(1) / m.sum(1).clamp(min=1.0)).float().cpu()
        else:
            pos = torch.tensor([positions[i] for i in idx], device=h.device)
            out[idx] = h[torch.arange(len(idx), device=h.device), pos].float().cpu()
        if advance is not None:
            advance(len(idx))
    return out


def check_head(heads: Any, name: str, hidden_size: int, where: str) -> Any:
    head = heads.get(name)
    if head is not None and head.spec["in_dim"] != hidden_size:
        raise DataError(f"head {name!r} takes {head.spec['in_dim']}-d states but the model's hidden size is {hidden_size}", path=where)
    return head


@torch.no_grad()
def project(head: Any, states: torch.Tensor, device: torch.device, chunk: int = 4096) -> torch.Tensor:
    if head is None:
        return states
    head = head.to(device).eval()
    return torch.cat([head(states[i:i + chunk].to(device)).float().cpu() for i in range(0, len(states), chunk)])


def table_hash(rows: Sequence[dict], fields: Sequence[str]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update("\t".join(str(r.get(f, "")) for f in fields).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def model_fingerprint(model: Any, path: str | None) -> str:
    """model_hash of a checkpoint directory; for anything else, a hash of its weights."""
    from xlmk.modeling import model_hash

    digest = model_hash(path) if path else None
    if digest:
        return digest
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()


def cached_embeddings(key_parts: dict, cache_dir: Path, compute: Callable[[], torch.Tensor], n: int) -> tuple[torch.Tensor, bool]:
    """(embeddings, whether they came from the cache); written atomically as safetensors."""
    from safetensors.torch import load_file, save_file

    from xlmk.io import atomic_path

    key = hashlib.sha256(json.dumps({"v": EMBEDDING_CACHE_VERSION, **key_parts}, sort_keys=True).encode()).hexdigest()[:24]
    path = cache_dir / "probe-embeddings" / f"{key}.safetensors"
    if path.is_file():
        emb = load_file(str(path))["embeddings"]
        if emb.shape[0] == n:
            return emb, True
    emb = compute().contiguous()
    with atomic_path(path) as tmp:
        save_file({"embeddings": emb}, str(tmp), metadata={"key": json.dumps(key_parts, sort_keys=True)})
    return emb, False


@torch.no_grad()
def rank_by_qid(queries: torch.Tensor, candidates: torch.Tensor, cand_codes: torch.Tensor, gold_codes: torch.Tensor, *,
                exclude: Sequence[Sequence[int]] | None = None, top_k: int = 10, device: torch.device | str = "cpu",
                block: int = 512) -> tuple[list[int], list[list[int]], list[list[float]]]:
    """1-based rank of each query's gold entity: 1 + candidates of other entities scoring at least the best
    description of the gold entity. `exclude[i]` lists entity codes left out of query i's ranking."""
    c = candidates.to(device)
    codes = cand_codes.to(device)
    ranks: list[int] = []
    tops: list[list[int]] = []
    top_scores: list[list[float]] = []
    for start in range(0, len(queries), block):
        q = queries[start:start + block].to(device)
        gold = gold_codes[start:start + block].to(device)
        scores = q @ c.T
        is_gold = codes[None, :] == gold[:, None]
        if not bool(is_gold.any(dim=1).all()):
            raise DataError("a gold entity is missing from the candidate list")
        best_gold = scores.masked_fill(~is_gold, float("-inf")).max(dim=1).values
        competitor = ~is_gold
        if exclude is not None:
            for row in range(len(q)):
                ex = exclude[start + row]
                if ex:
                    competitor[row] &= ~torch.isin(codes, torch.tensor(list(ex), device=codes.device))
        ranks += (1 + ((scores >= best_gold[:, None]) & competitor).sum(dim=1)).tolist()
        k = min(top_k, scores.shape[1])
        v, i = scores.topk(k, dim=1)
        tops += i.cpu().tolist()
        top_scores += v.cpu().tolist()
    return ranks, tops, top_scores


def describe_items(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[Encoded]:
    """Descriptions as encoder inputs (their `<s>` state is read at position 0)."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)
    types = enc.get("token_type_ids")
    return [Encoded(list(ids), list(types[i]) if types is not None else None) for i, ids in enumerate(enc["input_ids"])]


# ---------------------------------------------------------------- shared by XEP and XOR
def trained_readout(heads: Any, task: str) -> tuple[str, str]:
    """(pooling, similarity) the heads were trained with (`first`/`dot` for heads that do not say)."""
    meta = heads.meta if heads is not None else {}
    pooling = meta.get(f"{task}_pooling") or "first"
    similarity = (meta.get("loss") or {}).get("similarity") or "dot"
    return pooling, similarity


def centering(heads: Any, name: str) -> Callable[[torch.Tensor, list[str]], torch.Tensor] | None:
    """Language centering as the heads were trained with it (`tasks.language_centering`), else None."""
    if heads is None or not getattr(heads, "centered", False):
        return None
    return lambda states, languages: heads.center_by_name(name, states.to(torch.float32), languages).detach()


def normalise_if(vectors: torch.Tensor, similarity: str) -> torch.Tensor:
    """Cosine similarity is the dot product of unit vectors; the temperature does not change a ranking."""
    return torch.nn.functional.normalize(vectors, dim=-1) if similarity == "cosine" else vectors


def resolve_layer(layer: int | None, heads: Any, task: str) -> int:
    """The spec's layer, else the layer the heads of `task` (mep, oe) were trained on, as `xlmk pretrain`
    records it in heads.meta['<task>_layer'], else the last."""
    if layer is not None:
        return layer
    meta = heads.meta if heads is not None else {}
    recorded = meta.get(f"{task}_layer", meta.get("layer"))
    return recorded if isinstance(recorded, int) else -1


def candidate_table(kdir: Path, queries: Sequence[Any], *, n: int, seed: int, languages: list[str] | None,
                    cache_dir: Path) -> list[dict]:
    """N descriptions holding every query's gold description (the knowledge stage's candidate builder)."""
    from xlmk.errors import XlmkError
    from xlmk.knowledge.candidates import load_or_build_candidates

    gold = sorted({(q.gold_qid, q.gold_lang) for q in queries})
    if len(gold) > n:
        raise XlmkError(f"the {len(queries)} queries have {len(gold)} gold descriptions, more than the list size {n}: "
                        "raise probe.candidates or lower probe.queries_per_language")
    table = load_or_build_candidates(kdir, n, seed, cache_dir / "candidates", languages=languages, must_include=gold)
    return table.to_pylist()


def candidate_vectors(model: Any, tokenizer: Any, rows: Sequence[dict], *, head: Any, head_name: str, layer: int,
                      max_length: int, device: torch.device, batch_size: int, cache_dir: Path, model_id: str,
                      precision: str, advance_factory: Callable[[str, int], Callable[[int], None]],
                      pooling: str = "first", center: Callable[[torch.Tensor, list[str]], torch.Tensor] | None = None
                      ) -> tuple[torch.Tensor, bool]:
    """Embeddings of the candidate descriptions (`<s>` state or mean state, language-centred by `center` when
    the heads were trained so, through `head` when given), cached on disk."""
    key = {"model": model_id, "candidates": table_hash(rows, ("qid", "lang", "text")), "head": head_name,
           "layer": layer, "max_length": max_length, "precision": precision, "pooling": pooling,
           **({"centered": True} if center is not None else {})}

    def compute() -> torch.Tensor:
        items = describe_items(tokenizer, [r["text"] or "" for r in rows], max_length)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        states = states_at(model, items, [0] * len(items), layer=layer, device=device, batch_size=batch_size, pad_id=pad,
                           advance=advance_factory("candidates", len(items)), pooling=pooling)
        if center is not None:
            states = center(states, [r["lang"] for r in rows])
        return project(head, states, device)

    return cached_embeddings(key, cache_dir, compute, len(rows))


def evaluate(name: str, queries: Sequence[Any], qvecs: torch.Tensor, rows: Sequence[dict], cvecs: torch.Tensor, *,
             device: torch.device, exclude: dict[int, set[str]] | None = None, top_k: int = 10) -> tuple[list, list[dict]]:
    """Accuracy@1, MRR and hits@10 per query language and their mean over languages; one prediction per query."""
    import collections

    from xlmk.probe.metrics import Score, mean, ranking_metrics

    code: dict[str, int] = {}
    for r in rows:
        code.setdefault(r["qid"], len(code))
    cand_codes = torch.tensor([code[r["qid"]] for r in rows], dtype=torch.long)
    gold_codes = torch.tensor([code.get(q.gold_qid, -1) for q in queries], dtype=torch.long)
    ex = None
    if exclude:
        ex = [[code[x] for x in exclude.get(i, ()) if x in code] for i in range(len(queries))]
    ranks, tops, top_scores = rank_by_qid(qvecs, cvecs, cand_codes, gold_codes, exclude=ex, top_k=top_k, device=device)

    by_lang: dict[str, list[int]] = collections.defaultdict(list)
    predictions = []
    for q, rank, top, ts in zip(queries, ranks, tops, top_scores):
        by_lang[q.language].append(rank)
        predictions.append({
            "probe": name.lower(), "language": q.language, "text": q.text, "gold_qid": q.gold_qid, "gold_lang": q.gold_lang,
            **({"subject": q.subject, "relation": q.relation} if q.relation else {"mention": q.text[q.start:q.end]}),
            "rank": rank, "correct": rank == 1,
            "predictions": [{"qid": rows[j]["qid"], "lang": rows[j]["lang"], "title": rows[j]["title"], "score": s}
                            for j, s in zip(top, ts)],
        })
    names = ("accuracy", "hits@{k}", "mrr")
    scores, per_lang = [], {}
    for lang, rs in sorted(by_lang.items()):
        per_lang[lang] = ranking_metrics(rs, k=10, names=names)
        for metric, value in per_lang[lang].items():
            scores.append(Score(name, metric, value, len(rs), lang, {"level": "language"}))
    if per_lang:
        for metric in next(iter(per_lang.values())):
            scores.append(Score(f"{name}/avg", metric, mean(m[metric] for m in per_lang.values()), len(queries), None,
                                {"level": "languages", "n_languages": len(per_lang), "languages": sorted(per_lang)}))
    return scores, predictions
