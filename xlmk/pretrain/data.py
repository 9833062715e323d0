"""Training examples for MLM, Masked Entity Prediction and Object Entailment, and their batches.

Every draw is a pure function of (seed, task, draw number) and a few counters, so the stream's whole
position is a small JSON object saved in each checkpoint, and a run resumed from it sees exactly the
batches an uninterrupted run would have seen. Languages are drawn with probability proportional to
p_i^alpha (XLM-R's balancing); within a language, items come from a seeded permutation per epoch.

Distributed runs: every process draws the same *global* micro-batch (drawing is cheap: tokens are
prepared once) and keeps its own slice, so one process with batch G and two with G/2 each see the
same examples, the same masks and the same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from xlmk.errors import DataError
from xlmk.knowledge.sampling import language_probabilities
from xlmk.pretrain.prepare import PreparedCorpus, PreparedKnowledge, window

SALT = {"mlm": 1, "mep": 2, "oe": 3, "desc_mlm": 4}


class LanguageSampler:
    """Language by p^alpha, then the next item of that language's per-epoch permutation."""

    def __init__(self, groups: dict[str, np.ndarray], alpha: float, seed: int, salt: int):
        self.langs = [lang for lang, g in groups.items() if len(g)]
        if not self.langs:
            raise DataError("no training examples in any language")
        self.groups = {lang: groups[lang] for lang in self.langs}
        probs = language_probabilities({lang: len(self.groups[lang]) for lang in self.langs}, alpha)
        self.p = np.asarray([probs[lang] for lang in self.langs])
        self.seed, self.salt = seed, salt
        self.drawn = 0
        self.per_lang = {lang: 0 for lang in self.langs}
        self._perms: dict[int, tuple[int, np.ndarray]] = {}

    def draw(self) -> tuple[str, int, np.random.Generator, tuple[int, int]]:
        key = (self.salt, self.drawn)
        rng = np.random.default_rng([self.seed, *key])
        li = int(rng.choice(len(self.langs), p=self.p)) if len(self.langs) > 1 else 0
        lang = self.langs[li]
        epoch, pos = divmod(self.per_lang[lang], len(self.groups[lang]))
        if self._perms.get(li, (None,))[0] != epoch:
            perm_rng = np.random.default_rng([self.seed, self.salt, 1_000_003 + li, epoch])
            self._perms[li] = (epoch, perm_rng.permutation(len(self.groups[lang])))
        item = int(self.groups[lang][self._perms[li][1][pos]])
        self.per_lang[lang] += 1
        self.drawn += 1
        return lang, item, rng, key

    def state_dict(self) -> dict:
        return {"drawn": self.drawn, "per_lang": dict(self.per_lang)}

    def load_state_dict(self, state: dict) -> None:
        self.drawn = int(state["drawn"])
        self.per_lang = {lang: int(state["per_lang"].get(lang, 0)) for lang in self.langs}


# ---------------------------------------------------------------- example sources
class MLMExamples:
    """Token blocks of the corpus and/or whole entity descriptions."""

    def __init__(self, corpus: PreparedCorpus | None, knowledge: PreparedKnowledge | None, sources: list[str],
                 alpha: float, seed: int, salt: int = SALT["mlm"]):
        self.arrays, groups = [], {}
        for src in sources:
            if src == "corpus":
                arr, lang_ids, names = corpus.blocks, corpus.block_lang, corpus.languages
            else:
                arr, lang_ids, names = knowledge.desc, knowledge.desc_lang, knowledge.languages
            s = len(self.arrays)
            self.arrays.append(arr)
            for i, name in enumerate(names):
                rows = np.flatnonzero(lang_ids == i).astype(np.int64) + (s << 40)
                groups[name] = np.concatenate([groups[name], rows]) if name in groups else rows
        self.sampler = LanguageSampler(groups, alpha, seed, salt)

    def draw(self) -> dict:
        lang, item, _, key = self.sampler.draw()
        ids = self.arrays[item >> 40][item & ((1 << 40) - 1)]
        return {"ids": ids, "lang": lang, "key": key, "length": len(ids)}


def _pick(rows: np.ndarray, langs: np.ndarray, lang: int, same: bool, rng) -> int | None:
    cands = rows[langs == lang] if same else rows[langs != lang]
    return int(cands[rng.integers(len(cands))]) if len(cands) else None


