"""Rich rendering shared by CLI verbs (kept out of the library so it stays UI-free)."""
from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticUndefined


def _default(field: Any) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
        return json.dumps(value.model_dump(mode="json") if hasattr(value, "model_dump") else value)
    if field.default is PydanticUndefined:
        return "(required)"
    return json.dumps(field.default)


def registry_data(family: str | None = None) -> dict[str, Any]:
    from xlmk.registry import FAMILIES, family_members, kind_of

    out: dict[str, Any] = {}
    for fam in [family] if family else list(FAMILIES):
        members = family_members(fam)
        out[fam] = {
            "description": FAMILIES[fam][0],
            "kinds": {
                kind_of(m): {
                    "description": (m.__doc__ or "").strip().splitlines()[0] if m.__doc__ else "",
                    "fields": {name: {"type": _type_name(f.annotation), "default": _default(f),
                                      "description": f.description or ""}
                               for name, f in m.model_fields.items() if name != "kind"},
                }
                for m in members
            },
        }
    return out


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "")


def print_registry(family: str | None, *, as_json: bool = False) -> None:
    data = registry_data(family)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    for fam, info in data.items():
        table = Table(title=f"{fam} — {info['description']}", show_lines=False, title_justify="left")
        table.add_column("kind", style="bold cyan")
        table.add_column("field")
        table.add_column("default")
        table.add_column("description")
        for kind, k in info["kinds"].items():
            table.add_row(kind, "", "", escape(k["description"]), style="bold")
            for name, f in k["fields"].items():
                table.add_row("", name, escape(f["default"]), escape(f["description"]))
        console.print(table)
