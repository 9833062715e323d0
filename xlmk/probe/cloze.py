"""LAMA (single-token) and mLAMA (multi-token) probes over facts read by `lama.py`.

LAMA, as facebookresearch/LAMA's batch_eval_KB_completion.py: drop objects outside the common
vocabulary or not one word piece of the model, drop Google-RE facts rejected by their raters (reader),
then keep one fact per (subject, object) of a templated relation; rank the vocabulary at the first mask;
P@1, P@k and MRR per relation; a corpus Total is the mean over its relations, and T-REx also reports the
mean over the relations of each type (1-1, N-1, N-M).

mLAMA, as norakassner/mlama: every candidate object is written with as many masks as it has tokens,
scored by the mean log-probability of its tokens read from that one forward pass, and ranked; P@1 per
relation and language, and the mean over relations per language.
"""
from __future__ import annotations

import collections
from typing import Any, Callable

import torch

from xlmk.probe.lama import MASK, Coverage, Fact
from xlmk.probe.metrics import Score, mean, ranking_metrics
from xlmk.probe.scoring import MaskedLMScorer

SP_SPACE = "▁"  # SentencePiece's word-start marker


# ---------------------------------------------------------------- objects as tokens
def _word_start_marker(tokenizer: Any) -> str | None:
    """'▁' (SentencePiece), 'Ġ' (byte-level BPE) or None (WordPiece: continuations start with '##')."""
    tok = tokenizer.convert_ids_to_tokens(tokenizer(" the", add_special_tokens=False)["input_ids"])[0]
    return tok[0] if tok[:1] in (SP_SPACE, "Ġ") else None


def word_piece_id(tokenizer: Any, word: str, marker: str | None = None) -> int | None:
    """The id of `word` when it is one word-initial piece of the model (LAMA's single-token condition)."""
    ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
    if len(ids) != 1 or ids[0] == tokenizer.unk_token_id:
        return None
    piece = tokenizer.convert_ids_to_tokens(ids[0])
    if (marker and not piece.startswith(marker)) or (not marker and piece.startswith("##")):
        return None
    # LAMA keeps an object only when its piece decodes back to the very label
    return ids[0] if tokenizer.convert_tokens_to_string([piece]).strip() == word else None


def object_tokens(tokenizer: Any, obj: str, spaced: bool) -> list[int]:
    """Token ids of `obj` as it reads in the sentence: after a space, or glued to the previous character
    (zh, ja: SentencePiece would not start it with a bare '▁' there)."""
    if spaced:
        return tokenizer(" " + obj, add_special_tokens=False)["input_ids"]
    ids = tokenizer(obj, add_special_tokens=False)["input_ids"]
    if ids and tokenizer.convert_ids_to_tokens(ids[0]) == SP_SPACE:
        ids = ids[1:]
    return ids


def vocab_index(tokenizer: Any, model_vocab: int, common_words: list[str] | None,
                exclude_special: bool) -> tuple[torch.Tensor | None, torch.Tensor | None, set[int]]:
    """(ids ranked among, or None for the whole vocabulary; ids left out; ids a gold answer may not be)."""
    if common_words is not None:
        marker = _word_start_marker(tokenizer)
        ids = sorted({i for w in common_words if (i := word_piece_id(tokenizer, w, marker)) is not None})
        return torch.tensor(ids, dtype=torch.long), None, set(range(model_vocab)) - set(ids)
    # ids beyond the tokenizer decode to nothing: never a prediction
    out = set(range(len(tokenizer), model_vocab)) | (set(tokenizer.all_special_ids) if exclude_special else set())
    return None, (torch.tensor(sorted(out), dtype=torch.long) if out else None), out


