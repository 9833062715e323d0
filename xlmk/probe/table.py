"""Tables over probe result rows, one column per model: the paper's Table 5 (LAMA), per-language mLAMA,
and Table 7 (XEP/XOR). They build `rich` tables from `ResultRow`s and print nothing themselves, so
`xlmk probe`, `xlmk results` and a notebook can all use them on rows from any number of runs.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from xlmk.config import load_table
from xlmk.results import ResultRow


def _model(row: ResultRow) -> str:
    return row.model_name or row.model


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _index(rows: Iterable[ResultRow], name: str, metric: str) -> tuple[list[str], dict[tuple, ResultRow]]:
    models: list[str] = []
    index: dict[tuple, ResultRow] = {}
    for r in rows:
        if r.stage != "probe" or r.name != name or r.metric != metric:
            continue
        m = _model(r)
        if m not in models:
            models.append(m)
        index[(m, r.subset, r.language)] = r  # a later row (a rerun) replaces an earlier one
    return models, index


def lama_table(rows: Iterable[ResultRow], *, metric: str = "p@1", per_relation: bool = False) -> Any:
    """Corpus / Relation / #Facts / #Rel / P@1 per model, in the order of the paper's Table 5."""
    from rich.table import Table

    models, index = _index(rows, "lama", metric)
    corpora = load_table("lama_corpora")["corpora"]
    table = Table(title=f"LAMA {metric.upper()}", title_justify="left")
    for col in ("Corpus", "Relation", "#Facts", "#Rel"):
        table.add_column(col, justify="left" if col in ("Corpus", "Relation") else "right")
    for m in models:
        table.add_column(m, justify="right")
    differs = False
    for corpus, spec in corpora.items():
        lines: list[tuple[str, str]] = []
        if "relations" in spec:
            lines += [(f"{corpus}/{r['relation']}", r["label"]) for r in spec["relations"]]
        if corpus == "TREx":
            subsets = sorted({s for (_, s, _) in index if s.startswith("TREx/") and s != "TREx/Total"})
            lines += [(f"TREx/{t}", t) for t in spec.get("types", [])]
            if per_relation:
                lines += [(s, s.split("/", 1)[1]) for s in subsets if s.split("/", 1)[1] not in spec.get("types", [])]
        lines.append((f"{corpus}/Total", "Total"))
        first = True
        for subset, label in lines:
            found = [index.get((m, subset, "en")) for m in models]
            ref = next((r for r in found if r is not None), None)
            if ref is None:
                continue
            differs |= len({r.n for r in found if r is not None}) > 1
            n_rel = ref.extra.get("n_predicates") or ref.extra.get("n_relations") or (1 if ref.extra.get("level") == "relation" else None)
            table.add_row(spec["label"] if first else "", label, str(ref.n or 0), str(n_rel) if n_rel and corpus != "Squad" else "-",
                          *[_fmt(r.value if r else None) for r in found])
            first = False
        if not first:
            table.add_section()
    if differs:
        table.caption = ("#Facts is the first model's; the models kept different facts (single-token objects depend on "
                         "the vocabulary): pass a common vocabulary (probe.common_vocab) for a like-for-like comparison")
    return table


def mlama_table(rows: Iterable[ResultRow], *, metric: str = "p@1") -> Any:
    """Language / #Facts / #Rel / P@1 per model (mean over relations), and the mean over languages."""
    from rich.table import Table

    models, index = _index(rows, "mlama", metric)
    langs = sorted({lang for (_, s, lang) in index if s == "mLAMA/Total" and lang})
    table = Table(title=f"mLAMA {metric.upper()} (mean over relations)", title_justify="left")
    for col in ("Language", "#Facts", "#Rel"):
        table.add_column(col, justify="left" if col == "Language" else "right")
    for m in models:
        table.add_column(m, justify="right")
    for lang, subset in [(x, "mLAMA/Total") for x in langs] + [(None, "mLAMA/avg")]:
        found = [index.get((m, subset, lang)) for m in models]
        ref = next((r for r in found if r is not None), None)
        if ref is None:
            continue
        n_rel = ref.extra.get("n_relations")  # the average row is over languages, not relations
        table.add_row(lang or f"avg ({ref.extra.get('n_languages', '?')} languages)", str(ref.n or 0), str(n_rel or "-"),
                      *[_fmt(r.value if r else None) for r in found])
    return table


