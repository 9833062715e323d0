"""`layout: hf` for every task: a Hugging Face `datasets` data set by hub name (when online) or a local
folder written by `save_to_disk`, with the column names mapped in the task spec.

A local folder is either one DatasetDict (`FOLDER/dataset_dict.json`) or one per configuration
(`FOLDER/<config>/dataset_dict.json`, the config being `hf_config` with `{lang}` filled in). Splits
are named train / validation / test unless `hf_splits` says otherwise. Anything else is handed to
`datasets.load_dataset(name, config, split=…)`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from xlmk.errors import DataError

HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def load_split(spec: Any, split: str, lang: str) -> Any:
    """The `datasets.Dataset` of one split and language of a task's `hf_name`."""
    import datasets

    datasets.disable_progress_bars()
    config = spec.hf_config.format(lang=lang) if spec.hf_config else None
    name = {**HF_SPLITS, **spec.hf_splits}.get(split, split)
    local = Path(spec.hf_name).expanduser()
    if local.is_dir():
        folder = local / config if config and (local / config / "dataset_dict.json").is_file() else local
        if not (folder / "dataset_dict.json").is_file():
            where = f"{local}/{config}" if config else str(local)
            raise DataError(f"not a save_to_disk folder (no dataset_dict.json in {where})", path=local)
        dd = datasets.load_from_disk(str(folder))
        if name not in dd:
            raise DataError(f"no split {name!r} (it has: {', '.join(dd)}); map splits with task.hf_splits", path=folder)
        return dd[name]
    return datasets.load_dataset(spec.hf_name, config, split=name)


def columns(ds: Any, defaults: Mapping[str, str], spec: Any, where: str) -> dict[str, str]:
    """{field: column} of the defaults overridden by `hf_columns`; every column must exist."""
    cols = {**defaults, **spec.hf_columns}
    missing = [f"{field} ({col})" for field, col in cols.items() if col not in ds.column_names]
    if missing:
        raise DataError(f"{where}: no column for {', '.join(missing)} (it has: {', '.join(ds.column_names)}); "
                        "map them with task.hf_columns")
    return cols


def label_names(ds: Any, column: str) -> list[str] | None:
    """Names of a ClassLabel column or of a sequence of ClassLabels; None for plain strings."""
    feature = ds.features[column]
    feature = getattr(feature, "feature", feature)
    return list(feature.names) if hasattr(feature, "names") else None


def fingerprint(ds: Any) -> str:
    return str(getattr(ds, "_fingerprint", ""))