# ---------------------------------------------------------------- LAMA
def run_lama(facts: list[Fact], infos: dict[str, dict], coverage: Coverage, scorer: MaskedLMScorer, *,
             common_words: list[str] | None = None, exclude_special: bool = True, dedupe: bool = True,
             top_k: int = 10, mrr_cutoff: int | None = 5000, max_facts_per_relation: int | None = None,
             track: Callable[[str, int], Callable[[int], None]] | None = None) -> tuple[list[Score], list[dict]]:
    tok = scorer.tokenizer
    model_vocab = scorer.model.get_output_embeddings().weight.shape[0]
    index, excluded, banned = vocab_index(tok, model_vocab, common_words, exclude_special)
    common = set(common_words) if common_words is not None else None
    marker = _word_start_marker(tok)
    kept: list[Fact] = []
    gold: list[int] = []
    items = []
    seen: set[tuple] = set()
    per_rel: collections.Counter = collections.Counter()
    for f in facts:
        key = coverage.key(f.corpus, f.relation, f.language)
        if common is not None and any(w not in common for w in f.object.split(" ")):
            coverage.drop(key, "object not in the common vocabulary")
            continue
        gid = word_piece_id(tok, f.object, marker)
        if gid is None or gid in banned:
            coverage.drop(key, "object is not one token of the model")
            continue
        if dedupe and f.templated:
            if (f.corpus, f.relation, f.subject, f.object) in seen:
                coverage.drop(key, "duplicate (subject, object)")
                continue
            seen.add((f.corpus, f.relation, f.subject, f.object))
        enc = scorer.encode(f.sentences)
        if len(enc.input_ids) > scorer.max_length:
            coverage.drop(key, "longer than the model's maximum length")
            continue
        if max_facts_per_relation is not None and per_rel[key] >= max_facts_per_relation:
            coverage.drop(key, "over max_facts_per_relation")
            continue
        per_rel[key] += 1
        kept.append(f)
        gold.append(gid)
        items.append(enc)
    for key, n in per_rel.items():
        coverage.set_kept(key, n)
    results = scorer.rank_single(items, gold, vocab_index=index, exclude_ids=excluded, top_k=top_k,
                                 advance=track("facts", len(items)) if track else None)

    predictions, ranks = [], collections.defaultdict(list)
    for f, r in zip(kept, results):
        ranks[(f.corpus, f.relation)].append(r.rank)
        predictions.append({
            "corpus": f.corpus, "relation": f.relation, "language": f.language, "uid": f.uid,
            "subject": f.subject, "object": f.object, "sentences": [s.replace(MASK, tok.mask_token) for s in f.sentences],
            "rank": r.rank, "correct": r.rank == 1, "gold_log_prob": r.gold_log_prob,
            "predictions": [{"token": tok.convert_tokens_to_string([tok.convert_ids_to_tokens(i)]).strip(), "id": i, "log_prob": lp}
                            for i, lp in zip(r.top_ids, r.top_log_probs)],
            "source": f.source,
        })
    return lama_scores(ranks, infos, kept, top_k=top_k, mrr_cutoff=mrr_cutoff), predictions


def lama_scores(ranks: dict[tuple[str, str], list[int]], infos: dict[str, dict], facts: list[Fact], *,
                top_k: int, mrr_cutoff: int | None) -> list[Score]:
    """Per-relation metrics, then corpus Totals and T-REx types as means over relations (not facts)."""
    scores: list[Score] = []
    per_rel: dict[tuple[str, str], dict[str, float]] = {}
    predicates = collections.defaultdict(set)
    for f in facts:
        if f.meta.get("pred"):
            predicates[f.corpus].add(f.meta["pred"])
    single = {c for c, rels in infos.items() if list(rels.values()) == [{"label": "Total", "type": None, "template": None}]}
    for (corpus, rel), rs in sorted(ranks.items()):
        m = ranking_metrics(rs, k=top_k, mrr_cutoff=mrr_cutoff)
        per_rel[(corpus, rel)] = m
        info = infos.get(corpus, {}).get(rel, {})
        # a corpus that is one file of masked sentences (ConceptNet, SQuAD) is its own Total, as in LAMA
        subset = f"{corpus}/Total" if corpus in single else f"{corpus}/{rel}"
        extra = {"corpus": corpus, "relation": rel, "label": info.get("label", rel), "type": info.get("type"), "level": "relation"}
        if corpus in single:
            extra["n_relations"] = 1
            if predicates.get(corpus):
                extra["n_predicates"] = len(predicates[corpus])
        for metric, value in m.items():
            scores.append(Score(subset, metric, value, len(rs), "en", dict(extra)))
    for corpus in infos:
        if corpus in single:
            continue
        rels = [r for (c, r) in per_rel if c == corpus]
        groups: dict[str, list[str]] = {"Total": rels}
        if corpus == "TREx":
            for rel in rels:
                t = infos[corpus].get(rel, {}).get("type")
                if t:
                    groups.setdefault(t, []).append(rel)
        for name, members in groups.items():
            if not members:
                continue
            n = sum(len(ranks[(corpus, r)]) for r in members)
            extra = {"corpus": corpus, "level": "total" if name == "Total" else "type", "n_relations": len(members),
                     "relations": sorted(members)}
            if predicates.get(corpus):
                extra["n_predicates"] = len(predicates[corpus])
            for metric in per_rel[(corpus, members[0])]:
                scores.append(Score(f"{corpus}/{name}", metric, mean(per_rel[(corpus, r)][metric] for r in members), n, "en", dict(extra)))
    return scores


