"""Knowledge directories the builder accepts but a later stage cannot use: each is refused before any
work, with what is missing and the command that produces it, and nothing already built is lost."""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the suite's helpers (importlib mode, no conftest here)
import faults_b_support as S  # noqa: E402
from xlmk.contracts import BUILD_FAILED, check_finished, check_knowledge  # noqa: E402
from xlmk.errors import DataError, XlmkWarning  # noqa: E402


@pytest.fixture(scope="module")
def wikidata_only(tmp_path_factory):
    out = tmp_path_factory.mktemp("wikidata-only") / "k"
    S.build(out)
    return out


def test_wikidata_only_directory_stops_pretraining_before_tokenizing(wikidata_only, tmp_path):
    """Was: ArrowTypeError inside prepare.py, before the "tasks.mep needs mentions" check."""
    from xlmk.pretrain.recipe import PretrainRecipe
    from xlmk.pretrain.stream import prepare_sources

    before = S.tree(wikidata_only)
    recipe = PretrainRecipe.model_validate({
        "name": "t", "data": {"knowledge": {"kind": "knowledge-dir", "path": str(wikidata_only)},
                              "corpus": {"kind": "sample-corpus"}, "cache_dir": str(tmp_path / "cache")}})
    with pytest.raises(DataError) as err:
        prepare_sources(recipe, tokenizer=None)  # the check comes before the tokenizer is ever used
    msg = str(err.value)
    assert "tasks.mep needs mentions" in msg and "--wikipedia" in msg and str(wikidata_only) in msg
    assert not (tmp_path / "cache").exists()  # nothing was prepared
    assert S.tree(wikidata_only) == before


def test_prepare_knowledge_of_a_directory_without_descriptions_does_not_crash(wikidata_only, tmp_path, tiny_model):
    """The ArrowTypeError itself is gone: an empty language set is a typed array."""
    from transformers import AutoTokenizer

    from xlmk.pretrain.prepare import prepare_knowledge

    kp = prepare_knowledge(wikidata_only, AutoTokenizer.from_pretrained(tiny_model), cache_dir=tmp_path)
    assert len(kp.mention) == 0 and len(kp.desc) == 0 and kp.languages == []


def test_probe_xor_on_wikidata_only_names_the_missing_table(wikidata_only):
    """Was: IndexError while drawing queries."""
    from xlmk.probe.run import build_recipe, probe

    recipe = build_recipe("xor-tiny", model="/nonexistent/model/dir", data=str(wikidata_only))
    with pytest.raises(DataError) as err:
        probe(recipe, out_dir=wikidata_only.parent / "probe")  # refused before the (missing) model is loaded
    assert "probe xor (subjects and candidates) needs descriptions" in str(err.value)
    assert "--wikipedia LANG=DUMP" in str(err.value)
    assert not (wikidata_only.parent / "probe").exists()


def test_probe_xep_refuses_a_language_without_mentions(tmp_path):
    from xlmk.probe.run import check_probe_inputs
    from xlmk.probe.specs import ProbeKnowledgeDir, XepProbe

    out = tmp_path / "k"
    S.build(out, wikipedia={"en": S.wikipedia()})
    spec = XepProbe(knowledge=ProbeKnowledgeDir(path=str(out)), languages=["en", "de"])
    with pytest.raises(DataError, match=r"needs mentions in de, .* \(languages with mentions: en\)"):
        check_probe_inputs(spec, out)
    check_probe_inputs(spec.model_copy(update={"languages": ["en"]}), out)  # en alone is fine


def test_redirect_in_a_language_without_titles_builds(tmp_path):
    """Was: ArrowIndexError in resolve.py (a redirect chain looked up in an empty titles table)."""
    pages = [("Foo", "[[Bar]] is here, near [[Baz]].", 0, None), ("Bar", "#REDIRECT [[Baz]]", 0, "Baz")]
    manifest = S.build(tmp_path / "k", wikipedia={"fr": S.wikipedia(pages, lang="fr")})
    assert manifest["links"]["fr"]["resolved"] == 0 and manifest["links"]["fr"]["unresolved"] == 2
    assert not (tmp_path / "k" / BUILD_FAILED).exists()
    check_finished(tmp_path / "k")


