"""Epoch selection by protocol and statistics over seeds, on constructed cases with known answers."""
from __future__ import annotations

import math

import pytest

from xlmk.downstream.selection import check_protocols, choose_epochs, seed_statistics, with_average
from xlmk.errors import ConfigError

LANGS = ["en", "de", "es"]


def _epoch(en: float, de: float, es: float) -> dict:
    return {"en": {"f1": en}, "de": {"f1": de}, "es": {"f1": es}}


def test_xglue_picks_the_best_mean_and_xtreme_the_best_english_epoch():
    history = [_epoch(80, 40, 40),   # mean 53.3, en best
               _epoch(70, 60, 60),   # mean 63.3 -> XGLUE
               _epoch(75, 55, 50)]   # mean 60.0
    chosen = choose_epochs(history, ["xglue-avg-dev", "xtreme-en-dev"], "f1", languages=LANGS, train_language="en")
    assert chosen["xglue-avg-dev"] == (2, pytest.approx(190 / 3))
    assert chosen["xtreme-en-dev"] == (1, 80)


def test_ties_keep_the_earlier_epoch():
    history = [_epoch(50, 50, 50), _epoch(60, 40, 50), _epoch(50, 50, 50)]
    chosen = choose_epochs(history, ["xglue-avg-dev", "xtreme-en-dev"], "f1", languages=LANGS, train_language="en")
    assert chosen["xglue-avg-dev"][0] == 1 and chosen["xtreme-en-dev"][0] == 2


def test_seed_statistics_mean_max_by_average_and_std():
    # seed 2 has the best average although seed 3 has the best English score
    per_seed = {
        1: {"f1": with_average({"en": 80.0, "de": 60.0}, ["en", "de"]), "exact_match": {"en": 70.0, "de": 50.0, "avg": 60.0}},
        2: {"f1": with_average({"en": 78.0, "de": 70.0}, ["en", "de"]), "exact_match": {"en": 68.0, "de": 58.0, "avg": 63.0}},
        3: {"f1": with_average({"en": 82.0, "de": 56.0}, ["en", "de"]), "exact_match": {"en": 72.0, "de": 46.0, "avg": 59.0}},
    }
    stats = seed_statistics(per_seed, "f1", ddof=1)
    assert stats["max_seed"] == 2
    assert stats["max"]["f1"] == {"en": 78.0, "de": 70.0, "avg": 74.0}
    assert stats["max"]["exact_match"]["avg"] == 63.0  # the whole row of the chosen seed, every metric
    assert stats["mean"]["f1"]["avg"] == pytest.approx((70 + 74 + 69) / 3)
    assert stats["mean"]["f1"]["en"] == pytest.approx(80.0)
    assert stats["std"]["f1"]["en"] == pytest.approx(2.0)  # sample std of 80, 78, 82
    pop = seed_statistics(per_seed, "f1", ddof=0)
    assert pop["std"]["f1"]["en"] == pytest.approx(math.sqrt(8 / 3))
    single = seed_statistics({5: per_seed[1]}, "f1", ddof=1)
    assert single["std"]["f1"]["en"] is None and single["max_seed"] == 5


def test_xtreme_protocol_needs_the_training_language():
    check_protocols(["xglue-avg-dev"], ["de", "es"], "en")
    with pytest.raises(ConfigError, match="xtreme-en-dev, which selects on en dev"):
        check_protocols(["xglue-avg-dev", "xtreme-en-dev"], ["de", "es"], "en")