# ---------------------------------------------------------------- mLAMA
def run_mlama(facts: list[Fact], coverage: Coverage, scorer: MaskedLMScorer, *, candidates: dict[str, dict[str, list[str]]],
              dedupe: bool = False, top_k: int = 10, max_candidate_tokens: int | None = None,
              max_facts_per_relation: int | None = None,
              track: Callable[[str, int], Callable[[int], None]] | None = None) -> tuple[list[Score], list[dict]]:
    """`candidates` is {lang: {relation: objects}} from candidate files; a missing entry uses the facts' objects."""
    tok = scorer.tokenizer
    by_group: dict[tuple[str, str], list[Fact]] = collections.defaultdict(list)
    for f in facts:
        by_group[(f.language, f.relation)].append(f)

    items, tables, owners = [], [], []   # one item per (fact, mask count)
    kept: list[tuple[Fact, list[str], list[int]]] = []
    for (lang, rel), group in sorted(by_group.items()):
        key = coverage.key("mLAMA", rel, lang)
        template = group[0].meta["template"]
        spaced = template.index("[Y]") == 0 or template[template.index("[Y]") - 1].isspace()
        listed = candidates.get(lang, {}).get(rel)
        golds = list(dict.fromkeys(f.object for f in group))
        if listed is None:
            names = golds
            coverage.note(key, "candidates: the objects of the relation's facts")
        else:
            added = [g for g in golds if g not in set(listed)]
            names = list(dict.fromkeys(listed + added))
            if added:
                coverage.note(key, f"{len(added)} gold objects added to the candidate list")
        toks = {c: object_tokens(tok, c, spaced) for c in names}
        names = [c for c in names if toks[c] and (max_candidate_tokens is None or len(toks[c]) <= max_candidate_tokens)]
        by_len: dict[int, list[str]] = collections.defaultdict(list)
        for c in names:
            by_len[len(toks[c])].append(c)
        order = [c for k in sorted(by_len) for c in by_len[k]]
        position = {c: i for i, c in enumerate(order)}
        tensors = {k: torch.tensor([toks[c] for c in by_len[k]], dtype=torch.long) for k in by_len}
        seen, n_kept = set(), 0
        for f in group:
            if f.object not in position:
                coverage.drop(key, "object longer than max_candidate_tokens" if toks.get(f.object) else "object has no tokens")
                continue
            if dedupe and (f.subject, f.object) in seen:
                coverage.drop(key, "duplicate (subject, object)")
                continue
            seen.add((f.subject, f.object))
            encs = {k: scorer.encode(f.sentences, n_masks=k) for k in tensors}
            if max(len(e.input_ids) for e in encs.values()) > scorer.max_length:
                coverage.drop(key, "longer than the model's maximum length")
                continue
            if max_facts_per_relation is not None and n_kept >= max_facts_per_relation:
                coverage.drop(key, "over max_facts_per_relation")
                continue
            n_kept += 1
            for k in sorted(tensors):
                items.append(encs[k])
                tables.append(tensors[k])
                owners.append(len(kept))
            kept.append((f, order, [position[f.object]]))
        coverage.set_kept(key, n_kept)

    scored = scorer.score_candidates(items, tables, advance=track("sentences (facts x mask counts)", len(items)) if track else None)
    per_fact: dict[int, list[torch.Tensor]] = collections.defaultdict(list)
    for owner, s in zip(owners, scored):
        per_fact[owner].append(s)  # items of one fact come in increasing k, the order of `order`

    ranks: dict[tuple[str, str], list[int]] = collections.defaultdict(list)
    predictions = []
    for i, (f, order, (gold,)) in enumerate(kept):
        s = torch.cat(per_fact[i])
        rank = int((s >= s[gold]).sum())
        ranks[(f.language, f.relation)].append(rank)
        top = s.topk(min(top_k, len(order)))
        predictions.append({
            "corpus": "mLAMA", "relation": f.relation, "language": f.language, "uid": f.uid, "subject": f.subject,
            "object": f.object, "sentences": f.sentences, "rank": rank, "correct": rank == 1,
            "gold_score": float(s[gold]), "n_candidates": len(order),
            "predictions": [{"object": order[j], "score": float(v)} for v, j in zip(top.values.tolist(), top.indices.tolist())],
            "source": f.source,
        })
    return mlama_scores(ranks, top_k=top_k), predictions


def mlama_scores(ranks: dict[tuple[str, str], list[int]], *, top_k: int) -> list[Score]:
    scores: list[Score] = []
    per_lang: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    n_lang: collections.Counter = collections.Counter()
    for (lang, rel), rs in sorted(ranks.items()):
        m = ranking_metrics(rs, k=top_k)
        per_lang[lang].append(m)
        n_lang[lang] += len(rs)
        for metric, value in m.items():
            scores.append(Score(f"mLAMA/{rel}", metric, value, len(rs), lang, {"relation": rel, "level": "relation"}))
    totals: dict[str, dict[str, float]] = {}
    for lang, ms in per_lang.items():
        totals[lang] = {metric: mean(m[metric] for m in ms) for metric in ms[0]}
        for metric, value in totals[lang].items():
            scores.append(Score("mLAMA/Total", metric, value, n_lang[lang], lang, {"level": "total", "n_relations": len(ms)}))
    if totals:
        for metric in next(iter(totals.values())):
            scores.append(Score("mLAMA/avg", metric, mean(t[metric] for t in totals.values()), sum(n_lang.values()), None,
                                {"level": "languages", "n_languages": len(totals), "languages": sorted(totals)}))
    return scores
