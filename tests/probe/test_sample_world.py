"""`xlmk probe` on the bundled sample world with the shared tiny model (the `*-tiny` recipes' data)."""
import importlib.util

import pytest
from typer.testing import CliRunner

from xlmk.cli.main import app
from xlmk.results import read_rows

runner = CliRunner()


def _invoke(*args):
    result = runner.invoke(app, ["probe", *args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def test_lama_tiny_on_the_sample_world(tiny_model, sample_world, tmp_path):
    result = _invoke("lama", "--recipe", "lama-tiny", "--model", str(tiny_model), "--out", str(tmp_path / "lama"))
    assert "T-REx" in result.output and "N-M" in result.output
    rows = read_rows([tmp_path / "lama"])
    total = next(r for r in rows if r.subset == "TREx/Total" and r.metric == "p@1")
    relations = [r for r in rows if r.extra.get("level") == "relation" and r.metric == "p@1"]
    assert total.extra["n_relations"] == len(relations) > 0
    assert total.value == pytest.approx(sum(r.value for r in relations) / len(relations))
    # every sample-world fact is read, and kept or dropped with a reason
    import json

    cov = json.loads(next((tmp_path / "lama").glob("coverage-*.json")).read_text())["total"]
    n_lines = sum(1 for p in (sample_world / "lama" / "TREx").glob("*.jsonl") for line in open(p, encoding="utf-8") if line.strip())
    assert cov["read"] == n_lines and cov["kept"] + sum(cov["dropped"].values()) == n_lines
    assert cov["kept"] == sum(r.n for r in relations)


def test_mlama_tiny_on_the_sample_world(tiny_model, tmp_path):
    _invoke("mlama", "--recipe", "mlama-tiny", "--model", str(tiny_model), "--languages", "en,zh", "--out", str(tmp_path / "m"),
            "--set", "probe.max_facts_per_relation=2")
    rows = read_rows([tmp_path / "m"])
    totals = {r.language: r for r in rows if r.subset == "mLAMA/Total" and r.metric == "p@1"}
    assert set(totals) == {"en", "zh"} and all(0 <= r.value <= 100 for r in totals.values())
    assert all(r.extra["coverage"]["kept"] > 0 for r in rows if r.extra.get("level") == "relation")


@pytest.fixture(scope="module")
def sample_knowledge_args(sample_world, tmp_path_factory):
    """No --data when the sample world ships its knowledge builder (the *-tiny recipes' default), else a
    knowledge directory built from the sample world's dumps with `xlmk knowledge build`."""
    if importlib.util.find_spec("xlmk.sample_world.knowledge") is not None:
        return []
    out = tmp_path_factory.mktemp("sample-knowledge") / "k"
    args = ["knowledge", "build", "--out", str(out), "--wikidata", str(sample_world / "wikidata" / "wikidata-sample-all.json")]
    for xml in sorted((sample_world / "wikipedia").glob("*wiki-sample-pages-articles.xml")):
        args += ["--wikipedia", f"{xml.name.split('wiki-')[0]}={xml}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return ["--data", str(out)]


@pytest.mark.parametrize("kind", ["xep", "xor"])
def test_xep_xor_tiny_on_the_sample_world(kind, tiny_model, sample_knowledge_args, xlmk_cache, tmp_path):
    result = runner.invoke(app, ["probe", kind, "--recipe", f"{kind}-tiny", "--model", str(tiny_model), "--out", str(tmp_path / kind),
                                 "--languages", "en,de,zh", *sample_knowledge_args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert "XEP / XOR accuracy" in result.output
    rows = read_rows([tmp_path / kind])
    avg = next(r for r in rows if r.language is None and r.metric == "accuracy")
    assert avg.protocol == "raw-states" and avg.extra["n_languages"] == 3 and 0 <= avg.value <= 100
    per_lang = [r for r in rows if r.language and r.metric == "accuracy"]
    # held-out rows only (the default split): fewer than the 50 asked for in the sample world
    assert {r.language for r in per_lang} == {"en", "de", "zh"} and all(0 < r.n <= 50 for r in per_lang)
    assert {r.split for r in rows} == {"heldout"}
    assert avg.extra["n_candidates"] == 512
