"""The knowledge directory of the bundled sample world, built once with `xlmk knowledge build` and cached.

The cache key is the hash of the sample's dumps and the builder version, so an edited sample or a
changed builder gets a fresh directory; the build itself resumes if it was interrupted.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from xlmk.sample_world import DATA_DIR, LANGUAGES


def sample_dumps() -> tuple[Path, list[Path]]:
    wikidata = DATA_DIR / "wikidata" / "wikidata-sample-all.json"
    wikipedia = [DATA_DIR / "wikipedia" / f"{lang}wiki-sample-pages-articles.xml" for lang in LANGUAGES]
    return wikidata, wikipedia


def build_sample_knowledge(out: str | Path, *, workers: int = 1, progress=None) -> Path:
    """Build the sample world's knowledge (all seven languages) into `out`; returns `out`."""
    from xlmk.knowledge.build import build_knowledge
    from xlmk.knowledge.options import BuildOptions, WikipediaInput

    wikidata, wikipedia = sample_dumps()
    options = BuildOptions(out=Path(out), wikidata=wikidata, wikipedia=[WikipediaInput(path=p) for p in wikipedia],
                           languages=list(LANGUAGES), workers=workers)
    build_knowledge(options, progress=progress)
    return Path(out)


def sample_knowledge_dir(cache_dir: str | Path | None = None) -> Path:
    """A cached build of the sample world's knowledge, keyed by the dumps' content and the builder version."""
    from xlmk.io import sha256_file
    from xlmk.knowledge.options import BUILDER_VERSION
    from xlmk.modeling import cache_root

    wikidata, wikipedia = sample_dumps()
    h = hashlib.sha256(f"builder-{BUILDER_VERSION}".encode())
    for p in [wikidata, *wikipedia]:
        h.update(sha256_file(p).encode())
    out = cache_root(cache_dir) / "knowledge" / f"sample-{h.hexdigest()[:16]}"
    if not (out / "manifest.json").is_file():
        build_sample_knowledge(out)
    return out