def mep_groups(kp: PreparedKnowledge, same: bool, heldout: bool, exclude: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Mention rows per sentence language whose entity has a description in another (or the same) language;
    `exclude` (a boolean per QID) leaves held-out entities out."""
    out = {}
    keep = kp.mention_heldout == heldout
    if exclude is not None and len(exclude):
        keep &= ~exclude[kp.mention_qid]
    for i, lang in enumerate(kp.languages):
        rows = np.flatnonzero((kp.mention_lang == i) & keep)
        q = kp.mention_qid[rows]
        has = kp.has_description(q, i)
        out[lang] = rows[has if same else (kp.n_langs_of[q] - has) >= 1]
    return out


def oe_groups(kp: PreparedKnowledge, same: bool, heldout: bool, exclude: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per subject language u, the triples usable with u; an item encodes (triple, u) as triple * 1024 + u.
    `exclude` (a boolean per QID) leaves the triples of held-out subjects out."""
    out = {}
    keep = kp.triple_heldout == heldout
    if exclude is not None and len(exclude):
        keep &= ~exclude[kp.triple_s]
    base = np.flatnonzero(keep)
    s, o = kp.triple_s[base], kp.triple_o[base]
    for i, lang in enumerate(kp.languages):
        has_o = kp.has_description(o, i)
        ok = kp.has_description(s, i) & (has_o if same else (kp.n_langs_of[o] - has_o) >= 1)
        out[lang] = base[ok].astype(np.int64) * 1024 + i
    return out


class MEPExamples:
    """A sentence with its mention, and the description of the mention's entity in another language
    (`same`: in the sentence's language)."""

    def __init__(self, kp: PreparedKnowledge, description_language: str, alpha: float | None, seed: int,
                 exclude: np.ndarray | None = None):
        self.kp, self.same, self.exclude = kp, description_language == "same", exclude
        # alpha None: a source for held-out examples only, with no training sampler
        self.sampler = LanguageSampler(self.groups(False), alpha, seed, SALT["mep"]) if alpha is not None else None

    def groups(self, heldout: bool) -> dict[str, np.ndarray]:
        return mep_groups(self.kp, self.same, heldout, None if heldout else self.exclude)

    def make(self, m: int, rng, key) -> dict:
        kp = self.kp
        q, li = int(kp.mention_qid[m]), int(kp.mention_lang[m])
        rows = kp.description_rows(q)
        d = _pick(rows, kp.desc_lang[rows], li, self.same, rng)
        ids, desc = kp.mention[m], kp.desc[d]
        return {"row": m, "ids": ids, "span": tuple(int(x) for x in kp.mention_span[m]), "desc": desc, "qid": q,
                "lang": kp.languages[li], "desc_lang": kp.languages[int(kp.desc_lang[d])], "key": key,
                "lang_id": li, "desc_lang_id": int(kp.desc_lang[d]),
                "length": max(len(ids), len(desc))}

    def draw(self) -> dict:
        _, m, rng, key = self.sampler.draw()
        return self.make(m, rng, key)


class OEExamples:
    """Subject description in language u + relation; object description in a language other than u."""

    def __init__(self, kp: PreparedKnowledge, description_language: str, alpha: float | None, seed: int,
                 exclude: np.ndarray | None = None):
        self.kp, self.same, self.exclude = kp, description_language == "same", exclude
        self.sampler = LanguageSampler(self.groups(False), alpha, seed, SALT["oe"]) if alpha is not None else None

    def groups(self, heldout: bool) -> dict[str, np.ndarray]:
        return oe_groups(self.kp, self.same, heldout, None if heldout else self.exclude)

    def make(self, item: int, rng, key) -> dict:
        kp = self.kp
        t, u = divmod(item, 1024)
        s, o = int(kp.triple_s[t]), int(kp.triple_o[t])
        srows = kp.description_rows(s)
        sd = int(srows[kp.desc_lang[srows] == u][0])
        orows = kp.description_rows(o)
        od = _pick(orows, kp.desc_lang[orows], u, self.same, rng)
        subj, obj = kp.desc[sd], kp.desc[od]
        return {"row": t, "subj": subj, "obj": obj, "rel": int(kp.triple_r[t]), "qid": o, "subject_qid": s,
                "lang": kp.languages[u], "key": key, "length": max(len(subj), len(obj)),
                "lang_id": u, "obj_lang_id": int(kp.desc_lang[od])}

    def draw(self) -> dict:
        _, item, rng, key = self.sampler.draw()
        return self.make(item, rng, key)


def unseen_sentences(kp: PreparedKnowledge, rows: np.ndarray) -> np.ndarray:
    """The held-out mention rows whose sentence no row outside the held-out share holds (a sentence with
    several mentions is otherwise trained on through its other mentions)."""
    trained = {kp.mention[int(m)].tobytes() for m in np.flatnonzero(~kp.mention_heldout)}
    return rows[np.fromiter((kp.mention[int(m)].tobytes() not in trained for m in rows), dtype=bool, count=len(rows))]


def heldout_examples(source: MEPExamples | OEExamples, limit: int, seed: int = 0) -> list[dict]:
    """Held-out examples in a fixed order (every language in turn), for the in-batch XEP/XOR check; for
    MEP only sentences that no trained row shares."""
    groups = source.groups(heldout=True)
    if isinstance(source, MEPExamples):
        groups = {lang: unseen_sentences(source.kp, g) for lang, g in groups.items()}
    order = [(lang, i) for lang, g in groups.items() for i in range(len(g))]
    rng = np.random.default_rng([seed, 99])
    order = [order[i] for i in rng.permutation(len(order))][:limit] if limit else []
    out = []
    for n, (lang, i) in enumerate(order):
        out.append(source.make(int(groups[lang][i]), np.random.default_rng([seed, 98, n]), (0, n)))
    return out


# ---------------------------------------------------------------- batches
class BucketedBatches:
    """Global micro-batches of one task: a pool of `pool` batches is drawn, sorted by length, cut, and
    the batches (and the examples inside each) are shuffled, so a batch holds sequences of like length."""

    def __init__(self, examples: Any, global_size: int, pool: int, seed: int, salt: int):
        self.examples, self.size, self.pool, self.seed, self.salt = examples, global_size, pool, seed, salt
        self.batches: list[list[dict]] = []
        self.pos = 0
        self.pool_index = 0
        self.pool_start = examples.sampler.state_dict()

    def _refill(self) -> None:
        self.pool_start = self.examples.sampler.state_dict()
        exs = [self.examples.draw() for _ in range(self.pool * self.size)]
        order = sorted(range(len(exs)), key=lambda i: (exs[i]["length"], i))
        rng = np.random.default_rng([self.seed, self.salt, 77, self.pool_index])
        chunks = [order[i:i + self.size] for i in range(0, len(order), self.size)]
        self.batches = [[exs[j] for j in np.asarray(chunks[c])[rng.permutation(len(chunks[c]))]]
                        for c in rng.permutation(len(chunks))]
        self.pool_index += 1
        self.pos = 0

    def next(self) -> list[dict]:
        if self.pos >= len(self.batches):
            self._refill()
        self.pos += 1
        return self.batches[self.pos - 1]

    def state_dict(self) -> dict:
        return {"pool_start": self.pool_start, "pool_index": self.pool_index, "pos": self.pos,
                "filled": bool(self.batches)}

    def load_state_dict(self, state: dict) -> None:
        self.examples.sampler.load_state_dict(state["pool_start"])
        self.batches, self.pos = [], 0
        self.pool_index = int(state["pool_index"])
        if state["filled"]:
            self.pool_index -= 1
            self._refill()
            self.pos = int(state["pos"])


@dataclass
class TokenInfo:
    pad: int
    mask: int
    cls: int
    sep: int
    vocab_size: int
    specials: np.ndarray
    normal_ids: np.ndarray  # ids a random replacement may take (no special tokens)

    @classmethod
    def of(cls, tokenizer: Any, vocab_size: int) -> "TokenInfo":
        specials = np.asarray(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        normal = np.setdiff1d(np.arange(vocab_size), specials)
        return cls(tokenizer.pad_token_id, tokenizer.mask_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id,
                   vocab_size, specials, normal)


def _pad(seqs: list[np.ndarray], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(s) for s in seqs)
    ids = np.full((len(seqs), n), pad, dtype=np.int64)
    mask = np.zeros((len(seqs), n), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def truncate(ids: np.ndarray, max_length: int, sep: int) -> np.ndarray:
    return ids if len(ids) <= max_length else np.concatenate([ids[:max_length - 1], [sep]])


def mask_tokens(ids: np.ndarray, rng: np.random.Generator, info: TokenInfo, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """XLM-R's MLM corruption: `prob` of the non-special tokens are predicted; of those 80% become <mask>,
    10% a random token, 10% stay. Returns (input ids, labels with -100 where nothing is predicted)."""
    ids = ids.astype(np.int64)
    labels = np.full(len(ids), -100, dtype=np.int64)
    cand = np.flatnonzero(~np.isin(ids, info.specials))
    if not len(cand):
        return ids, labels
    k = min(len(cand), max(1, int(prob * len(cand) + rng.random())))  # fairseq's stochastic rounding
    chosen = np.sort(rng.choice(cand, size=k, replace=False))
    labels[chosen] = ids[chosen]
    r = rng.random(k)
    out = ids.copy()
    out[chosen[r < 0.8]] = info.mask
    rand = chosen[(r >= 0.8) & (r < 0.9)]
    out[rand] = rng.choice(info.normal_ids, size=len(rand))
    return out, labels


def collate_mlm(exs: list[dict], info: TokenInfo, prob: float, max_length: int, seed: int) -> dict:
    seqs, labs = [], []
    for ex in exs:
        ids, lab = mask_tokens(truncate(ex["ids"], max_length, info.sep), np.random.default_rng([seed, *ex["key"], 7]),
                               info, prob)
        seqs.append(ids)
        labs.append(lab)
    input_ids, attn = _pad(seqs, info.pad)
    labels, _ = _pad(labs, -100)
    return {"input_ids": input_ids, "attention_mask": attn, "labels": labels}


def masked_mention(ids: np.ndarray, span: tuple[int, int], mode: str, max_length: int, info: TokenInfo):
    """The sentence with its mention masked (one <mask> for the span, or one per sub-token), cut to
    `max_length` around it; returns (ids, position of the mention's first token)."""
    a, b = span
    if mode == "span":
        ids, b = np.concatenate([ids[:a], [info.mask], ids[b:]]), a + 1
    else:
        ids = ids.copy()
        ids[a:b] = info.mask
    cut = window(ids, (a, b), max_length) or window(ids, (a, min(b, a + max_length - 2)), max_length)
    return cut[0], cut[1][0]


def collate_mep(exs: list[dict], info: TokenInfo, mode: str, max_length: int, *, mlm_prob: float | None = None,
                seed: int = 0) -> dict:
    """Masked-mention sentences and their descriptions; with `mlm_prob`, the sentences' other tokens are also
    MLM-corrupted (the released code's MLM on knowledge batches) and `labels` holds their targets."""
    sents, qpos = zip(*(masked_mention(ex["ids"], ex["span"], mode, max_length, info) for ex in exs))
    out: dict = {}
    if mlm_prob is not None:
        sents, labs = list(sents), []
        for i, ex in enumerate(exs):
            ids, lab = mask_tokens(sents[i], np.random.default_rng([seed, *ex["key"], 8]), info, mlm_prob)
            span = sents[i] == info.mask  # the mention's own <mask>s stay the contrastive query, never an MLM target
            ids[span], lab[span] = info.mask, -100
            sents[i] = ids
            labs.append(lab)
        out["labels"] = _pad(labs, -100)[0]
    ids, attn = _pad(list(sents), info.pad)
    desc, dattn = _pad([truncate(ex["desc"], max_length, info.sep) for ex in exs], info.pad)
    return {"input_ids": ids, "attention_mask": attn, "query_pos": torch.tensor(qpos, dtype=torch.long),
            "desc_ids": desc, "desc_mask": dattn, "qid": torch.tensor([ex["qid"] for ex in exs], dtype=torch.long),
            "lang": _ids(exs, "lang_id"), "desc_lang": _ids(exs, "desc_lang_id"), **out}


def collate_oe(exs: list[dict], info: TokenInfo, max_length: int) -> dict:
    subj, sattn = _pad([truncate(ex["subj"], max_length, info.sep) for ex in exs], info.pad)
    obj, oattn = _pad([truncate(ex["obj"], max_length, info.sep) for ex in exs], info.pad)
    return {"subj_ids": subj, "subj_mask": sattn, "obj_ids": obj, "obj_mask": oattn,
            "relation": torch.tensor([ex["rel"] for ex in exs], dtype=torch.long),
            "qid": torch.tensor([ex["qid"] for ex in exs], dtype=torch.long),
            "lang": _ids(exs, "lang_id"), "obj_lang": _ids(exs, "obj_lang_id")}


def _ids(exs: list[dict], key: str) -> torch.Tensor:
    """Language ids (indices of the prepared knowledge's languages) of a batch, for language centering."""
    return torch.tensor([ex[key] for ex in exs], dtype=torch.long)
