"""`--engine ray` on a local Ray with 2 CPUs: the same directory as the process pool, a task lost with
its worker is retried, and a task failing twice stops the build with its range, keeping finished shards."""
import pytest

import snippets
from xlmk.errors import XlmkError
from xlmk.knowledge.build import build_knowledge
from xlmk.knowledge.options import BuildOptions, WikipediaInput
from xlmk.knowledge.tasks import FAULT_ENV

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow  # a local Ray takes ~6 s to start


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def tree(kdir):
    return {str(p.relative_to(kdir)): p.read_bytes() for p in sorted(kdir.rglob("*"))
            if p.is_file() and "_work" not in p.relative_to(kdir).parts}


def opts(out, wd, en, **kw):
    return BuildOptions(out=out, wikidata=wd, wikipedia=[WikipediaInput(path=en)], shard_bytes=1500, **kw)


@pytest.fixture()
def inputs(dumps):
    pages = snippets.ENWIKI_PAGES + [(f"Filler {i}", f"Page {i} on [[Human]]s.", 0, None) for i in range(20)]
    return dumps("bz2", enwiki=snippets.wikipedia_dump(pages))


def test_ray_engine_gives_the_process_pool_directory_and_retries_a_lost_worker(tmp_path, inputs, monkeypatch):
    wd, en = inputs
    build_knowledge(opts(tmp_path / "pool", wd, en))
    monkeypatch.setenv(FAULT_ENV, "wiki/en/00001:die:1")  # the worker process dies the first time
    m = build_knowledge(opts(tmp_path / "ray", wd, en, engine="ray", workers=2))
    assert (tmp_path / "ray" / "_work" / "faults" / "wiki-en-00001").read_text() == "xx"  # ran twice
    assert m["run"]["engine"] == "ray" and "wiki/en/00001" in m["run"]["read"]
    assert tree(tmp_path / "ray") == tree(tmp_path / "pool")


def test_a_shard_failing_twice_stops_the_build_and_finished_shards_stay(tmp_path, inputs, monkeypatch):
    wd, en = inputs
    out = tmp_path / "k"
    monkeypatch.setenv(FAULT_ENV, "wiki/en/00002:raise:2")
    with pytest.raises(XlmkError) as err:
        build_knowledge(opts(out, wd, en, engine="ray"))
    msg = str(err.value)
    assert "wiki/en/00002 (range 3000-4500 of" in msg and str(en) in msg and "injected fault" in msg
    done = {p.name for p in (out / "_work" / "wiki" / "en").glob("done-*.json")}
    assert {"done-00000.json", "done-00001.json"} <= done and "done-00002.json" not in done
    monkeypatch.delenv(FAULT_ENV)
    m = build_knowledge(opts(out, wd, en, engine="ray"))
    assert "wiki/en/00002" in m["run"]["read"] and "wiki/en/00000" not in m["run"]["read"]


def test_sample_world_on_ray_is_the_cached_pool_build(tmp_path):
    from xlmk.sample_world import LANGUAGES
    from xlmk.sample_world.knowledge import sample_dumps, sample_knowledge_dir

    wd, wikis = sample_dumps()
    m = build_knowledge(BuildOptions(out=tmp_path / "ray", wikidata=wd, engine="ray", languages=list(LANGUAGES),
                                     wikipedia=[WikipediaInput(path=p) for p in wikis]))
    assert m["run"]["engine"] == "ray" and len(m["run"]["read"]) == 1 + len(wikis)
    assert tree(tmp_path / "ray") == tree(sample_knowledge_dir())
