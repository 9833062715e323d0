"""examples/contrastive_scale_table.py: the study's settings are grouped across seeds and sweeps, and
each column comes from the right rows."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from xlmk.results import ResultRow

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "contrastive_scale_table.py"


def _module():
    spec = importlib.util.spec_from_file_location("contrastive_scale_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rows(path: Path, rows: list[ResultRow]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows))


def _pretrain(path: Path, seed: int, xep: float, xor: float, mlm: float) -> None:
    base = dict(stage="pretrain", version=2, model=str(path), seed=seed)
    _rows(path, [ResultRow(name="r", split="train", metric="mlm_loss", value=mlm, **base),
                 ResultRow(name="r", split="train", metric="mep_acc", value=99.0, **base),  # training, not held out
                 ResultRow(name="xep-inbatch", split="heldout", metric="accuracy", value=xep, **base),
                 ResultRow(name="xor-inbatch", split="heldout", metric="accuracy", value=xor, **base)])


def _probe(path: Path, task: str, values: dict[str, float]) -> None:
    _rows(path, [ResultRow(stage="probe", name=task, version=2, model="m", language=lang, metric="accuracy", value=v, seed=0)
                 for lang, v in values.items()])


def _sweep(root: Path, recipe: str, parameter: str, values: list[str], overrides: list[str], seed_of) -> None:
    members = [{"value": v, "model_name": f"{recipe}_{parameter}={v}", "dir": f"{recipe}_{parameter}={v}"} for v in values]
    root.mkdir(parents=True)
    (root / "sweep.json").write_text(json.dumps({"parameter": parameter, "recipe": recipe, "overrides": overrides,
                                                 "members": members}))
    for i, m in enumerate(members):
        seed = seed_of(m["value"])
        _pretrain(root / m["dir"] / "pretrain", seed, xep=10.0 * seed + i, xor=20.0 + i, mlm=6.0 + seed / 100)
        _probe(root / m["dir"] / "probe-xep", "xep", {"en": 2.0 * seed, "de": 4.0 * seed})
        _probe(root / m["dir"] / "probe-xor", "xor", {"en": 1.0 + i})


def test_settings_group_seeds_and_replicate_sweeps(tmp_path):
    mod = _module()
    common = ["encoder.kind=hf-masked-lm", "encoder.path=P/final", "optim.max_steps=300", "optim.warmup_steps=30",
              "run.save_every=100000"]
    _pretrain(tmp_path / "parent", 1, xep=4.0, xor=2.0, mlm=6.41)
    _probe(tmp_path / "parent-probe" / "xep", "xep", {"en": 0.5, "de": 0.3})
    _sweep(tmp_path / "xlmk-literal-tiny", "xlmk-literal-tiny", "seed", ["1", "2"], common, int)
    manifest = tmp_path / "xlmk-literal-tiny" / "sweep.json"
    m = json.loads(manifest.read_text())
    m["members"].append({"value": "3", "model_name": "xlmk-literal-tiny_seed=3", "dir": "xlmk-literal-tiny_seed=3"})
    manifest.write_text(json.dumps(m))
    for s in (1, 2):
        _sweep(tmp_path / f"cosine-seed{s}", "xlmk-literal-tiny", "loss.temperature", ["0.05", "0.1"],
               [*common, f"seed={s}", "loss.similarity=cosine"], lambda v, s=s: s)
    (tmp_path / "xlmk-literal-tiny" / "xlmk-literal-tiny_seed=3" / "pretrain").mkdir(parents=True)  # still training
    found = mod.settings(tmp_path)
    assert sorted(found) == ["xlmk-literal-tiny",
                             "xlmk-literal-tiny loss.similarity=cosine loss.temperature=0.05",
                             "xlmk-literal-tiny loss.similarity=cosine loss.temperature=0.1"]
    by_seed = dict(found["xlmk-literal-tiny loss.similarity=cosine loss.temperature=0.1"])
    assert sorted(by_seed) == [1, 2]  # one member from each replicate sweep
    assert by_seed[2] == {"in-batch XEP": 21.0, "in-batch XOR": 21.0, "MLM loss": 6.02, "probe XEP": 6.0, "probe XOR": 2.0}

    text = mod.table(tmp_path)
    lines = text.splitlines()
    assert lines[2].startswith("| the parent (raw states) | 1 | 4.0 | 2.0 | 0.4 | - | 6.41 |")
    literal = next(line for line in lines if line.startswith("| xlmk-literal-tiny |"))
    assert literal == ("| xlmk-literal-tiny | 1, 2 | 10.0, 21.0 (mean 15.5) | 20.0, 21.0 (mean 20.5) | 3.0, 6.0 (mean 4.5) "
                       "| 1.0, 2.0 (mean 1.5) | 6.01, 6.02 (mean 6.01) |")
