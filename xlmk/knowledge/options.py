"""Options of a knowledge build, shared by the CLI and the Python API."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from xlmk.config import StrictModel

BUILDER_VERSION = 1  # bump when any output of the same input and options changes


class WikipediaInput(StrictModel):
    """One Wikipedia language: a pages-articles XML dump, or a wikiextractor output (file or dir)."""

    path: Path = Field(description="The dump (plain, .gz or .bz2) or wikiextractor output.")
    lang: str | None = Field(None, description="Language code; read from siteinfo/dbname when omitted.")
    format: Literal["xml", "wikiextractor"] = Field("xml", description="Input layout.")

    @classmethod
    def parse(cls, spec: str, format: str = "xml") -> "WikipediaInput":
        """`PATH` or `LANG=PATH` (the language is required for wikiextractor output)."""
        lang, sep, path = spec.partition("=")
        if sep and lang and "/" not in lang:
            return cls(path=Path(path), lang=lang, format=format)
        return cls(path=Path(spec), format=format)


class BuildOptions(StrictModel):
    """Everything `build_knowledge` needs; every field is a `xlmk knowledge build` option."""

    out: Path = Field(description="Knowledge directory to write (created; resumed when partial).")
    wikidata: Path | None = Field(None, description="Wikidata JSON dump (latest-all.json[.gz|.bz2]).")
    wikipedia: list[WikipediaInput] = Field(default_factory=list, description="Wikipedia inputs, one per language.")
    languages: list[str] | None = Field(
        None, description="Languages to build (titles and Wikipedia inputs); default: those of the inputs, "
        "or every Wikipedia when only Wikidata is given.")
    workers: int = Field(1, ge=1, description="Worker processes for parsing.")
    strict: bool = Field(False, description="Stop at the first malformed record instead of counting it.")
    wikidata_shard_lines: int = Field(50_000, ge=1, description="Dump lines per Wikidata shard.")
    wikipedia_shard_pages: int = Field(2_000, ge=1, description="Pages per Wikipedia shard.")
    shard_bytes: int = Field(64 << 20, ge=1024, description="Uncompressed bytes that also close a shard.")
    description_chars: int = Field(
        2000, ge=1, description="Most characters kept per description (256 XLM-R tokens need ~1000-1500).")
    max_redirect_hops: int = Field(5, ge=1, description="Redirects followed when resolving a link.")
    resolve_batch_links: int = Field(2_000_000, ge=1, description="Links resolved per hash-table build.")
    keep_work: bool = Field(False, description="Keep the intermediate _work/ directory after success.")
    fresh: bool = Field(False, description="Discard a partial build of other inputs or options in `out`.")

    def fingerprint_fields(self) -> dict:
        """The options that change the output (not workers, batching, strict or keep_work)."""
        return self.model_dump(mode="json", include={
            "languages", "wikidata_shard_lines", "wikipedia_shard_pages", "shard_bytes",
            "description_chars", "max_redirect_hops"})
