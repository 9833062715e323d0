"""A build killed part-way restarts where it stopped and ends identical to an uninterrupted one."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import snippets
from xlmk.knowledge.build import EXIT_AFTER_ENV, build_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput

SCRIPT = ("import sys; from xlmk.knowledge.build import build_knowledge; "
          "from xlmk.knowledge.options import BuildOptions; "
          "build_knowledge(BuildOptions.model_validate_json(sys.argv[1]))")


def options(out, wd, en, pages=2, **kw):
    return BuildOptions(out=out, wikidata=wd, wikipedia=[WikipediaInput(path=en)],
                        wikidata_shard_lines=3, wikipedia_shard_pages=pages, **kw)


def start(opts, env=None):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, opts.model_dump_json()],
                            env={**os.environ, **(env or {})}, stderr=subprocess.PIPE)


def shards(kdir):
    return {str(p.relative_to(kdir)): p.read_bytes() for p in sorted(kdir.rglob("*.parquet"))}


@pytest.fixture()
def reference(tmp_path, dumps):
    wd, en = dumps()
    build_knowledge(options(tmp_path / "ref", wd, en))
    return wd, en, shards(tmp_path / "ref"), json.loads((tmp_path / "ref" / "manifest.json").read_text())


@pytest.mark.parametrize("exit_after", [1, 4, 8])
def test_crash_after_some_shards_then_resume(tmp_path, reference, exit_after):
    wd, en, ref_shards, ref_manifest = reference
    out = tmp_path / "k"
    proc = start(options(out, wd, en), {EXIT_AFTER_ENV: str(exit_after)})
    assert proc.wait(timeout=60) == 75, proc.stderr.read().decode()
    assert not (out / "manifest.json").exists()
    markers = list((out / "_work").rglob("done-*.json")) + list((out / "_work").rglob("resolved-*.json"))
    assert len(markers) == exit_after
    m = build_knowledge(options(out, wd, en, workers=2))
    assert m["resume"]["shards_skipped"] == exit_after
    assert shards(out) == ref_shards
    for key in ("tables", "links", "wikidata", "wikipedia", "malformed", "inputs", "fingerprint"):
        assert m[key] == ref_manifest[key], key


def test_sigkill_mid_build_then_resume(tmp_path, dumps):
    pages = snippets.ENWIKI_PAGES + [(f"Filler {i}", f"About [[Human]]s, part {i}. {{{{cite|[[X]]}}}}", 0, None)
                                     for i in range(400)]
    wd, en = dumps(enwiki=snippets.wikipedia_dump(pages))
    build_knowledge(options(tmp_path / "ref", wd, en, pages=20))
    out = tmp_path / "k"
    proc = start(options(out, wd, en, pages=20))
    work = out / "_work" / "wiki" / "en"
    deadline = time.time() + 60
    while not list(work.glob("done-0000[3-9].json")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "manifest.json").exists(), "the build finished before it could be killed"
    m = build_knowledge(options(out, wd, en, pages=20))
    assert m["resume"]["shards_skipped"] >= 4
    assert shards(out) == shards(tmp_path / "ref")
    assert not list(out.rglob(".*.tmp"))
