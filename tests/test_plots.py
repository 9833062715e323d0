"""Plots a paper could use: seed error bars, a chance line, the tables' language order, missing shown as
missing, training curves from metrics.jsonl and history.jsonl, Figure 4 with error bars."""
from __future__ import annotations

import json
import statistics

import pytest

from xlmk.errors import XlmkError
from xlmk.plots import plot_finetune_curves, plot_languages, plot_pretrain_curves, plot_sweep
from xlmk.report import report, sweep_points, training_logs
from xlmk.results import ResultRow, append_rows
from xlmk.tables import finetune_table

LANGS = ["en", "ar", "de", "es", "hi", "vi", "zh"]


def _rows():
    out = []
    for model, level in (("xlmk-tiny", 45.0), ("mlm-only-tiny", 38.0)):
        for seed in (1, 2, 3):
            for i, lang in enumerate(LANGS):
                if model == "mlm-only-tiny" and lang == "hi":
                    continue  # missing: must not be drawn as 0
                value = 0.0 if (model == "mlm-only-tiny" and lang == "zh") else level - i + seed
                out.append(ResultRow(stage="finetune", name="xnli", version=1, model=f"runs/{model}", model_name=model,
                                     language=lang, split="test", metric="accuracy", value=value, n=100, seed=seed,
                                     protocol="xglue-avg-dev", extra={"majority_baseline": 33.3, "predicted_classes": 3}))
    return out


def _bars(ax):
    """(x, height, error) of every drawn bar."""
    from matplotlib.container import BarContainer

    found = []
    for container in (c for c in ax.containers if isinstance(c, BarContainer)):
        errs = container.errorbar.lines[2][0].get_segments() if getattr(container, "errorbar", None) else None
        for k, patch in enumerate(container.patches):
            err = (errs[k][1][1] - errs[k][0][1]) / 2 if errs else 0.0
            found.append((round(patch.get_x() + patch.get_width() / 2, 3), patch.get_height(), err))
    return found


