"""Stage contracts: what each stage needs from the directories and files it is given, checked before any work.

A stage that starts on input it cannot use fails late and obscurely (an Arrow type error while
tokenizing, an IndexError while drawing probe queries, a bad metric after an epoch of fine-tuning). The
checks here run first and cheaply: they read manifests, Parquet footers and file headers, never the
data itself, and each failure says what is missing and which command produces it.

- `check_knowledge`: a finished (not failed, not interrupted) knowledge directory whose tables a stage
  needs are present, readable, of the right columns and types, non-empty, and hold rows in every
  language asked for.
- `check_model_dir`: a checkpoint directory that exists, has its config and untruncated weights.
- `require_file` / `require_dir`: a path of the expected kind, named in the error.
- `safe_name`: a user string that becomes part of a file name (a language code, a label).
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from xlmk.errors import ConfigError, DataError

# written into a knowledge directory by a build that stopped with an error; removed when one finishes
BUILD_FAILED = "BUILD-FAILED.json"
NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
_HOW = {
    "titles": "--wikidata DUMP (titles are Wikidata sitelinks)",
    "triples": "--wikidata DUMP (triples are Wikidata statements)",
    "relations": "--wikidata DUMP",
    "mentions": "--wikipedia LANG=DUMP for each language (mentions are Wikipedia links)",
    "descriptions": "--wikipedia LANG=DUMP for each language (descriptions are Wikipedia lead paragraphs)",
}


# ---------------------------------------------------------------- paths and names
def safe_name(value: str, what: str) -> str:
    """`value` when it can be part of a file name: letters, digits, `_` and `-`, at most 32."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ConfigError(f"{what}: {value!r} is not allowed (use 1-32 letters, digits, '_' or '-'; "
                          "it becomes part of a file name)")
    return value


def safe_names(values: Iterable[str] | None, what: str) -> list[str] | None:
    return None if values is None else [safe_name(v, what) for v in values]


def require_file(path: str | Path, what: str) -> Path:
    """`path` when it is a readable file; a directory or a missing path is named in the error."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise DataError(f"{what}: expected a file, got a directory", path=p)
    if not p.is_file():
        raise DataError(f"{what}: file not found", path=p)
    return p


def require_dir(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if p.is_file():
        raise DataError(f"{what}: expected a directory, got a file", path=p)
    if not p.is_dir():
        raise DataError(f"{what}: directory not found", path=p)
    return p


# ---------------------------------------------------------------- knowledge directories
def parquet_info(path: Path) -> tuple[int, dict[str, str]]:
    """(rows, {column: type}) of a Parquet shard from its footer; a damaged shard is named."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
        return meta.metadata.num_rows, {f.name: str(f.type) for f in meta.schema_arrow}
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"unreadable Parquet shard ({type(exc).__name__}: {exc}); rebuild the knowledge "
                        "directory with `xlmk knowledge build --fresh`", path=path) from None


