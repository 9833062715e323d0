"""Loading encoders, and building tiny offline XLM-R models for tests and the demo.

`init_model` writes a randomly initialised `XLMRobertaForMaskedLM` with `save_pretrained`, so every
`AutoModel*` and `AutoTokenizer` loads it offline. Its tokenizer is either a SentencePiece-style Unigram
trained on the bundled sample world (small vocabulary, fast) or XLM-R's real 250k vocabulary.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Literal

from xlmk.compat import load_xlmr_tokenizer, xlmr_tokenizer_from_vocab
from xlmk.contracts import check_model_location  # noqa: F401 - re-exported: the CLI and stages check paths
from xlmk.errors import ConfigError, TrainingError

SIZES: dict[str, dict[str, int]] = {
    # the real 250k vocabulary dominates a tiny model, so `tiny` stays narrow
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


XLMR_HUB_ID = "FacebookAI/xlm-roberta-base"


def _local_xlmr_tokenizers() -> list[Path]:
    root = Path(__file__).resolve().parent.parent
    return [root.parent / "shared" / "xlmr-tokenizer" / "tokenizer.json", root / "shared" / "xlmr-tokenizer" / "tokenizer.json"]


def xlmr_tokenizer_file() -> Path:
    """XLM-R's tokenizer.json: $XLMK_XLMR_TOKENIZER, a `shared/xlmr-tokenizer` beside the checkout, or, when
    online, the one of FacebookAI/xlm-roberta-base on the Hugging Face Hub (downloaded once, then cached)."""
    env = os.environ.get("XLMK_XLMR_TOKENIZER")
    if env:
        p = Path(env).expanduser()
        p = p / "tokenizer.json" if p.is_dir() else p
        if not p.is_file():
            raise ConfigError(f"XLMK_XLMR_TOKENIZER={env}: no tokenizer.json there")
        return p
    for c in _local_xlmr_tokenizers():
        if c.is_file():
            return c
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise ConfigError("XLM-R's tokenizer.json not found locally and HF_HUB_OFFLINE is set: set "
                          f"XLMK_XLMR_TOKENIZER=/path/to/tokenizer.json, or go online to fetch {XLMR_HUB_ID}'s")
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(XLMR_HUB_ID, "tokenizer.json"))
    except Exception as exc:  # network or hub errors: one line naming the way out
        raise ConfigError(f"XLM-R's tokenizer.json: not found locally, and {XLMR_HUB_ID} could not be fetched "
                          f"({type(exc).__name__}); set XLMK_XLMR_TOKENIZER=/path/to/tokenizer.json") from None


def train_sample_tokenizer(texts: Iterable[str], vocab_size: int = 4000) -> Any:
    """A Unigram tokenizer with XLM-R's special tokens and Metaspace pre-tokenization; `<mask>` last."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, unk_token="<unk>",
                                      show_progress=False)
    # parallel training sums floats in varying order; sequential + rounding makes the vocabulary repeatable
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        tok.train_from_iterator(texts, trainer)
    finally:
        if previous is None:
            os.environ.pop("TOKENIZERS_PARALLELISM")
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = previous
    pieces = [(p, round(s, 6)) for p, s in json.loads(tok.to_str())["model"]["vocab"]]
    specials = [v for v in pieces if v[0] in SPECIALS]
    # characters kept only to cover the alphabet come last, spaced 1e-4 apart in hash-set order, which
    # changes from run to run: that dense tail gets one score and a fixed order
    body = [v for v in pieces if v[0] not in SPECIALS]
    i = len(body) - 1
    while i > 0 and body[i - 1][1] - body[i][1] <= 1.5e-4:
        i -= 1
    if len(body) - i > 1:
        body = body[:i] + [(p, round(body[i][1], 4)) for p, _ in body[i:]]
    pieces = specials + body
    rest = sorted((v for v in pieces if v[0] not in SPECIALS), key=lambda v: (-v[1], v[0]))  # ties in a fixed order
    vocab = specials + rest + [("<mask>", 0.0)]
    return xlmr_tokenizer_from_vocab(vocab)


