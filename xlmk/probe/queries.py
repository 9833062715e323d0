"""XEP and XOR queries drawn from a knowledge directory, each with the gold description it must find.

Queries are drawn uniformly and deterministically (a seeded random key per row, the smallest keys
kept), scanning only the columns needed to draw, so a full-size `mentions` or `triples` table is
streamed rather than loaded. Every query needs its entity (XEP) or object (XOR) described in a
language the `gold_description` rule allows; queries that fail a rule are dropped and counted.

`split` says which rows queries may come from (`xlmk.pretrain.heldout` defines both held-out sets):
- `heldout` (default): rows pre-training holds out (`data.heldout`), and only those whose sentence no
  training row shares, so a trained model is never scored on a sentence or a triple it trained on;
- `entities`: mentions of, and triples whose subject is, a held-out entity (`data.heldout_entities`),
  whose mentions and subject-triples never enter training (zero-shot entities);
- `all`: every row, trained or not (the earlier behaviour; tables flag it).
The candidate list always spans all entities.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from xlmk.errors import DataError
from xlmk.knowledge.schema import table_files
from xlmk.pretrain.heldout import below, entity_mask, mention_key, triple_key
from xlmk.probe.lama import Coverage

SPLITS = ("heldout", "entities", "all")
MENTION_KEY_COLUMNS = ["lang", "page_title", "start", "end", "qid"]
TRIPLE_KEY_COLUMNS = ["subject", "relation", "object"]


@dataclass(frozen=True)
class Split:
    """Which rows a probe draws from, with the held-out shares pre-training used."""

    name: str = "heldout"
    rows: float = 0.02       # data.heldout
    entities: float = 0.02   # data.heldout_entities

    def mentions(self, batch) -> np.ndarray:
        """Per row of a batch with MENTION_KEY_COLUMNS: may it be a query?"""
        if self.name == "all":
            return np.ones(batch.num_rows, dtype=bool)
        cols = [batch.column(c).to_pylist() for c in MENTION_KEY_COLUMNS]
        if self.name == "entities":
            return entity_mask(cols[4], self.entities)
        return below((mention_key(*r) for r in zip(*cols)), self.rows)

    def trained_mentions(self, batch) -> np.ndarray:
        """Per row: can pre-training draw it (neither the row nor its entity held out)?"""
        cols = [batch.column(c).to_pylist() for c in MENTION_KEY_COLUMNS]
        return ~below((mention_key(*r) for r in zip(*cols)), self.rows) & ~entity_mask(cols[4], self.entities)

    def triples(self, batch) -> np.ndarray:
        if self.name == "all":
            return np.ones(batch.num_rows, dtype=bool)
        cols = [batch.column(c).to_pylist() for c in TRIPLE_KEY_COLUMNS]
        if self.name == "entities":
            return entity_mask(cols[0], self.entities)
        return below((triple_key(*r) for r in zip(*cols)), self.rows)


@dataclass
class Query:
    """One XEP or XOR query: text to encode, the entity it must find, and where that is described."""

    language: str
    text: str
    gold_qid: str
    gold_lang: str
    start: int = -1             # XEP: the mention span in `text`
    end: int = -1
    subject: str | None = None  # XOR
    relation: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _dataset(kdir: Path, table: str):
    import pyarrow.dataset as ds

    files = table_files(kdir, table)
    if not files:
        raise DataError(f"no {table} table ({table}/*.parquet)", path=kdir)
    return ds.dataset([str(f) for f in files], format="parquet")


def _smallest_keys(dataset, m: int, seed: int, group_column: str | None, keep: Any = None,
                   keep_columns: list[str] = ()) -> dict[Any, np.ndarray]:
    """Global row numbers of a uniform draw of up to `m` rows per group (one group when no column), among the
    rows where `keep(batch)` (reading `keep_columns`) is true."""
    rng = np.random.default_rng(seed)
    best: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
    offset = 0
    columns = [group_column] if group_column else [dataset.schema.names[0]]
    columns += [c for c in keep_columns if c not in columns]
    for batch in dataset.to_batches(columns=columns):
        n = batch.num_rows
        keys = rng.random(n)
        rows = np.arange(offset, offset + n)
        groups = batch.column(0).to_numpy(zero_copy_only=False) if group_column else np.zeros(n, dtype=np.int8)
        allowed = keep(batch) if keep is not None else np.ones(n, dtype=bool)
        for g in np.unique(groups[allowed]):
            sel = (groups == g) & allowed
            k0, r0 = best.get(g, (np.empty(0), np.empty(0, dtype=np.int64)))
            k, r = np.concatenate([k0, keys[sel]]), np.concatenate([r0, rows[sel]])
            if len(k) > m:
                part = np.argpartition(k, m)[:m]
                k, r = k[part], r[part]
            best[g] = (k, r)
        offset += n
    # order by key: the draw's order, so "the first k valid" is itself a uniform draw
    return {g: r[np.argsort(k)] for g, (k, r) in best.items()}


def descriptions_of(kdir: Path, qids: Iterable[str], *, with_text: bool = False) -> dict[str, dict[str, dict]]:
    """{qid: {lang: {title, text}}} for the given entities (a filtered scan of `descriptions`)."""
    import pyarrow.compute as pc

    qids = sorted(set(qids))
    out: dict[str, dict[str, dict]] = collections.defaultdict(dict)
    if not qids:
        return out
    cols = ["qid", "lang"] + (["title", "text"] if with_text else [])
    table = _dataset(kdir, "descriptions").to_table(columns=cols, filter=pc.field("qid").isin(qids))
    for row in table.to_pylist():
        out[row["qid"]].setdefault(row["lang"], row)
    return out


def description_languages(kdir: Path) -> list[str]:
    import pyarrow.compute as pc

    return sorted(pc.unique(_dataset(kdir, "descriptions").to_table(columns=["lang"]).column("lang")).to_pylist())


def _gold_language(query_lang: str, available: Iterable[str], rule: str, rng: np.random.Generator) -> str | None:
    langs = sorted(available)
    choices = {"other": [lang for lang in langs if lang != query_lang], "same": [query_lang] if query_lang in langs else [],
               "any": langs}[rule]
    return str(rng.choice(choices)) if choices else None


_NO_GOLD = {"other": "entity not described in another language", "same": "entity not described in the query's language",
            "any": "entity has no description"}


def trained_sentences(kdir: Path, texts: Iterable[str], split: Split) -> set[tuple[str, str]]:
    """(language, sentence) pairs among `texts` that a training row also holds (a filtered scan of `mentions`)."""
    import pyarrow.compute as pc

    texts = sorted(set(texts))
    if not texts:
        return set()
    out: set[tuple[str, str]] = set()
    for batch in _dataset(kdir, "mentions").to_batches(columns=[*MENTION_KEY_COLUMNS, "text"],
                                                       filter=pc.field("text").isin(texts)):
        trained = split.trained_mentions(batch)
        out |= {(lang, text) for lang, text, t in zip(batch.column("lang").to_pylist(), batch.column("text").to_pylist(),
                                                      trained) if t}
    return out


def xep_queries(kdir: Path, *, languages: list[str] | None, per_language: int, seed: int, rule: str,
                candidate_languages: list[str] | None, oversample: int, coverage: Coverage,
                split: Split = Split()) -> list[Query]:
    """Entity-masked sentences from `mentions`, `per_language` per language, from the rows of `split`."""
    dataset = _dataset(kdir, "mentions")
    drawn = _smallest_keys(dataset, per_language * oversample, seed, "lang", split.mentions,
                           MENTION_KEY_COLUMNS if split.name != "all" else [])
    langs = languages or sorted(drawn)
    rows = np.sort(np.concatenate([drawn.get(lang, np.empty(0, dtype=np.int64)) for lang in langs]))
    table = dataset.take(rows, columns=["lang", "text", "start", "end", "qid"]) if len(rows) else None
    by_row = dict(zip(rows.tolist(), table.to_pylist())) if table is not None else {}
    seen = trained_sentences(kdir, (r["text"] for r in by_row.values()), split) if split.name != "all" else set()
    described = descriptions_of(kdir, {r["qid"] for r in by_row.values()})
    allowed = set(candidate_languages) if candidate_languages is not None else None
    rng = np.random.default_rng(seed + 1)
    queries: list[Query] = []
    for lang in langs:
        key = coverage.key("XEP", "mentions", lang)
        n = 0
        for row_no in drawn.get(lang, np.empty(0, dtype=np.int64)).tolist():
            if n >= per_language:
                break
            r = by_row[row_no]
            coverage.add_read(key)
            text, start, end = r["text"] or "", r["start"], r["end"]
            if start is None or end is None or not (0 <= start < end <= len(text)):
                coverage.drop(key, "mention offsets outside the sentence")
                continue
            if (r["lang"], r["text"]) in seen:
                coverage.drop(key, "sentence also in a training row")
                continue
            avail = [x for x in described.get(r["qid"], {}) if allowed is None or x in allowed]
            gold = _gold_language(lang, avail, rule, rng)
            if gold is None:
                coverage.drop(key, _NO_GOLD[rule])
                continue
            queries.append(Query(lang, text, r["qid"], gold, start=start, end=end))
            n += 1
        coverage.set_kept(key, n)
        if n < per_language:
            coverage.note(key, f"{n} of {per_language} queries found")
    return queries


def xor_queries(kdir: Path, *, languages: list[str] | None, per_language: int, seed: int, rule: str,
                candidate_languages: list[str] | None, oversample: int, coverage: Coverage,
                split: Split = Split()) -> list[Query]:
    """Subject descriptions + relation from `triples`, `per_language` per language, from the rows of `split`."""
    dataset = _dataset(kdir, "triples")
    langs = languages or description_languages(kdir)
    drawn = _smallest_keys(dataset, per_language * oversample * len(langs), seed, None, split.triples,
                           TRIPLE_KEY_COLUMNS if split.name != "all" else [])
    rows = np.sort(drawn.get(0, np.empty(0, dtype=np.int64)))
    triples = dataset.take(rows, columns=["subject", "relation", "object"]).to_pylist() if len(rows) else []
    order = np.argsort(np.random.default_rng(seed).random(len(triples)))  # visit in a seeded order
    described = descriptions_of(kdir, {t["subject"] for t in triples} | {t["object"] for t in triples}, with_text=True)
    allowed = set(candidate_languages) if candidate_languages is not None else None
    rng = np.random.default_rng(seed + 1)
    queries: list[Query] = []
    for lang in langs:
        key = coverage.key("XOR", "triples", lang)
        n = 0
        for i in order.tolist():
            if n >= per_language:
                break
            t = triples[i]
            coverage.add_read(key)
            subject = described.get(t["subject"], {}).get(lang)
            if subject is None or not subject.get("text"):
                coverage.drop(key, "subject not described in the query's language")
                continue
            avail = [x for x in described.get(t["object"], {}) if allowed is None or x in allowed]
            gold = _gold_language(lang, avail, rule, rng)
            if gold is None:
                coverage.drop(key, _NO_GOLD[rule])
                continue
            queries.append(Query(lang, subject["text"], t["object"], gold, subject=t["subject"], relation=t["relation"]))
            n += 1
        coverage.set_kept(key, n)
        if n < per_language:
            coverage.note(key, f"{n} of {per_language} queries found")
    return queries


def true_objects(kdir: Path, subjects: Iterable[str]) -> dict[tuple[str, str], set[str]]:
    """{(subject, relation): every object the knowledge directory holds} (a filtered scan of `triples`)."""
    import pyarrow.compute as pc

    subjects = sorted(set(subjects))
    out: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    if subjects:
        table = _dataset(kdir, "triples").to_table(columns=["subject", "relation", "object"],
                                                   filter=pc.field("subject").isin(subjects))
        for t in table.to_pylist():
            out[(t["subject"], t["relation"])].add(t["object"])
    return out