def mark_build_failed(out: Path, error: BaseException) -> None:
    """Record in `out` that its build stopped with `error` (later stages refuse the directory)."""
    import datetime as dt

    from xlmk.io import atomic_write_json

    try:
        atomic_write_json(out / BUILD_FAILED, {
            "error": f"{type(error).__name__}: {error}",
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    except Exception:  # noqa: BLE001 - the original error matters more than the marker (e.g. a full disk)
        pass


def read_manifest(kdir: str | Path) -> dict:
    path = Path(kdir) / "manifest.json"
    if not path.is_file():
        raise DataError("no manifest.json: not a finished knowledge directory", path=Path(kdir))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"unreadable manifest: {exc}", path=path, line=exc.lineno) from None


def check_finished(kdir: str | Path) -> dict:
    """The manifest of a knowledge directory whose build finished; refuses a failed or partial one."""
    kdir = require_dir(kdir, "knowledge directory")
    failed = kdir / BUILD_FAILED
    if failed.is_file():
        try:
            why = json.loads(failed.read_text(encoding="utf-8")).get("error", "?")
        except (OSError, ValueError):
            why = "unknown error"
        raise DataError(f"the knowledge build into this directory failed ({why}) and left it partial; fix the "
                        f"cause and run `xlmk knowledge build --out {kdir} ...` again (it resumes)", path=kdir)
    if not (kdir / "manifest.json").is_file():
        hint = "an interrupted build: run the same `xlmk knowledge build` again to finish it" \
            if (kdir / "_work").is_dir() else f"build one with `xlmk knowledge build --out {kdir} ...`"
        raise DataError(f"not a finished knowledge directory (no manifest.json); {hint}", path=kdir)
    return read_manifest(kdir)


def table_rows(kdir: Path, table: str) -> int:
    """Rows of one table after checking each shard's columns and types against the schema."""
    from xlmk.knowledge.schema import COLUMNS, table_files

    total = 0
    for f in table_files(kdir, table):
        rows, columns = parquet_info(f)
        for name, kind in COLUMNS[table]:
            if name not in columns:
                raise DataError(f"the {table} table lacks column {name!r} (columns: {', '.join(columns)})", path=f)
            if columns[name] != kind:
                raise DataError(f"column {name!r} of the {table} table has type {columns[name]}, expected {kind}",
                                path=f)
        total += rows
    return total


def languages_of(kdir: Path, table: str, manifest: Mapping) -> dict[str, int]:
    """Rows per language of a table: the manifest's count, else a scan of the `lang` column."""
    tables = manifest.get("tables")
    by_lang = (tables.get(table) or {}).get("by_lang") if isinstance(tables, dict) else None
    if isinstance(by_lang, dict) and by_lang:
        return {k: int(v) for k, v in by_lang.items()}
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from xlmk.knowledge.schema import table_files

    files = [str(f) for f in table_files(kdir, table)]
    if not files:
        return {}
    counts = pc.value_counts(ds.dataset(files, format="parquet").to_table(columns=["lang"])["lang"]).to_pylist()
    return {c["values"]: int(c["counts"]) for c in counts if c["values"] is not None}


def check_knowledge(kdir: str | Path, needs: Mapping[str, str], *, languages: Sequence[str] | None = None,
                    per_language: Sequence[str] = ()) -> dict:
    """Check `kdir` against what a stage needs; return its manifest.

    `needs` maps a table to the reason it is needed ("tasks.mep"); the tables in `per_language` must
    also hold rows in each of `languages`.
    """
    kdir = Path(kdir)
    manifest = check_finished(kdir)
    for table, reason in needs.items():
        rows = table_rows(kdir, table)
        if rows == 0:
            raise DataError(f"{reason} needs {table}, and this knowledge directory has none ({table}/*.parquet "
                            f"empty or missing); build it with `xlmk knowledge build` and {_HOW[table]}", path=kdir)
        if languages and table in per_language:
            have = languages_of(kdir, table, manifest)
            missing = [lang for lang in languages if not have.get(lang)]
            if missing:
                held = ", ".join(sorted(k for k, v in have.items() if v)) or "none"
                raise DataError(f"{reason} needs {table} in {', '.join(missing)}, and this knowledge directory "
                                f"has none there (languages with {table}: {held}); add {_HOW[table]}", path=kdir)
    return manifest


# ---------------------------------------------------------------- model directories
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")


def check_model_location(path: str | Path, *, where: str = "--model") -> None:
    """Refuse, naming the path, a model location that cannot be a model: a path that does not exist (and
    cannot be a hub id), a file, or a directory without config.json. A hub id passes to transformers."""
    text = str(path)
    p = Path(text).expanduser()
    hint = "a model directory is what `xlmk pretrain` writes to RUN/final, `xlmk init-model` writes, or save_pretrained"
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ConfigError(f"{where} {text}: not a model directory (no config.json); {hint}")
        return
    if p.exists():
        raise ConfigError(f"{where} {text}: is a file, not a model directory; {hint}")
    if not _HUB_ID.fullmatch(text) or text.startswith(".") or text.endswith(".") or ".." in text:
        raise ConfigError(f"{where} {text}: no such directory")


def check_safetensors(path: Path) -> None:
    """A safetensors file whose header parses and whose size covers every tensor it lists."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > size - 8:
                raise ValueError(f"header of {n} bytes")
            header = json.loads(fh.read(n))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError):
        raise DataError(f"not a readable safetensors file ({size} bytes): truncated or damaged; copy or "
                        "save the model again", path=path) from None
    if 8 + n + end > size:
        raise DataError(f"truncated: {size} bytes, its header lists tensors up to byte {8 + n + end}; copy or "
                        "save the model again", path=path)


def check_model_dir(path: str | Path, what: str = "--model") -> Path | None:
    """A local checkpoint directory that can be loaded (None for a hub name, which is not checked)."""
    check_model_location(path, where=what)  # missing, a file, or a directory without config.json
    p = Path(str(path)).expanduser()
    if not p.is_dir():
        return None  # a hub id: transformers resolves it
    weights = sorted(p.glob("*.safetensors"))
    if not weights and not any(p.glob("*.bin")):
        raise ConfigError(f"{what}: {p} has no weights (model.safetensors)")
    for f in weights:
        check_safetensors(f)
    return p


# ---------------------------------------------------------------- sizes against the encoder and the machine
ROBERTA_LIKE = ("xlm-roberta", "roberta", "camembert", "xlm-roberta-xl")  # positions start after padding_idx


def max_positions(config: object) -> int | None:
    """Tokens one sequence can hold: RoBERTa-family position ids start at padding_idx + 1 (514 -> 512)."""
    n = getattr(config, "max_position_embeddings", None)
    if not isinstance(n, int):
        return None
    if getattr(config, "model_type", "") in ROBERTA_LIKE:
        n -= int(getattr(config, "pad_token_id", 1) or 0) + 1
    return n


def check_lengths(lengths: Mapping[str, int], config: object) -> None:
    """Every `key: max_length` fits the encoder's position embeddings."""
    limit = max_positions(config)
    if limit is None:
        return
    too_long = {k: v for k, v in lengths.items() if v > limit}
    if too_long:
        said = ", ".join(f"{k} = {v}" for k, v in too_long.items())
        raise ConfigError(f"{said}: longer than the encoder's {limit} positions (allowed: up to {limit})")


def available_memory(device: object = None) -> tuple[int, str]:
    """(bytes free, what they are): the CUDA device's free memory, else the machine's available RAM."""
    import os

    if getattr(device, "type", device) == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0]), "free on the GPU"
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "of available RAM"
    except OSError:  # no /proc (not Linux): sysconf below
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "of available RAM"
    except (ValueError, OSError, AttributeError):
        return 1 << 62, "of memory"  # unknown: do not refuse


def check_queue_memory(size: int, dim: int, queues: int, device: object = None, *,
                       available: int | None = None) -> None:
    """`queues` queues of `size` float32 keys of `dim` (and their int64 ids) fit in memory, with room to train."""
    need = queues * size * (dim * 4 + 8)
    free, where = available_memory(device) if available is None else (available, "available")
    if need > free // 2:  # the encoder, its gradients, the optimizer and the batch need the other half
        gib = 1 << 30
        raise ConfigError(f"queue.size = {size}: {queues} queue(s) of {size:,} keys of {dim} floats need "
                          f"{need / gib:.1f} GiB, more than half the {free / gib:.1f} GiB {where}; lower queue.size")
