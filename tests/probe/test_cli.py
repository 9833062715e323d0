"""`xlmk probe lama|mlama|xep|xor` end to end on tiny models, and every shipped probe recipe."""
import json

import pytest
from typer.testing import CliRunner

from xlmk.cli.main import app
from xlmk.config import available_recipes, load_recipe
from xlmk.errors import ConfigError
from xlmk.results import read_rows

from probe_support import make_model, make_tokenizer, pin_head, save

runner = CliRunner()


@pytest.fixture(scope="module")
def pinned_dir(tmp_path_factory):
    """On disk, a model that always predicts Madrid, then Columbus."""
    tok = make_tokenizer()
    model = pin_head(make_model(tok), {tok.convert_tokens_to_ids("▁Madrid"): 5.0, tok.convert_tokens_to_ids("▁Columbus"): 4.0})
    return save(model, tok, tmp_path_factory.mktemp("pinned"))


def test_every_probe_recipe_validates():
    names = available_recipes("probe")
    assert {"lama", "mlama", "xep", "xor", "lama-tiny", "mlama-tiny", "xep-tiny", "xor-tiny"} <= set(names)
    for name in names:
        recipe = load_recipe("probe", name)
        assert recipe.name == name and recipe.probe.kind in name
    assert load_recipe("probe", "xep").probe.candidates == 32768  # the paper's N
    with pytest.raises(ConfigError, match="did you mean 'corpora'"):
        load_recipe("probe", "lama", ["probe.corpra=[TREx]"])


def test_probe_lama_on_real_lama_data(pinned_dir, realdata, tmp_path):
    lama = realdata / "lama"
    out = tmp_path / "run"
    result = runner.invoke(app, ["probe", "lama", "--model", str(pinned_dir), "--data", str(lama), "--out", str(out),
                                 "--set", f"probe.relations_file={lama / 'TREx-relations.46.xfactr.jsonl'}"])
    assert result.exit_code == 0, result.output
    # the paper's Table 5 layout, with the model as a column
    for text in ("Google-RE", "birth-place", "death-place", "T-REx", "N-1", "ConceptNet", "SQuAD", "Total", pinned_dir.name):
        assert text in result.output
    assert "coverage: 30 read" in result.output
    rows = read_rows([out])
    by = {(r.subset, r.metric): r for r in rows}
    # Diego de Arroyo died in Madrid; Jacob Henry Studer was born in Columbus (second: P@10, not P@1)
    assert by[("Google_RE/place_of_death", "p@1")].value == 100.0 / by[("Google_RE/place_of_death", "p@1")].n
    assert by[("Google_RE/place_of_birth", "p@1")].value == 0.0 and by[("Google_RE/place_of_birth", "p@10")].value > 0
    total = by[("Google_RE/Total", "p@1")]
    assert total.value == pytest.approx((by[("Google_RE/place_of_death", "p@1")].value + 0.0) / 2)
    assert all(r.model_hash and r.data_hash and r.xlmk_version and r.seed == 0 and r.version >= 1 for r in rows)
    assert {r.model_name for r in rows} == {pinned_dir.name} and {r.model for r in rows} == {str(pinned_dir)}
    cov = json.loads((out / f"coverage-{pinned_dir.name}.json").read_text())
    assert cov["total"]["read"] == 30 and cov["total"]["kept"] + sum(cov["total"]["dropped"].values()) == 30
    assert (out / f"predictions-{pinned_dir.name}.jsonl").read_text().count("\n") == cov["total"]["kept"]
    assert "kind: lama" in (out / f"recipe-{pinned_dir.name}.yaml").read_text()


def test_probe_mlama_on_real_mlama_data(pinned_dir, realdata, tmp_path):
    root = realdata / "m_lama" / "mlama1.1"
    result = runner.invoke(app, ["probe", "mlama", "--model", str(pinned_dir), "--data", str(root), "--languages", "en,de",
                                 "--languages", "zh", "--out", str(tmp_path / "m"),
                                 "--set", 'probe.candidates=["../candidates/TREx_multilingual_objects.{lang}.trimmed.json"]'])
    assert result.exit_code == 0, result.output
    assert "mLAMA" in result.output and "template missing" in result.output
    rows = read_rows([tmp_path / "m"])
    assert {r.language for r in rows if r.subset == "mLAMA/Total"} == {"en", "de", "zh"}
    # Madrid is a P19 candidate in every language and the model always predicts it
    preds = [json.loads(x) for x in (tmp_path / "m" / f"predictions-{pinned_dir.name}.jsonl").read_text().splitlines()]
    assert {p["predictions"][0]["object"] for p in preds if p["language"] == "en"} == {"Madrid"}


