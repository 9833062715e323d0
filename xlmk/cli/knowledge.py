"""`xlmk knowledge`: build a knowledge directory from Wikipedia and Wikidata dumps, and inspect one."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Build knowledge (titles, mentions, descriptions, triples, relations) from dumps.",
                  no_args_is_help=True)


@app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", help="Knowledge directory to write (a partial one is resumed)."),
    wikidata: Optional[Path] = typer.Option(None, "--wikidata", help="Wikidata JSON dump (latest-all.json[.gz|.bz2])."),
    wikipedia: List[str] = typer.Option(
        [], "--wikipedia", help="pages-articles XML dump, PATH or LANG=PATH; repeat per language."),
    wikiextractor: List[str] = typer.Option(
        [], "--wikiextractor", help="wikiextractor --json --links output, LANG=PATH (file or directory)."),
    languages: Optional[str] = typer.Option(
        None, "--languages", help="Comma-separated languages to build (default: those of the inputs)."),
    index: List[str] = typer.Option(
        [], "--index", help="Multistream index of a --wikipedia dump, LANG=PATH (default: found beside the dump)."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Worker processes (or CPUs of a local Ray)."),
    shard: Optional[str] = typer.Option(
        None, "--shard", help="I/N: run only shard task group I of N (a job array); then `xlmk knowledge merge OUT`."),
    engine: str = typer.Option("process", "--engine", help="process (a pool here) or ray (pip install 'xlmk\\[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="A running Ray cluster (default: a local Ray)."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first malformed record."),
    description_chars: int = typer.Option(2000, "--description-chars", help="Most characters per description."),
    max_redirect_hops: int = typer.Option(5, "--max-redirect-hops", help="Redirects followed per link."),
    shard_mb: float = typer.Option(64, "--shard-mb", help="Uncompressed MiB per shard (one range of a dump)."),
    wikipedia_shard_pages: int = typer.Option(
        2_000, "--wikipedia-shard-pages", help="Pages per shard of a multistream dump."),
    keep_work: bool = typer.Option(False, "--keep-work", help="Keep the intermediate work shards under _work/."),
    fresh: bool = typer.Option(False, "--fresh", help="Discard a partial or finished build of other inputs in OUT."),
) -> None:
    """Build (or resume) a knowledge directory; prints the counts when done."""
    from xlmk.knowledge.build import build_knowledge
    from xlmk.knowledge.engines import ENGINES
    from xlmk.knowledge.options import BuildOptions, WikipediaInput

    if engine not in ENGINES:
        raise typer.BadParameter(f"{engine!r}; choose one of {', '.join(ENGINES)}", param_hint="--engine")

    inputs = [WikipediaInput.parse(s) for s in wikipedia]
    inputs += [WikipediaInput.parse(s, format="wikiextractor") for s in wikiextractor]
    inputs = _with_indexes(inputs, index)
    options = BuildOptions(
        out=out, wikidata=wikidata, wikipedia=inputs, workers=workers, strict=strict, shard=shard,
        engine=engine, ray_address=ray_address,
        languages=[x.strip() for x in languages.split(",") if x.strip()] if languages else None,
        description_chars=description_chars, max_redirect_hops=max_redirect_hops,
        shard_bytes=int(shard_mb * (1 << 20)), wikipedia_shard_pages=wikipedia_shard_pages,
        keep_work=keep_work, fresh=fresh,
    )
    manifest = build_knowledge(options)
    if shard is not None:
        missing = manifest["missing"]
        typer.echo(f"shard group {shard}: {manifest['shards_read']} shards read, {manifest['shards_skipped']} "
                   f"already done; {len(missing)} shard(s) of other groups still missing"
                   + ("" if missing else f"; now run `xlmk knowledge merge {out}`"))
        return
    _print_counts({t: {"rows": i["rows"], "by_lang": i.get("by_lang")} for t, i in manifest["tables"].items()},
                  manifest["links"], manifest["malformed"]["by_kind"])
    typer.echo(f"wrote {out}")


def _with_indexes(inputs: list, specs: List[str]) -> list:
    """Attach `--index LANG=PATH` to the Wikipedia input of that language (or the only one)."""
    from xlmk.errors import XlmkError

    for spec in specs:
        lang, sep, path = spec.partition("=")
        matches = [i for i in inputs if sep and i.lang == lang] or ([inputs[0]] if not sep and len(inputs) == 1 else [])
        if len(matches) != 1:
            raise XlmkError(f"--index {spec}: give LANG=PATH naming the language of one --wikipedia LANG=PATH")
        k = inputs.index(matches[0])
        inputs[k] = matches[0].model_copy(update={"index": Path(path if sep else lang)})
    return inputs


@app.command("merge")
def merge(
    out: Path = typer.Argument(..., help="The --out of shard tasks run with --shard I/N."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Worker processes for the resolution."),
    engine: str = typer.Option("process", "--engine", help="process or ray."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="A running Ray cluster."),
    keep_work: bool = typer.Option(False, "--keep-work", help="Keep the intermediate work shards."),
) -> None:
    """Finish a directory built by `--shard I/N` tasks (titles, link resolution, manifest); names the
    shard tasks still missing otherwise."""
    from xlmk.knowledge.build import merge_knowledge

    manifest = merge_knowledge(out, workers=workers, engine=engine, ray_address=ray_address, keep_work=keep_work)
    _print_counts({t: {"rows": i["rows"], "by_lang": i.get("by_lang")} for t, i in manifest["tables"].items()},
                  manifest["links"], manifest["malformed"]["by_kind"])
    typer.echo(f"wrote {out}")


@app.command("stats")
def stats(
    kdir: Path = typer.Argument(..., help="A knowledge directory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Counts per table and language from the manifest, after checking that every shard is there."""
    from xlmk.knowledge.manifest import knowledge_stats

    info = knowledge_stats(kdir)
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    _print_counts(info["tables"], info["links"], info["malformed"])


def _print_counts(tables: dict, links: dict, malformed: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    langs = sorted({lang for t in tables.values() for lang in (t.get("by_lang") or {})} | set(links))
    grid = Table(title="knowledge")
    grid.add_column("table")
    grid.add_column("rows", justify="right")
    for lang in langs:
        grid.add_column(lang, justify="right")
    for name, info in tables.items():
        by_lang = info.get("by_lang") or {}
        grid.add_row(name, f"{info['rows']:,}", *[f"{by_lang[x]:,}" if x in by_lang else "" for x in langs])
    for kind in ("resolved", "unresolved"):
        grid.add_row(f"links {kind}", f"{sum(v[kind] for v in links.values()):,}",
                     *[f"{links[x][kind]:,}" if x in links else "" for x in langs])
    console.print(grid)
    if malformed:
        console.print("malformed records skipped: " + ", ".join(f"{k} {v:,}" for k, v in malformed.items()))