def sample_world_texts() -> list[str]:
    """Every text line of the bundled sample world: corpus, and the fine-tuning and probing samples."""
    from xlmk.sample_world import DATA_DIR

    if not (DATA_DIR / "corpus").is_dir():
        raise ConfigError(f"the bundled sample world is missing at {DATA_DIR}")
    lines: list[str] = []
    for f in sorted((DATA_DIR / "corpus").glob("*.txt")):
        lines += [ln for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def init_model(
    out_dir: str | Path,
    *,
    size: Literal["tiny", "small", "base"] = "tiny",
    tokenizer: Literal["sample", "xlmr"] = "sample",
    vocab_size: int = 4000,
    seed: int = 0,
    max_position_embeddings: int = 514,
    attn_implementation: str = "eager",
) -> Path:
    """Write a randomly initialised XLMRobertaForMaskedLM and its tokenizer to `out_dir`."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    quiet_transformers()
    if size not in SIZES:
        raise ConfigError(f"unknown size {size!r} (one of: {', '.join(SIZES)})")
    out = Path(out_dir)
    if tokenizer == "xlmr":
        tok = load_xlmr_tokenizer(xlmr_tokenizer_file().parent)
    elif tokenizer == "sample":
        tok = train_sample_tokenizer(sample_world_texts(), vocab_size=vocab_size)
    else:
        raise ConfigError(f"unknown tokenizer {tokenizer!r} (sample or xlmr)")
    torch.manual_seed(seed)
    cfg = XLMRobertaConfig(
        vocab_size=len(tok),  # transformers 5: anything else leaves ids that decode to ''
        max_position_embeddings=max_position_embeddings,
        type_vocab_size=1,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        **SIZES[size],
    )
    model = XLMRobertaForMaskedLM._from_config(cfg, attn_implementation=attn_implementation)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def cache_root(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or os.environ.get("XLMK_CACHE") or Path.home() / ".cache" / "xlmk").expanduser()


def cached_init_model(size: str, tokenizer: str, seed: int, cache_dir: str | Path | None = None) -> Path:
    """`init_model` once per (size, tokenizer, seed), kept in the cache; built atomically."""
    from xlmk.io import atomic_dir

    target = cache_root(cache_dir) / "models" / f"init-{size}-{tokenizer}-seed{seed}"
    if not (target / "config.json").is_file():
        with atomic_dir(target) as tmp:
            init_model(tmp, size=size, tokenizer=tokenizer, seed=seed)  # type: ignore[arg-type]
    return target


# a Hugging Face Hub id: 'name' or 'owner/name'; anything else can only be a local path
def _not_loadable(path: str, exc: Exception, what: str = "model") -> ConfigError:
    if Path(path).expanduser().is_dir():
        return ConfigError(f"cannot load {what} {path!r}: {exc}")
    offline = " (offline: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") else ""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigError(f"{what} {path!r}: no such directory here, and the Hugging Face Hub could not provide "
                       f"it{offline}: {first}")


def load_masked_lm(path: str, *, tokenizer: str | None = None, attn_implementation: str | None = None,
                   dtype: Any = None) -> tuple[Any, Any]:
    """(AutoModelForMaskedLM, AutoTokenizer) from a hub name or directory; checks the vocabulary fits."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from xlmk.contracts import check_model_dir

    check_model_dir(path, "model")  # missing, a file, not a checkpoint, truncated weights
    quiet_transformers()
    kwargs: dict[str, Any] = {}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        model = AutoModelForMaskedLM.from_pretrained(path, **kwargs)
        tok = AutoTokenizer.from_pretrained(tokenizer or path)
    except (OSError, ValueError) as exc:  # ValueError: a config.json without model_type
        raise _not_loadable(path, exc) from None
    check_vocab(model, tok, path)
    return model, tok


def check_vocab(model: Any, tokenizer: Any, where: str = "model") -> None:
    n_model = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > n_model:
        raise TrainingError(f"{where}: the tokenizer has {len(tokenizer)} tokens but the model's embedding "
                            f"matrix only {n_model}: tokenizer and model do not belong together")
    if tokenizer.mask_token_id is None or tokenizer.mask_token_id >= n_model:
        raise TrainingError(f"{where}: the tokenizer has no usable mask token")


MODEL_HASH_CACHE = ".xlmk-model-hash.json"


def model_hash(path: str | Path) -> str | None:
    """sha256 over a checkpoint's weight and config files (None for a hub name).

    Kept in `MODEL_HASH_CACHE` inside the directory, keyed by each file's size and modification time,
    so a model is read in full once however many runs it is evaluated in (a read-only directory is
    simply hashed every time).
    """
    import hashlib

    from xlmk.io import atomic_write_json, sha256_file

    p = Path(path)
    if not p.is_dir():
        return None
    files = [f for f in sorted(p.iterdir()) if f.is_file() and (
        f.suffix in (".safetensors", ".bin") or f.name in ("config.json", "tokenizer.json", "xlmk_heads.json"))]
    stamp = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    cache = p / MODEL_HASH_CACHE
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("files") == stamp:
            return cached["sha256"]
    except (OSError, ValueError, AttributeError, KeyError):  # no cache, or an unreadable one: hash the files
        pass
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    digest = h.hexdigest()
    try:
        atomic_write_json(cache, {"files": stamp, "sha256": digest}, indent=None)
    except OSError:  # a read-only model directory: the hash is right, only not kept for next time
        pass
    return digest