SPLIT_LABEL = {"heldout": "held-out rows", "entities": "held-out entities",
               "all": "ALL rows, trained ones included: inflates trained models"}


def _readout(row: ResultRow) -> str:
    """`heads` for a checkpoint's trained knowledge heads, `raw states` for XLM-R-style states without heads."""
    return "raw states" if row.protocol == "raw-states" else "heads"


def knowledge_table(rows: Iterable[ResultRow], *, metric: str = "accuracy") -> Any:
    """Table 7: XEP and XOR per model, the mean over query languages first, then each language.

    A column is one (model, readout, split, probe): raw-state baselines (XLM-R style: encoder states, no
    heads) stand beside trained heads, labelled; the title names the split, the candidate count and the
    similarity when the columns share them, and each column's header says so where they differ.
    """
    from rich.table import Table

    rows = [r for r in rows if r.stage == "probe" and r.name in ("xep", "xor") and r.metric == metric]
    index: dict[tuple, ResultRow] = {}
    columns: list[tuple] = []
    for r in rows:
        col = (_model(r), _readout(r), r.split, r.name)
        if col not in columns:
            columns.append(col)
        index[(*col, r.subset, r.language)] = r  # a later row (a rerun) replaces an earlier one
    # each model's columns together, XEP before XOR
    order = list(dict.fromkeys(c[:3] for c in columns))
    columns = [(*k, p) for k in order for p in ("xep", "xor") if (*k, p) in columns]

    def described(col: tuple) -> dict[str, str]:
        ref = next((r for k, r in index.items() if k[:4] == col and r.language is None), None)
        ref = ref or next((r for k, r in index.items() if k[:4] == col), None)
        extra = ref.extra if ref is not None else {}
        sim = extra.get("similarity") or ("cosine" if "cosine" in str(extra.get("representation", "")) else "dot")
        return {"split": str(col[2]), "candidates": str(extra.get("n_candidates", "?")), "similarity": sim}

    info = {c: described(c) for c in columns}
    shared = {k: v.pop() for k in ("split", "candidates", "similarity")
              if len(v := {info[c][k] for c in columns}) == 1}
    title = f"XEP / XOR {metric} (Table 7)"
    if shared:
        parts = []
        if "split" in shared:
            parts.append(f"split: {shared['split']} ({SPLIT_LABEL.get(shared['split'], shared['split'])})")
        if "candidates" in shared:
            parts.append(f"N = {shared['candidates']} candidates")
        if "similarity" in shared:
            parts.append(f"similarity: {shared['similarity']}")
        title += " · " + " · ".join(parts)
    table = Table(title=title, title_justify="left")
    table.add_column("Language")
    for c in columns:
        m, readout, split, probe = c
        own = [f"{k} {v}" for k, v in info[c].items() if k not in shared]
        flag = " !" if split == "all" else ""
        table.add_column("\n".join([m, f"{probe.upper()} ({readout}){flag}", *own]), justify="right")
    langs = sorted({k[5] for k in index if k[5]})
    for lang in [None] + langs:
        cells = []
        for c in columns:
            subset = c[3].upper() + ("/avg" if lang is None else "")
            cells.append(_fmt(getattr(index.get((*c, subset, lang)), "value", None), 2))
        table.add_row("avg" if lang is None else lang, *cells, end_section=lang is None)
    notes = ["(heads) = the checkpoint's trained knowledge heads; (raw states) = encoder states without heads, "
             "the XLM-R-style baseline"]
    if any(c[2] == "all" for c in columns):
        notes.append("! split all: queries include rows the model trained on; held-out splits compare models fairly")
    protocols = sorted({f"{r.name} ({_model(r)}): {r.extra.get('representation')}" for r in rows
                        if r.language is None and r.extra.get("representation")})
    table.caption = "\n".join(notes + protocols)
    return table


def probe_tables(rows: Iterable[ResultRow]) -> list[Any]:
    """Every table the rows allow, in the paper's order."""
    rows = list(rows)
    names = {r.name for r in rows if r.stage == "probe"}
    out = []
    if "lama" in names:
        out.append(lama_table(rows))
    if "mlama" in names:
        out.append(mlama_table(rows))
    if names & {"xep", "xor"}:
        out.append(knowledge_table(rows))
    return out
