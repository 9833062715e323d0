"""Choosing the epoch, and statistics over seeds: pure functions on scores, tested on constructed cases.

Protocols:
- `xglue-avg-dev` (the paper, XGLUE): the epoch whose plain mean of dev scores over all evaluated
  languages is highest;
- `xtreme-en-dev` (XTREME): the epoch whose dev score in the training language is highest.
Ties go to the earlier epoch. Over seeds (the paper's tables): `mean` per language and on the average,
`max` = the whole row of the seed with the best average ("max selected by the Avg metric"), `std`.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from xlmk.errors import ConfigError

AVG = "avg"


def selection_value(protocol: str, dev: Mapping[str, Mapping[str, float]], metric: str, *,
                    languages: Sequence[str], train_language: str) -> float:
    """The number a protocol ranks epochs by, from one epoch's dev scores {language: {metric: value}}."""
    if protocol == "xglue-avg-dev":
        return sum(dev[lang][metric] for lang in languages) / len(languages)
    if protocol == "xtreme-en-dev":
        return dev[train_language][metric]
    raise ConfigError(f"unknown selection protocol {protocol!r} (xglue-avg-dev or xtreme-en-dev)")


def choose_epochs(history: Sequence[Mapping[str, Mapping[str, float]]], protocols: Sequence[str], metric: str, *,
                  languages: Sequence[str], train_language: str) -> dict[str, tuple[int, float]]:
    """For each protocol, (epoch number counted from 1, its selection value); the earliest best wins."""
    chosen: dict[str, tuple[int, float]] = {}
    for protocol in protocols:
        for epoch, dev in enumerate(history, 1):
            value = selection_value(protocol, dev, metric, languages=languages, train_language=train_language)
            if protocol not in chosen or value > chosen[protocol][1]:
                chosen[protocol] = (epoch, value)
    return chosen


def check_protocols(protocols: Sequence[str], languages: Sequence[str], train_language: str) -> None:
    if "xtreme-en-dev" in protocols and train_language not in languages:
        raise ConfigError(f"selection.protocols has xtreme-en-dev, which selects on {train_language} dev, but "
                          f"{train_language} is not among the evaluated languages ({', '.join(languages)}); add it to "
                          "--languages or --set 'selection.protocols=[xglue-avg-dev]'")


def with_average(scores: Mapping[str, float], languages: Sequence[str]) -> dict[str, float]:
    """{language: value} plus the plain mean over `languages` under the key 'avg'."""
    out = {lang: scores[lang] for lang in languages}
    out[AVG] = sum(out[lang] for lang in languages) / len(languages)
    return out


def std(values: Sequence[float], ddof: int) -> float | None:
    if len(values) <= ddof:
        return None
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - ddof))


def seed_statistics(per_seed: Mapping[int, Mapping[str, Mapping[str, float]]], main_metric: str, *,
                    ddof: int = 1) -> dict:
    """Statistics over seeds of {seed: {metric: {language or 'avg': value}}}.

    Returns {"mean": {metric: {key: v}}, "std": {...} (None when too few seeds), "max": {...},
    "max_seed": seed}: `max` is the complete row of the seed whose `avg` of `main_metric` is best
    (earliest seed on ties), as the paper's "max" column."""
    seeds = list(per_seed)
    if not seeds:
        raise ValueError("no seeds to summarise")
    best = seeds[0]
    for s in seeds[1:]:
        if per_seed[s][main_metric][AVG] > per_seed[best][main_metric][AVG]:
            best = s
    metrics = list(per_seed[seeds[0]])
    mean: dict[str, dict[str, float]] = {}
    spread: dict[str, dict[str, float | None]] = {}
    for metric in metrics:
        keys = list(per_seed[seeds[0]][metric])
        mean[metric] = {k: sum(per_seed[s][metric][k] for s in seeds) / len(seeds) for k in keys}
        spread[metric] = {k: std([per_seed[s][metric][k] for s in seeds], ddof) for k in keys}
    return {"mean": mean, "std": spread, "max": {m: dict(per_seed[best][m]) for m in metrics}, "max_seed": best,
            "seeds": seeds}