def test_failed_build_is_marked_partial_and_refused_until_a_build_finishes(tmp_path, monkeypatch):
    import xlmk.knowledge.resolve as resolve
    from xlmk.knowledge.manifest import knowledge_stats

    def broken(*args, **kwargs):
        raise RuntimeError("resolver exploded")

    monkeypatch.setattr(resolve, "resolve_language", broken)
    out = tmp_path / "k"
    with pytest.raises(RuntimeError):
        S.build(out, wikipedia={"en": S.wikipedia()})
    marker = json.loads((out / BUILD_FAILED).read_text())
    assert marker["error"] == "RuntimeError: resolver exploded"
    titles = (out / "titles" / "part-00000.parquet").read_bytes()  # the finished phase is kept
    for check in (lambda: check_finished(out), lambda: knowledge_stats(out),
                  lambda: check_knowledge(out, {"triples": "tasks.oe"})):
        with pytest.raises(DataError, match="build into this directory failed .RuntimeError: resolver exploded. "
                                            "and left it partial"):
            check()
    monkeypatch.undo()
    S.build(out, wikipedia={"en": S.wikipedia()})  # the same build resumes and finishes
    assert not (out / BUILD_FAILED).exists()
    assert (out / "titles" / "part-00000.parquet").read_bytes() == titles
    assert knowledge_stats(out)["tables"]["mentions"]["rows"] == 10


def test_interrupted_build_is_refused_with_how_to_finish_it(tmp_path):
    out = tmp_path / "k"
    (out / "_work").mkdir(parents=True)
    with pytest.raises(DataError, match="no manifest.json.*interrupted build: run the same `xlmk knowledge build`"):
        check_knowledge(out, {"descriptions": "tasks.oe"})


def test_directory_given_where_a_dump_is_expected(tmp_path):
    """Was: IsADirectoryError."""
    from xlmk.knowledge.build import build_knowledge
    from xlmk.knowledge.options import BuildOptions, WikipediaInput

    (tmp_path / "dump-dir").mkdir()
    with pytest.raises(DataError, match=r"dump-dir: --wikidata: expected a file, got a directory"):
        build_knowledge(BuildOptions(out=tmp_path / "k", wikidata=tmp_path / "dump-dir"))
    wd = tmp_path / "wd.json"
    wd.write_bytes(S.snippets.wikidata_dump())
    with pytest.raises(DataError, match=r"dump-dir: --wikipedia: expected a file, got a directory"):
        build_knowledge(BuildOptions(out=tmp_path / "k", wikidata=wd, wikipedia=[WikipediaInput(path=tmp_path / "dump-dir")]))
    assert not (tmp_path / "k").exists()


def test_knowledge_stats_names_a_corrupt_shard(wikidata_only, tmp_path):
    """Was: ArrowInvalid without a file name."""
    import shutil

    from typer.testing import CliRunner

    from xlmk.cli.main import app

    k = tmp_path / "k"
    shutil.copytree(wikidata_only, k)
    shard = k / "triples" / "part-00000.parquet"
    shard.write_bytes(b"PAR1 this is not a parquet file PAR1")
    res = CliRunner().invoke(app, ["knowledge", "stats", str(k)])
    assert isinstance(res.exception, DataError)
    assert str(res.exception).startswith(f"{shard}: unreadable Parquet shard")
    with pytest.raises(DataError, match="triples/part-00000.parquet: unreadable Parquet shard"):
        check_knowledge(k, {"triples": "tasks.oe"})


def test_a_shard_with_a_wrong_column_type_is_named(wikidata_only, tmp_path):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    k = tmp_path / "k"
    shutil.copytree(wikidata_only, k)
    pq.write_table(pa.table({"subject": [1], "relation": ["P1"], "object": ["Q2"]}), k / "triples" / "part-00000.parquet")
    with pytest.raises(DataError, match="part-00000.parquet: column 'subject' of the triples table has type int64, "
                                        "expected string"):
        check_knowledge(k, {"triples": "tasks.oe"})


def test_empty_wikidata_fails_under_strict_and_warns_otherwise(tmp_path):
    """Was: a "successful" build with 0 rows even under --strict."""
    with pytest.raises(DataError, match=r"latest-all.json: holds no Wikidata entity"):
        S.build(tmp_path / "strict", wikidata=b"", strict=True)
    assert not (tmp_path / "strict" / "manifest.json").exists()
    assert (tmp_path / "strict" / BUILD_FAILED).is_file()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        manifest = S.build(tmp_path / "lenient", wikidata=b"")
    assert any(issubclass(w.category, XlmkWarning) and "holds no Wikidata entity" in str(w.message) for w in seen)
    assert sum(t["rows"] for t in manifest["tables"].values()) == 0
