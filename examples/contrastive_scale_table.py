"""The table of the contrastive-scale study (docs/pretrain.md) from the directory that
`examples/contrastive_scale_study.sh OUT` wrote:

    python examples/contrastive_scale_table.py OUT

One row per setting: the sweeps' recipe and overrides (the ones every member shares with the parent's
continuation dropped) and the member's value unless the sweep varies the seed. Each cell lists the
seeds' values and their mean: held-out in-batch XEP/XOR accuracy (the check each pre-training run
writes to its results.jsonl), the 512-candidate XEP/XOR probes (average over languages) and the MLM
loss of the run's last logging window. The parent (OUT/parent, probed in OUT/parent-probe) comes first.
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from xlmk.results import RESULTS_FILE, read_rows

# overrides that only say "continue the parent for this many steps": the same for every setting
COMMON = ("encoder.kind=", "encoder.path=", "optim.max_steps=", "optim.warmup_steps=", "run.save_every=", "seed=")
COLUMNS = ["in-batch XEP", "in-batch XOR", "probe XEP", "probe XOR", "MLM loss"]


def scores(run_dir: Path, probe_dir: Path | None = None) -> tuple[int | None, dict[str, float]]:
    """(seed, {column: value}) of one pre-training run and of the probe rows found under `probe_dir`."""
    rows = read_rows([run_dir]) if any(run_dir.rglob(RESULTS_FILE)) else []
    probe_rows = [r for r in read_rows([probe_dir]) if r.stage == "probe"] if probe_dir and any(probe_dir.rglob(RESULTS_FILE)) else []
    out: dict[str, float] = {}
    seed = None
    for r in rows:
        if r.stage != "pretrain":
            continue
        seed = r.seed
        if r.name in ("xep-inbatch", "xor-inbatch") and r.metric == "accuracy":
            out[f"in-batch {r.name[:3].upper()}"] = r.value
        elif r.metric == "mlm_loss":
            out["MLM loss"] = r.value
    for task in ("xep", "xor"):
        by_lang = {r.language: r.value for r in probe_rows if r.name == task and r.metric == "accuracy" and r.language}
        if by_lang:
            out[f"probe {task.upper()}"] = statistics.fmean(by_lang.values())
    return seed, out


def settings(study: Path) -> dict[str, list[tuple[int | None, dict[str, float]]]]:
    """{setting label: [(seed, scores) per member]} over every sweep directory under `study`."""
    found: dict[str, list[tuple[int | None, dict[str, float]]]] = {}
    for manifest_file in sorted(study.rglob("sweep.json")):
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        shared = [o for o in manifest.get("overrides", []) if not o.startswith(COMMON)]
        for member in manifest["members"]:
            mdir = manifest_file.parent / member["dir"]
            if not (mdir / "pretrain").is_dir():
                continue
            seed, values = scores(mdir / "pretrain", mdir)
            if seed is None:  # still training: no rows yet
                continue
            own = [] if manifest["parameter"] == "seed" else [f"{manifest['parameter']}={member['value']}"]
            label = " ".join([Path(manifest["recipe"]).stem, *shared, *own])
            found.setdefault(label, []).append((seed, values))
    return found


def _cell(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    each = ", ".join(f"{v:.{digits}f}" for v in values)
    return each if len(values) == 1 else f"{each} (mean {statistics.fmean(values):.{digits}f})"


def table(study: str | Path) -> str:
    study = Path(study)
    rows = []
    if (study / "parent").is_dir():
        rows.append(("the parent (raw states)", [scores(study / "parent", study / "parent-probe")]))
    rows += sorted(settings(study).items())
    if not rows:
        raise SystemExit(f"{study}: no parent and no sweep.json found; run examples/contrastive_scale_study.sh first")
    lines = ["| setting | seeds | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for label, members in rows:
        members = sorted(members, key=lambda m: (m[0] is None, m[0]))
        cells = [_cell([m[1][c] for m in members if c in m[1]], 2 if c == "MLM loss" else 1) for c in COLUMNS]
        seeds = ", ".join(str(m[0]) for m in members)
        lines.append(f"| {label} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python examples/contrastive_scale_table.py STUDY_DIR")
    print(table(sys.argv[1]), end="")
