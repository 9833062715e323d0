"""Malformed input: counted per kind with the first few examples, or an error under `--strict`.

Every problem carries its location (file, line, uncompressed byte offset) so that a user can look at
it with `sed -n LINEp` or `dd skip=`; the build goes on unless it runs strictly.
"""
from __future__ import annotations

from collections import Counter

from xlmk.errors import DataError

MAX_EXAMPLES = 5
SNIPPET_CHARS = 160


def problem(kind: str, path: str, line: int | None, offset: int | None, message: str,
            snippet: bytes | str = b"") -> dict:
    """One malformed record as a plain dict (it crosses process boundaries and lands in JSON)."""
    if isinstance(snippet, bytes):
        snippet = snippet[:SNIPPET_CHARS].decode("utf-8", "replace")
    return {"kind": kind, "path": path, "line": line, "byte_offset": offset, "message": message,
            "snippet": snippet[:SNIPPET_CHARS]}


class MalformedLog:
    """Collects problems from every input; `strict` turns the first into a DataError."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.counts: Counter = Counter()
        self.examples: dict[str, list[dict]] = {}

    def add(self, item: dict) -> None:
        if self.strict:
            raise DataError(f"{item['kind']}: {item['message']}"
                            + (f" (byte {item['byte_offset']})" if item["byte_offset"] is not None else ""),
                            path=item["path"], line=item["line"])
        self.counts[item["kind"]] += 1
        shown = self.examples.setdefault(item["kind"], [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(item)

    def extend(self, items: list[dict]) -> None:
        for item in items:
            self.add(item)

    def merge_counts(self, counts: dict[str, int], examples: dict[str, list[dict]]) -> None:
        """Fold in a summary recorded earlier (a shard finished before a resume)."""
        for kind, n in counts.items():
            self.counts[kind] += n
        for kind, items in examples.items():
            shown = self.examples.setdefault(kind, [])
            shown.extend(items[: MAX_EXAMPLES - len(shown)])

    def summary(self) -> dict:
        return {"total": sum(self.counts.values()), "by_kind": dict(sorted(self.counts.items())),
                "examples": self.examples}
