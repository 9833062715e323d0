"""Experiment trackers for pre-training and fine-tuning: TensorBoard or Weights & Biases, through accelerate.

A recipe's `run.report_to` (or `--report-to`) names the tracker. The loops hand accelerate's
`Accelerator(log_with=…, project_dir=RUN_DIR)` what `accelerator_kwargs` returns, call `start` once with
the resolved recipe as hyper-parameters, and `log` numbers as they are measured. TensorBoard writes event
files under RUN_DIR/<name>/; W&B writes under RUN_DIR/wandb and runs offline unless WANDB_MODE or
WANDB_API_KEY say otherwise (`wandb sync` uploads an offline run later).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

from xlmk.errors import ConfigError

ReportTo = Literal["none", "tensorboard", "wandb"]
REPORT_TO = ("none", "tensorboard", "wandb")
_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}


def check_available(report_to: str, *, where: str = "run.report_to") -> None:
    """Refuse a tracker whose package is missing, before any work (accelerate would skip it silently)."""
    if report_to not in REPORT_TO:
        raise ConfigError(f"{where}: {report_to!r} is not one of {', '.join(REPORT_TO)}")
    packages = _PACKAGES.get(report_to, ())
    if packages and not any(importlib.util.find_spec(p) is not None for p in packages):
        raise ConfigError(f"{where}: {report_to} needs the {packages[0]} package: pip install 'xlmk[{report_to}]'")


def accelerator_kwargs(report_to: str, run_dir: str | Path) -> dict[str, Any]:
    """Keyword arguments for `Accelerator(...)`: none when nothing is tracked."""
    if report_to == "none":
        return {}
    check_available(report_to)
    return {"log_with": report_to, "project_dir": str(run_dir)}


def start(accelerator: Any, report_to: str, name: str, run_dir: str | Path, config: dict[str, Any]) -> None:
    """Open the tracker (main process only; accelerate sees to that) with flattened hyper-parameters."""
    if report_to == "none":
        return
    init_kwargs: dict[str, Any] = {}
    if report_to == "wandb":
        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        init_kwargs["wandb"] = {"dir": str(run_dir), "name": Path(run_dir).name, "mode": mode}
    accelerator.init_trackers(name, config=hparams(config), init_kwargs=init_kwargs)


def log(accelerator: Any, report_to: str, values: dict[str, Any], step: int) -> None:
    """Log the numbers of a (nested) dict at `step`; other values are left out."""
    if report_to != "none":
        numbers = scalars(values)
        if numbers:
            accelerator.log(numbers, step=step)


def scalars(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numbers of a nested dict under '/'-joined keys (TensorBoard groups tags by their first part)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(scalars(value, name + "/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def hparams(config: dict[str, Any]) -> dict[str, Any]:
    """A recipe as flat 'a.b.c' keys with int/float/str/bool values, which every tracker accepts."""
    from xlmk.rundir import flatten

    return {key: value if isinstance(value, (int, float, str, bool)) else str(value)
            for key, value in flatten(config).items() if value != {}}  # an empty section has no value to log
