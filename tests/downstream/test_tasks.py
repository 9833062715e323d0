"""Task plumbing: the shipped recipes carry the paper's settings, the HF `xnli` layout, a task of
one's own through `kind: custom`, and where each task looks for its files."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xlmk.config import load_recipe
from xlmk.downstream.run import finetune, score
from xlmk.downstream.specs import MlqaSpec, NerSpec, PanxSpec, XnliSpec
from xlmk.errors import ConfigError, DataError
from xlmk.results import read_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))

PAPER = {"xnli": (10, 5e-6, 32), "mlqa": (2, 3e-5, 12), "ner-xglue": (20, 5e-6, 32), "panx": (20, 5e-6, 32)}


@pytest.mark.parametrize("name", list(PAPER))
def test_recipes_carry_the_papers_settings_and_tiny_twins_exist(name):
    r = load_recipe("finetune", name)
    epochs, lr, batch = PAPER[name]
    assert (r.optim.epochs, r.optim.lr, r.optim.batch_size) == (epochs, pytest.approx(lr), batch)
    assert r.seeds == [1, 2, 3, 4] and r.selection.primary == "xglue-avg-dev"
    assert set(r.selection.protocols) == {"xglue-avg-dev", "xtreme-en-dev"} and r.optim.warmup_ratio > 0
    assert r.encoder.path == "xlm-roberta-base"
    assert r.task.max_length == (384 if name == "mlqa" else 256)
    tiny = load_recipe("finetune", f"{name}-tiny")
    assert tiny.task.kind == r.task.kind and tiny.encoder.kind == "init" and tiny.task.data_dir == "sample-world"
    assert tiny.optim.epochs == 1 and tiny.seeds == [1]


def test_recipe_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"unknown key 'task.doc_strid'.*did you mean 'doc_stride'"):
        load_recipe("finetune", "mlqa", ["task.doc_strid=64"])
    with pytest.raises(ConfigError, match="must exceed doc_stride"):
        load_recipe("finetune", "mlqa", ["task.max_length=128", "task.doc_stride=100"])
    with pytest.raises(ConfigError, match="selection.primary 'xtreme-en-dev' is not in selection.protocols"):
        load_recipe("finetune", "xnli", ["selection.protocols=[xglue-avg-dev]", "selection.primary=xtreme-en-dev"])


def test_tasks_find_their_files_in_bundle_roots(realdata):
    xnli = XnliSpec(data_dir=str(realdata)).build()  # realdata/xnli/XNLI-1.0/...
    assert xnli.layout() == "original" and len(xnli.languages()) == 15
    xg = XnliSpec(data_dir=str(realdata / "xnli" / "xglue_format")).build()
    assert xg.layout() == "xglue"
    assert xg.path("dev", "sw").name == "sw.dev" and xg.check_train().name == "multinli.train.en.tsv"
    mlqa = MlqaSpec(data_dir=str(realdata / "mlqa" / "xglue_subset")).build()
    assert mlqa.languages() == ["en", "es", "de", "ar", "hi", "vi", "zh"]
    with pytest.raises(DataError, match="no mlqa training data for 'en'"):
        mlqa.check_train()
    assert PanxSpec(data_dir=str(realdata)).build().languages() == ["en", "ar", "de", "es", "nl", "zh"]
    assert NerSpec(data_dir=str(realdata / "ner" / "xglue_ner")).build().path("test", "nl").name == "nl.test"
    with pytest.raises(DataError, match="task.layout=conll needs task.files"):
        NerSpec(data_dir=str(realdata), layout="conll").build().languages()
    conll = NerSpec(data_dir=str(realdata / "ner" / "conll2003_hf"), layout="conll", languages=["en"],
                    files={"train": "train.txt", "dev": "valid.txt", "test": "test.txt"}).build()
    assert conll.languages() == ["en"] and conll.load("dev", "en")[0].examples


def _hf_folder(root: Path, langs: list[str]) -> Path:
    lines = ['{"premise": "A man eats.", "hypothesis": "Someone eats.", "label": 0}',
             '{"premise": "A man eats.", "hypothesis": "Nobody eats.", "label": 2}']
    configs = []
    for lang in langs:
        for split in ("train", "validation", "test"):
            (root / lang).mkdir(parents=True, exist_ok=True)
            (root / lang / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
        files = "".join(f"  - {{split: {s}, path: {lang}/{s}.jsonl}}\n" for s in ("train", "validation", "test"))
        configs.append(f"- config_name: {lang}\n  data_files:\n{files}")
    (root / "README.md").write_text("---\nconfigs:\n" + "".join(configs) + "---\n")
    return root


def test_xnli_through_a_hugging_face_data_set(small_model, tmp_path):
    folder = _hf_folder(tmp_path / "hf", ["en", "de"])
    out = tmp_path / "run"
    res = finetune("xnli", model=str(small_model), out=out, seeds=[1],
                   overrides=["task.layout=hf", f"task.hf_name={folder}", "optim.epochs=1", "optim.batch_size=2",
                              "run.save_model=false"])
    assert res.summary["languages"] == ["en", "de"]
    rows = [r for r in read_rows([out]) if r.seed == 1 and r.split == "test"]
    assert {r.language for r in rows} == {"en", "de"} and all(r.data_hash for r in rows)
    with pytest.raises(DataError, match=r"no xnli data for: fr \(dev\).*BuilderConfig 'fr' not found"):
        finetune("xnli", model=str(small_model), out=tmp_path / "r2", languages=["en", "fr"],
                 overrides=["task.layout=hf", f"task.hf_name={folder}"])


def test_a_task_of_ones_own_through_kind_custom(small_model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for lang, texts in {"en": ["good film", "bad film", "great day", "awful day"], "de": ["guter Film", "schlechter Film"]}.items():
        for split in ("train", "dev", "test"):
            (data / f"{lang}.{split}.tsv").write_text(
                "".join(f"{t}\t{'pos' if i % 2 == 0 else 'neg'}\n" for i, t in enumerate(texts)))
    out = tmp_path / "run"
    res = finetune("xnli", model=str(small_model), out=out, seeds=[2], trust_custom_code=True,
                   overrides=["task={kind: custom, target: 'custom_task:build', options: {labels: [pos, neg]}}",
                              f"task.data_dir={data}", "task.languages=[en, de]", "task.max_length=32",
                              "optim.epochs=1", "optim.batch_size=2", "run.save_model=false"])
    assert res.summary["task"] == "sentiment" and res.summary["languages"] == ["en", "de"]
    assert (out / "seed-2/predictions/xglue-avg-dev/test-de.tsv").read_text().count("\n") == 2
    assert {r.name for r in read_rows([out])} == {"sentiment"}


@pytest.mark.parametrize("recipe,langs", [
    ("xnli-tiny", ["en", "es", "de", "ar", "vi", "zh", "hi"]),
    ("mlqa-tiny", ["en", "es", "de", "ar", "hi", "vi", "zh"]),
    ("ner-xglue-tiny", ["en", "de", "es"]),
    ("panx-tiny", ["en", "ar", "de", "es", "hi", "vi", "zh"])])
def test_tiny_recipes_run_on_the_bundled_sample_world(recipe, langs, sample_world, tiny_model, tmp_path):
    """The shipped tiny twins as they are (their model is `tiny_model`, built once per session)."""
    out = tmp_path / "run"
    res = finetune(recipe, out=out)
    assert res.summary["languages"] == langs and res.summary["recipe"] == recipe
    rows = [r for r in read_rows([out]) if r.seed == 1 and r.split == "test" and r.protocol == "xglue-avg-dev"]
    assert {r.language for r in rows} == set(langs)
    assert all(r.data_hash and r.n for r in rows)
    assert (out / "seed-1/model/config.json").is_file()
    task = res.summary["task"]
    for lang in langs:
        pred = next((out / "seed-1/predictions/xglue-avg-dev").glob(f"test-{lang}.*"))
        row = next(r for r in rows if r.language == lang and r.metric == res.summary["main_metric"])
        gold = {"xnli": sample_world / "xnli/XNLI-1.0/xnli.test.tsv",
                "mlqa": sample_world / f"mlqa/test/test-context-{lang}-question-{lang}.json",
                "ner": sample_world / f"ner/wikiann/{lang}/test", "panx": sample_world / f"ner/wikiann/{lang}/test"}[task]
        assert score(task, gold, pred, lang=lang)["scores"][row.metric] == row.value
