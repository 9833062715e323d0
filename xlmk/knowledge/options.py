"""Options of a knowledge build, shared by the CLI and the Python API."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from xlmk.config import StrictModel

BUILDER_VERSION = 2  # bump when any output of the same input and options changes


class WikipediaInput(StrictModel):
    """One Wikipedia language: a pages-articles XML dump, or a wikiextractor output (file or dir)."""

    path: Path = Field(description="The dump (plain, .gz or .bz2) or wikiextractor output.")
    lang: str | None = Field(None, description="Language code; read from siteinfo/dbname when omitted.")
    format: Literal["xml", "wikiextractor"] = Field("xml", description="Input layout.")
    index: Path | None = Field(
        None, description="Multistream index (`…-multistream-index.txt.bz2`); found beside the dump when omitted.")

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
    workers: int = Field(1, ge=1, description="Worker processes (or Ray CPUs of a local Ray) for the shard tasks.")
    engine: Literal["process", "ray"] = Field(
        "process", description="Where shard tasks run: a process pool here, or Ray (pip install 'xlmk[ray]').")
    ray_address: str | None = Field(None, description="Address of a running Ray cluster (default: start a local one).")
    shard: str | None = Field(
        None, pattern=r"^\d+/\d+$", description="`I/N`: run only shard task group I of N (a job array); "
        "finish with `xlmk knowledge merge OUT` once every group is done.")
    strict: bool = Field(False, description="Stop at the first malformed record instead of counting it.")
    shard_bytes: int = Field(64 << 20, ge=256, description="Uncompressed bytes per shard (one range of a dump).")
    wikipedia_shard_pages: int = Field(
        2_000, ge=1, description="Pages per shard of a multistream dump (whole bz2 streams of ~100 pages).")
    description_chars: int = Field(
        2000, ge=1, description="Most characters kept per description (256 XLM-R tokens need ~1000-1500).")
    max_redirect_hops: int = Field(5, ge=1, description="Redirects followed when resolving a link.")
    resolve_batch_links: int = Field(2_000_000, ge=1, description="Links resolved per hash-table build.")
    keep_work: bool = Field(False, description="Keep the intermediate _work/ directory after success.")
    fresh: bool = Field(False, description="Discard a partial build of other inputs or options in `out`.")

    def fingerprint_fields(self) -> dict:
        """The options that change the shards (not languages, which only filter titles; not workers,
        engine, shard, batching, strict or keep_work)."""
        return self.model_dump(mode="json", include={
            "wikipedia_shard_pages", "shard_bytes", "description_chars", "max_redirect_hops"})

    def shard_of(self) -> tuple[int, int] | None:
        """(I, N) of `--shard I/N`, checked."""
        if self.shard is None:
            return None
        i, n = (int(x) for x in self.shard.split("/"))
        if not 0 <= i < n:
            from xlmk.errors import XlmkError

            raise XlmkError(f"--shard {self.shard}: I must be in 0..N-1")
        return i, n
