"""Names and Arrow schemas of the knowledge-directory tables: the contract every reader relies on."""
from __future__ import annotations

from pathlib import Path

TABLES = ("titles", "mentions", "descriptions", "triples", "relations")

# Column names and types per table (CONTRIBUTING.md, "Knowledge directory").
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "titles": [("lang", "string"), ("title", "string"), ("qid", "string")],
    "mentions": [
        ("lang", "string"),
        ("page_title", "string"),
        ("text", "string"),
        ("start", "int32"),
        ("end", "int32"),
        ("qid", "string"),
    ],
    "descriptions": [("qid", "string"), ("lang", "string"), ("title", "string"), ("text", "string")],
    "triples": [("subject", "string"), ("relation", "string"), ("object", "string")],
    "relations": [("pid", "string"), ("label", "string")],
}


def schema(table: str):
    """The pyarrow schema of `table` (pyarrow is imported here, not at module import)."""
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS[table]])


def table_files(kdir: str | Path, table: str) -> list[Path]:
    """The Parquet files of one table in a stable (sorted) order; hidden temporaries are skipped."""
    root = Path(kdir) / table
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.parquet") if not p.name.startswith("."))
