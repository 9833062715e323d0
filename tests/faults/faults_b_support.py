"""Inputs for the stage-contract, checkpoint, recipe-edge and path fault tests: real knowledge builds of
small dumps, a tiny model, a pre-training recipe that trains in seconds, and a full-disk write shim.

Kept outside a conftest so that other fault suites in this folder are unaffected.
"""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent / "knowledge", HERE.parent / "pretrain"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import pretrain_helpers as H  # noqa: E402
import snippets  # noqa: E402


def build(out: Path, *, wikidata: bytes | None = None, wikipedia: dict[str, bytes] | None = None, **options):
    """`build_knowledge` of the given dump bytes (default: the snippet Wikidata dump, no Wikipedia)."""
    from xlmk.knowledge.build import build_knowledge
    from xlmk.knowledge.options import BuildOptions, WikipediaInput

    inputs = out.parent / f"{out.name}-dumps"
    inputs.mkdir(parents=True, exist_ok=True)
    wd = _write(inputs / "latest-all.json", snippets.wikidata_dump() if wikidata is None else wikidata)
    pages = [WikipediaInput(path=_write(inputs / f"{lang}wiki-pages-articles.xml", data))
             for lang, data in (wikipedia or {}).items()]
    return build_knowledge(BuildOptions(out=out, wikidata=wd, wikipedia=pages, **options))


def _write(path: Path, data: bytes) -> Path:
    """Write unless already there: a rewritten dump has a new mtime, and a build would not resume."""
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def wikipedia(pages=None, lang: str = "en") -> bytes:
    return snippets.wikipedia_dump(snippets.ENWIKI_PAGES if pages is None else pages, lang=lang)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below `root` by relative path (to show that nothing was changed or lost)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tiny_world(root: Path) -> tuple[Path, Path, Path]:
    """(knowledge dir, corpus dir, tiny model dir) of the synthetic pre-training world."""
    kdir = H.write_knowledge(root / "knowledge")
    corpus = H.write_corpus(root / "corpus")
    model = H.write_tiny_model(root / "model", H.world_texts(kdir, corpus))
    return kdir, corpus, model


def pretrain_recipe(model: Path, kdir: Path, corpus: Path, cache: Path, out: Path, **run) -> dict:
    data = H.recipe_dict(model, kdir, corpus, cache, out)
    data["run"].update(run)
    return data


def enospc(*args, **kwargs):
    """A write shim for monkeypatch: every call fails as a full disk does."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def mount_small_tmpfs(where: Path, size: str = "256k") -> bool:
    """Mount a tiny tmpfs at `where` (root on Linux only); False when the platform does not allow it."""
    import shutil
    import subprocess

    if os.name != "posix" or not shutil.which("mount") or os.geteuid() != 0:
        return False
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return res.returncode == 0


def unmount(where: Path) -> None:
    import subprocess

    # lazy: a file a failed writer still holds open must not keep the mount alive after the test
    subprocess.run(["umount", "-l", str(where)], capture_output=True)
