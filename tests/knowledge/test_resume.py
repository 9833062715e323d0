"""A build killed part-way restarts where it stopped, without reading finished ranges again, and ends
identical to an uninterrupted one."""
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


def options(out, wd, en, shard_bytes=512, **kw):
    return BuildOptions(out=out, wikidata=wd, wikipedia=[WikipediaInput(path=en)], shard_bytes=shard_bytes, **kw)


def start(opts, env=None):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, opts.model_dump_json()],
                            env={**os.environ, **(env or {})}, stderr=subprocess.PIPE)


def shards(kdir):
    return {str(p.relative_to(kdir)): p.read_bytes() for p in sorted(kdir.rglob("*.parquet"))
            if "_work" not in p.parts}


def done_ids(out):
    return {json.loads(p.read_text())["id"] for p in (out / "_work").rglob("done-*.json")}


@pytest.fixture()
def reference(tmp_path, dumps):
    wd, en = dumps()
    build_knowledge(options(tmp_path / "ref", wd, en))
    return wd, en, shards(tmp_path / "ref"), (tmp_path / "ref" / "manifest.json").read_bytes()


@pytest.mark.parametrize("exit_after", [1, 4, 8])
def test_crash_after_some_shards_then_resume(tmp_path, reference, exit_after):
    wd, en, ref_shards, ref_manifest = reference
    out = tmp_path / "k"
    proc = start(options(out, wd, en), {EXIT_AFTER_ENV: str(exit_after)})
    assert proc.wait(timeout=60) == 75, proc.stderr.read().decode()
    assert not (out / "manifest.json").exists()
    markers = list((out / "_work").rglob("done-*.json")) + list((out / "_work").rglob("resolved-*.json"))
    assert len(markers) == exit_after
    before = done_ids(out)
    m = build_knowledge(options(out, wd, en, workers=2))
    assert m["run"]["shards_skipped"] == exit_after
    assert not before & set(m["run"]["read"])  # finished ranges were not read again
    assert shards(out) == ref_shards
    assert (out / "manifest.json").read_bytes() == ref_manifest


def test_sigkill_mid_build_then_resume(tmp_path, dumps):
    pages = snippets.ENWIKI_PAGES + [(f"Filler {i}", f"About [[Human]]s, part {i}. {{{{cite|[[X]]}}}}", 0, None)
                                     for i in range(400)]
    wd, en = dumps("bz2", enwiki=snippets.wikipedia_dump(pages))
    build_knowledge(options(tmp_path / "ref", wd, en, shard_bytes=2048))
    out = tmp_path / "k"
    proc = start(options(out, wd, en, shard_bytes=2048))
    work = out / "_work" / "wiki" / "en"
    deadline = time.time() + 60
    while not list(work.glob("done-0000[3-9].json")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "manifest.json").exists(), "the build finished before it could be killed"
    before = done_ids(out)
    m = build_knowledge(options(out, wd, en, shard_bytes=2048))
    assert len(before) >= 4 and not before & set(m["run"]["read"])
    assert len(before) + len(m["run"]["read"]) == sum(1 for _ in (out / "_work").rglob("done-*.json"))
    assert shards(out) == shards(tmp_path / "ref")
    assert (out / "manifest.json").read_bytes() == (tmp_path / "ref" / "manifest.json").read_bytes()
    assert not list(out.rglob(".*.tmp"))