def test_probe_xep_and_xor_on_a_knowledge_directory(model_dir, kdir, tmp_path):
    for kind in ("xep", "xor"):
        out = tmp_path / kind
        # eight mentions: none falls in the 2% held-out share, so this probe scores every row, flagged
        result = runner.invoke(app, ["probe", kind, "--model", str(model_dir), "--data", str(kdir), "--out", str(out),
                                     "--split", "all",
                                     "--set", "probe.candidates=100", "--set", f"run.cache_dir={tmp_path / 'cache'}"])
        assert result.exit_code == 0, result.output
        assert "XEP / XOR accuracy" in result.output and "raw" in result.output and "split: all" in result.output
        rows = read_rows([out])
        assert {r.name for r in rows} == {kind} and {r.protocol for r in rows} == {"raw-states"}
        assert {r.split for r in rows} == {"all"} and {r.version for r in rows} == {2}
        assert any(r.language is None and r.metric == "accuracy" for r in rows)
        # the default split is the held-out one; with a share that holds rows out, only those are queries
        held = tmp_path / f"{kind}-held"
        result = runner.invoke(app, ["probe", kind, "--model", str(model_dir), "--data", str(kdir), "--out", str(held),
                                     "--set", "probe.heldout=0.45", "--set", "probe.heldout_entities=0.0",
                                     "--set", "probe.candidates=100", "--set", f"run.cache_dir={tmp_path / 'cache'}"])
        assert result.exit_code == 0, result.output
        rows = read_rows([held])
        assert {r.split for r in rows} == {"heldout"} and "split: heldout" in result.output
        n_all = sum(r.n for r in read_rows([out]) if r.language and r.metric == "accuracy")
        assert 0 < sum(r.n for r in rows if r.language and r.metric == "accuracy") < n_all


def test_cli_errors_name_the_problem(tmp_path):
    from xlmk.probe.run import build_recipe

    with pytest.raises(ConfigError, match="LAMA is English only"):
        build_recipe("lama", languages=["de"])
    result = runner.invoke(app, ["probe", "lama", "--recipe", "xep", "--model", "m"])
    assert isinstance(result.exception, ConfigError) and "use `xlmk probe xep`" in str(result.exception)
    result = runner.invoke(app, ["probe", "lama", "--model", str(tmp_path), "--data", str(tmp_path / "none")])
    assert isinstance(result.exception, ConfigError) and "is not a directory" in str(result.exception)


def test_custom_probe_writes_rows(model_dir, tmp_path):
    from xlmk.probe.recipe import ProbeRecipe
    from xlmk.probe.run import probe

    rec = ProbeRecipe(name="vocab", encoder={"kind": "hf-masked-lm", "path": str(model_dir)},
                      probe={"kind": "custom", "target": "probe_support:vocabulary_probe", "options": {"min_length": 3}, "version": 4})
    res = probe(rec, out_dir=tmp_path / "c", trust_custom_code=True)
    (row,) = read_rows([tmp_path / "c"])
    assert row.name == "vocab" and row.version == 4 and row.metric == "long-pieces" and row.subset == "vocabulary"
    assert 0 < row.value < 100 and row.protocol == "custom:probe_support:vocabulary_probe" and res.rows[0].value == row.value
    with pytest.raises(ConfigError, match="has no attribute 'nope'"):
        probe(rec.model_copy(update={"probe": rec.probe.model_copy(update={"target": "probe_support:nope"})}), out_dir=tmp_path / "d",
              trust_custom_code=True)


def test_build_recipe_keeps_encoder_settings_and_labels_checkpoints():
    from xlmk.probe.run import build_recipe, default_label

    rec = build_recipe("lama", model="runs/x/final", overrides=["encoder.attn_implementation=eager"])
    assert rec.encoder.path == "runs/x/final" and rec.encoder.attn_implementation == "eager"
    assert build_recipe("lama-tiny", model="m").encoder.kind == "hf-masked-lm"
    assert default_label("runs/pretrain/xlmk/final") == "xlmk/final" and default_label("ckpts/xlmk-base") == "xlmk-base"
    rec = build_recipe("xep", data="kd", languages=["en,de", "zh"])
    assert rec.probe.knowledge.path == "kd" and rec.probe.languages == ["en", "de", "zh"]