def test_language_bars_have_seed_error_bars_a_chance_line_and_mark_missing(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    kept = {}
    monkeypatch.setattr(plt, "close", lambda fig: kept.setdefault("fig", fig))
    out = plot_languages(_rows(), "xnli", tmp_path / "xnli.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    ax = kept["fig"].axes[0]
    table_order = finetune_table(_rows(), "xnli").columns[2:]  # the languages, then Avg
    assert [t.get_text() for t in ax.get_xticklabels()] == table_order and table_order[0] == "en"
    bars = _bars(ax)
    heights = {round(h, 6) for _, h, _ in bars}
    assert 45.0 + 2 in heights  # xlmk-tiny en: mean over seeds 46, 47, 48 is 47
    errs = {round(e, 6) for _, _, e in bars if e}
    # std over the three seeds: 1 per language; mlm-only-tiny's Avg moves by 5/6 a seed (its zh is always 0)
    assert errs == {1.0, round(5 / 6, 6)}
    assert len(bars) == 2 * 8 - 1  # one bar per model and column, none for the missing value
    # mlm-only-tiny's Avg is over its six languages, as in the table
    assert any(abs(h - (40 + 39 + 38 + 37 + 35 + 0) / 6) < 1e-9 for _, h, _ in bars)  # en ar de es vi zh
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("n/a") == 1 and texts.count("0") == 1
    assert any(abs(line.get_ydata()[0] - 33.3) < 1e-9 for line in ax.get_lines())  # the majority-class line
    legend = ax.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # outside the axes
    assert "majority class (33.3)" in [t.get_text() for t in legend.get_texts()]
    assert "xlmk-tiny" in [t.get_text() for t in legend.get_texts()]  # learnt: no mark


def test_a_constant_model_is_named_so_in_the_legend(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    rows = [r.model_copy(update={"value": 33.3, "extra": {"majority_baseline": 33.3, "predicted_classes": 1}})
            for r in _rows() if r.model_name == "xlmk-tiny"]
    kept = {}
    monkeypatch.setattr(plt, "close", lambda fig: kept.setdefault("fig", fig))
    plot_languages(rows, "xnli", tmp_path / "xnli.png")
    texts = [t.get_text() for t in kept["fig"].axes[0].get_legend().get_texts()]
    assert "xlmk-tiny [constant predictor]" in texts


def _write_sweep(root, parameter, values, rows_of):
    """A sweep directory: sweep.json and each member's rows in its own directory."""
    members = [{"model_name": f"m{v}", "value": str(v), "dir": f"m{v}"} for v in values]
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps({"parameter": parameter, "members": members}))
    for m in members:
        (root / m["dir"] / "probe").mkdir(parents=True)
        (root / m["dir"] / "probe" / "results.jsonl").write_text(
            "".join(r.model_dump_json() + "\n" for r in rows_of(m["model_name"], float(m["value"]))))
    return root


def test_sweep_points_carry_seed_std_and_the_plot_has_error_bars(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    def rows_of(name, v):
        return [ResultRow(stage="finetune", name="xnli", version=1, model=f"runs/{name}", model_name=name, language=lang,
                          split="test", metric="accuracy", value=v / 4 + seed, seed=seed)
                for seed in (1, 3) for lang in ("en", "de")]

    _write_sweep(tmp_path, "queue.size", (64, 128), rows_of)
    parameter, points = sweep_points([tmp_path])
    assert parameter == "queue.size"
    assert sorted(points["XNLI acc"]) == [(64.0, 18.0, pytest.approx(2 ** 0.5)), (128.0, 34.0, pytest.approx(2 ** 0.5))]
    kept = {}
    monkeypatch.setattr(plt, "close", lambda fig: kept.setdefault("fig", fig))
    plot_sweep(points, parameter, tmp_path / "figure4.png")
    ax = kept["fig"].axes[0]
    assert ax.containers and ax.containers[0].has_yerr


def test_sweep_replicates_with_the_same_model_names_are_pooled_not_overwritten(tmp_path):
    # one sweep over the temperature per pre-training seed: the members share names and the probe's seed
    def rows_for(shift):
        return lambda name, v: [ResultRow(stage="probe", name="xep", version=2, model=f"x/models/{name}", model_name=name,
                                          language=lang, metric="accuracy", value=100 * v + shift + (lang == "de"), seed=0)
                                for lang in ("en", "de")]

    dirs = [_write_sweep(tmp_path / f"seed{s}", "loss.temperature", (0.05, 0.1), rows_for(s)) for s in (1, 2, 6)]
    parameter, points = sweep_points(dirs)
    assert parameter == "loss.temperature"
    (t1, mean1, std1), (t2, mean2, std2) = points["XEP acc"]
    assert (t1, t2) == (0.05, 0.1)
    assert mean1 == pytest.approx(5 + 0.5 + 3) and mean2 == pytest.approx(10 + 0.5 + 3)
    assert std1 == pytest.approx(statistics.stdev([1, 2, 6]))
    (tmp_path / "other").mkdir()
    _write_sweep(tmp_path / "other", "queue.size", (64,), rows_for(0))
    with pytest.raises(XlmkError, match="vary different keys"):
        sweep_points([*dirs, tmp_path / "other"])


def test_training_curves_from_metrics_and_history(tmp_path):
    pre = tmp_path / "pretrain" / "xlmk-tiny"
    pre.mkdir(parents=True)
    (pre / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "mlm_loss": 9 - s, "mlm_acc": s / 10,
                                                           "mep_loss": 5 - s / 2, "mep_acc": s / 20}) + "\n"
                                               for s in range(1, 6)))
    (pre / "final").mkdir()
    (pre / "final" / "config.json").write_text("{}")
    (pre / "final" / "metrics.jsonl").write_text((pre / "metrics.jsonl").read_text())  # a copy: skipped
    ft = tmp_path / "eval" / "finetune-xnli"
    for seed in (1, 2):
        (ft / f"seed-{seed}").mkdir(parents=True)
        (ft / f"seed-{seed}" / "history.jsonl").write_text("".join(
            json.dumps({"epoch": e, "step": 10 * e, "train_loss": 1.1 - e / 10 - seed / 100,
                        "dev": {"dev-en": {"accuracy": 40 + e, "n": 10}, "dev-de": {"accuracy": 35 + e, "n": 10}}}) + "\n"
            for e in (1, 2, 3)))
    (ft / "summary.json").write_text(json.dumps({"task": "xnli", "main_metric": "accuracy"}))
    pretrain, finetune = training_logs([tmp_path])
    assert pretrain == {"xlmk-tiny": pre / "metrics.jsonl"} and finetune == [ft]
    assert plot_pretrain_curves(pretrain, tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert plot_finetune_curves(ft, tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    append_rows(ft, _rows())
    text = report([tmp_path], tasks=["xnli"], plot=tmp_path / "plots")
    assert "pretrain-curves.png" in text and "finetune-curves-eval-finetune-xnli.png" in text
