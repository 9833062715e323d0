"""Model cards: the README.md of every saved model directory, as the Hugging Face Hub shows it.

A card is built from what lies in and beside the directory, so it can be rewritten whenever more is
known: `config.json` (architecture and size), `recipe.yaml` (how it was trained, on which data),
`metrics.jsonl` (steps, tokens, final losses), the data's manifest (sizes and fingerprint), and the result
rows (`results.jsonl`) of this model found beside it or in the folders given (matched by model hash or
path). Pre-training and fine-tuning write it when they save; `xlmk push` rewrites it before uploading.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

CARD = "README.md"
CITATION = """@inproceedings{jiang2022xlmk,
  title     = {{XLM-K}: Improving Cross-Lingual Language Model Pre-Training with Multilingual Knowledge},
  author    = {Jiang, Xiaoze and Liang, Yaobo and Chen, Weizhu and Duan, Nan},
  booktitle = {Proceedings of the AAAI Conference on Artificial Intelligence},
  year      = {2022}
}"""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def parameter_count(model_dir: Path) -> int | None:
    """Parameters of the safetensors weights, read from their headers (no tensor is loaded)."""
    import struct

    total, found = 0, False
    for f in sorted(model_dir.glob("*.safetensors")):
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                n = 1
                for d in info["shape"]:
                    n *= d
                total += n
                found = True
    return total if found else None


def _recipe(model_dir: Path) -> dict | None:
    import yaml

    path = model_dir / "recipe.yaml"
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _metrics(model_dir: Path) -> list[dict]:
    path = model_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    from xlmk.io import read_jsonl

    return read_jsonl(path)


def _data_lines(recipe: dict) -> list[str]:
    """What the recipe trained on, with sizes: knowledge tables from the manifest, corpus file sizes."""
    import glob

    lines = []
    data = recipe.get("data") or {}
    knowledge, corpus = data.get("knowledge") or {}, data.get("corpus") or {}
    if knowledge.get("kind") == "knowledge-dir":
        manifest = _read_json(Path(knowledge.get("path", "")) / "manifest.json") or {}
        counts = {name: t.get("rows", 0) for name, t in (manifest.get("tables") or {}).items()} or manifest.get("counts") or {}
        tables = ", ".join(f"{name} {n:,}" for name, n in counts.items() if isinstance(n, int))
        langs = ", ".join(manifest.get("languages") or [])
        lines.append(f"- knowledge: `{knowledge.get('path')}` (rows: {tables or 'unknown'}; languages: {langs or 'unknown'}; "
                     f"fingerprint `{str(manifest.get('fingerprint', 'unknown'))[:16]}`)")
    elif knowledge.get("kind"):
        lines.append(f"- knowledge: {knowledge['kind']}")
    files: list[Path] = []
    if corpus.get("kind") == "text-corpus":
        files = [Path(p) for pattern in corpus.get("paths") or [] for p in sorted(glob.glob(str(Path(pattern).expanduser())))]
    elif corpus.get("kind") == "sample-corpus":
        from xlmk.sample_world import DATA_DIR

        files = sorted((DATA_DIR / "corpus").glob("*.txt"))
    if files:
        size = sum(f.stat().st_size for f in files if f.is_file())
        lines.append(f"- corpus: {corpus['kind']}, {len(files)} files ({', '.join(f.stem for f in files)}), "
                     f"{size / 1e6:.2f} MB")
    elif corpus.get("kind"):
        lines.append(f"- corpus: {corpus['kind']}")
    return lines


def result_rows(model_dir: Path, search: Iterable[str | Path] = ()) -> list[Any]:
    """Rows about this model: results.jsonl in the directory, its parent and grandparent, and under `search`."""
    from xlmk.modeling import model_hash
    from xlmk.results import RESULTS_FILE, read_rows

    model_dir = Path(model_dir)
    files = {p / RESULTS_FILE for p in (model_dir, model_dir.parent, model_dir.parent.parent)}
    for root in search:
        root = Path(root)
        files.update(root.rglob(RESULTS_FILE) if root.is_dir() else [root])
    files = {f for f in files if f.is_file()}
    if not files:
        return []
    digest = model_hash(model_dir)
    here = model_dir.resolve()
    rows = []
    for row in read_rows(sorted(files)):
        path = Path(row.model)
        if (digest is not None and row.model_hash == digest) or (path.exists() and path.resolve() == here):
            rows.append(row)
    return rows


def _results_table(rows: list[Any]) -> list[str]:
    """One line per (stage, name, split, metric, protocol): the mean over languages and seeds. Dev numbers
    are left out where test numbers exist, and XTREME's en-dev protocol where XGLUE's is there."""
    import hashlib

    keys = {(r.stage, r.name, r.split, r.metric, r.protocol) for r in rows}
    rows = [r for r in rows
            if not (r.split == "dev" and (r.stage, r.name, "test", r.metric, r.protocol) in keys)
            and not (r.protocol == "xtreme-en-dev" and (r.stage, r.name, r.split, r.metric, "xglue-avg-dev") in keys)]
    groups: dict[tuple, list[Any]] = {}
    for r in rows:
        groups.setdefault((r.stage, r.name, r.split, r.metric, r.protocol or ""), []).append(r)
    lines = ["| stage | task / probe | split | metric | value | over | data hash |", "|---|---|---|---|---|---|---|"]
    for (stage, name, split, metric, protocol), group in sorted(groups.items()):
        value = sum(r.value for r in group) / len(group)
        langs = sorted({r.language for r in group if r.language})
        seeds = sorted({r.seed for r in group if r.seed is not None})
        over = ", ".join(x for x in (f"{len(langs)} language{'s' if len(langs) > 1 else ''}" if langs else "",
                                     f"seed{'s' if len(seeds) > 1 else ''} {','.join(map(str, seeds))}" if seeds else "",
                                     protocol) if x)
        hashes = sorted({r.data_hash for r in group if r.data_hash})
        # several evaluation files (one per language): one hash over theirs
        digest = hashes[0] if len(hashes) == 1 else hashlib.sha256("".join(hashes).encode()).hexdigest() if hashes else ""
        lines.append(f"| {stage} | {name} | {split} | {metric} | {value:.2f} | {over or '-'} | {digest[:12] or '-'} |")
    return lines


def render_card(model_dir: str | Path, *, search: Iterable[str | Path] = (), base_model: str | None = None,
                rows: Iterable[Any] = (), repo: str | None = None) -> str:
    """The card's Markdown (with the Hub's YAML header); `rows` adds result rows the search cannot match
    (a fine-tuned model's rows name the model it was fine-tuned from)."""
    import yaml

    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json") or {}
    recipe = _recipe(model_dir)
    metrics = _metrics(model_dir)
    rows = result_rows(model_dir, search) + list(rows)
    name = (recipe or {}).get("name") or model_dir.name
    header = {"library_name": "transformers", "pipeline_tag": "fill-mask", "tags": ["xlmk", "xlm-k", "multilingual"]}
    if base_model:
        header["base_model"] = base_model
    out = ["---", yaml.safe_dump(header, sort_keys=False).strip(), "---", "", f"# {name}", ""]
    if recipe and recipe.get("description"):
        out += [recipe["description"], ""]
    out += ["A multilingual masked-language encoder trained with xlmk, which implements XLM-K "
            "(Jiang et al., AAAI 2022): masked language modelling plus knowledge tasks (masked entity prediction, "
            "object entailment) over Wikipedia and Wikidata.", ""]
    params = parameter_count(model_dir)
    out += ["## Model", "",
            f"- architecture: {', '.join(config.get('architectures') or [config.get('model_type', 'unknown')])}",
            f"- size: hidden {config.get('hidden_size', '?')}, layers {config.get('num_hidden_layers', '?')}, "
            f"heads {config.get('num_attention_heads', '?')}, vocabulary {config.get('vocab_size', '?'):,}"
            if isinstance(config.get("vocab_size"), int) else
            f"- size: hidden {config.get('hidden_size', '?')}, layers {config.get('num_hidden_layers', '?')}",
            f"- parameters: {params:,}" if params else "- parameters: unknown"]
    if base_model:
        out.append(f"- fine-tuned from: `{base_model}`")
    if (model_dir / "xlmk_heads.json").is_file():
        out.append("- knowledge heads: `xlmk_heads.json` (+ weights), read by `xlmk probe xep|xor`")
    out.append("")
    if recipe:
        optim, batch = recipe.get("optim") or {}, recipe.get("batch") or {}
        tasks = recipe.get("tasks") or {}
        active = [t for t in ("mlm", "mep", "oe") if tasks.get(t)]
        out += ["## Training", "",
                f"- recipe: `{name}` version {recipe.get('version', '?')}, seed {recipe.get('seed', '?')}",
                f"- objectives: {', '.join(active) or 'see the recipe'}"]
        if optim:
            out.append(f"- optimizer: {optim.get('name', '?')}, peak lr {optim.get('lr', '?')}, "
                       f"{optim.get('max_steps', '?')} steps planned, batch {batch.get('effective_size', '?')}")
        if metrics:
            last = metrics[-1]
            tokens = sum(int(m.get("tokens") or 0) for m in metrics)
            losses = ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k.endswith("_loss") and isinstance(v, (int, float)))
            out.append(f"- trained: {last.get('step', '?')} steps, {tokens:,} tokens; final {losses}")
        out += ["", "### Data", ""] + (_data_lines(recipe) or ["- see the recipe below"])
        pretrain_hashes = sorted({r.data_hash for r in rows if r.stage == "pretrain" and r.data_hash})
        if pretrain_hashes:
            out.append(f"- training data hash (sha256): `{pretrain_hashes[0]}`")
        out += ["", "<details><summary>Full recipe</summary>", "", "```yaml",
                (model_dir / "recipe.yaml").read_text(encoding="utf-8").strip(), "```", "", "</details>", ""]
    out += ["## Results", ""]
    if rows:
        commits = sorted({r.git_commit for r in rows if r.git_commit})
        out += _results_table(rows) + ["", f"From {len(rows)} result rows (`results.jsonl`; xlmk commit "
                                          f"{', '.join(c[:12] for c in commits) or 'unknown'}). "
                                          "A data hash over several files is the sha256 of their hashes; `xlmk results DIR` prints the full tables.", ""]
    else:
        out += ["No result rows found beside this model yet: run `xlmk probe …` / `xlmk finetune …` and "
                "`xlmk push --results RUN_DIR` to include them.", ""]
    out += ["## Use", "", "```python", "from transformers import AutoModelForMaskedLM, AutoTokenizer",
            f'model = AutoModelForMaskedLM.from_pretrained("{repo or model_dir}")',
            f'tokenizer = AutoTokenizer.from_pretrained("{repo or model_dir}")', "```", "",
            "## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(out)


def write_card(model_dir: str | Path, *, search: Iterable[str | Path] = (), base_model: str | None = None,
               rows: Iterable[Any] = (), repo: str | None = None) -> Path:
    """Write (or rewrite) MODEL_DIR/README.md atomically."""
    from xlmk.io import atomic_write_text

    path = Path(model_dir) / CARD
    atomic_write_text(path, render_card(model_dir, search=search, base_model=base_model, rows=rows, repo=repo))
    return path
