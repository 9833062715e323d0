"""The general component families: one discriminated union per family, one config class per kind.

Adding a component = one class here (fields with descriptions and a `build()`) + one line in its
family's union. User code plugs in through the `custom` kind of each family, which names
`package.module:attr` and is imported only when built; nothing registers itself on import.
Heavy libraries (torch, transformers) are imported inside `build()`. This module imports no stage;
`xlmk.registry` lists these families beside the stages' task and probe specs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field

from xlmk.config import Seed, StrictModel, import_target
from xlmk.errors import ConfigError


class _Custom(StrictModel):
    """Your own component: `target` names a callable, called as `target(**context, **options)`."""

    kind: Literal["custom"] = "custom"
    target: str = Field(description="Callable to build it, as 'package.module:attr'; imported only when built.")
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments passed to the target.")

    def build(self, **context: Any) -> Any:
        return import_target(self.target, where=f"{type(self).__name__}.target")(**context, **self.options)


# ---------------------------------------------------------------- encoder
class HFMaskedLM(StrictModel):
    """A Hugging Face masked-LM checkpoint (hub name or local directory) and its tokenizer."""

    kind: Literal["hf-masked-lm"] = "hf-masked-lm"
    path: str = Field("xlm-roberta-base", description="Hub name or local directory of the checkpoint.")
    tokenizer: str | None = Field(None, description="Tokenizer location when it differs from `path`.")
    attn_implementation: Literal["eager", "sdpa"] | None = Field(
        None, description="Attention kernel; None lets transformers choose (sdpa). eager returns attentions.")

    def build(self) -> tuple[Any, Any]:
        """(model, tokenizer); refuses a tokenizer whose vocabulary does not fit the model."""
        from xlmk.modeling import load_masked_lm

        return load_masked_lm(self.path, tokenizer=self.tokenizer, attn_implementation=self.attn_implementation)


class InitEncoder(StrictModel):
    """A randomly initialised XLM-R built by `xlmk init-model` (tiny CPU runs, tests, the demo)."""

    kind: Literal["init"] = "init"
    size: Literal["tiny", "small", "base"] = Field("tiny", description="Model size (tiny: 64 hidden, 2 layers).")
    tokenizer: Literal["sample", "xlmr"] = Field("sample", description="Unigram trained on the sample world, or XLM-R's real vocabulary.")
    seed: Seed = Field(0, description="Seed of the initial weights.")
    cache_dir: str | None = Field(None, description="Where the initial checkpoint is kept; None = ~/.cache/xlmk/models.")

    def build(self) -> tuple[Any, Any]:
        from xlmk.modeling import cached_init_model, load_masked_lm

        return load_masked_lm(str(cached_init_model(self.size, self.tokenizer, self.seed, self.cache_dir)))


class CustomEncoder(_Custom):
    """Your own encoder: the target returns (model, tokenizer); the model returns hidden states."""


Encoder = Annotated[Union[HFMaskedLM, InitEncoder, CustomEncoder], Field(discriminator="kind")]


# ---------------------------------------------------------------- head
class MLPHead(StrictModel):
    """Non-linear projection z = W2 ReLU(W1 x) of Eq. 1-4."""

    kind: Literal["mlp"] = "mlp"
    projection_dim: int | None = Field(None, ge=1, description="d_p, the inner size; None = the encoder's hidden size (as the authors' code).")
    output_dim: int | None = Field(None, ge=1, description="Size of z; None = the encoder's hidden size (W2 is d_p x d_w).")
    batch_norm: bool = Field(False, description="BatchNorm1d after each Linear, as the released code has (not in the paper).")
    bias: bool = Field(False, description="Bias in the Linear layers (the paper's formula has none).")

    def build(self, hidden_size: int) -> Any:
        from xlmk.pretrain.heads import ProjectionHead

        return ProjectionHead(hidden_size, self.projection_dim or hidden_size, self.output_dim or hidden_size,
                              batch_norm=self.batch_norm, bias=self.bias)


class CustomHead(_Custom):
    """Your own head: target(hidden_size=…, **options) returns an nn.Module mapping [n, hidden] -> [n, d]."""


Head = Annotated[Union[MLPHead, CustomHead], Field(discriminator="kind")]


# ---------------------------------------------------------------- queue
class FIFOQueue(StrictModel):
    """The candidate list of Appendix C: a FIFO queue of detached keys, randomly initialised."""

    kind: Literal["fifo"] = "fifo"
    size: int = Field(32768, ge=0, description="N, the number of queued candidates (the paper: 32k; 0 = in-batch negatives only).")
    push: Literal["micro-batch", "step"] = Field(
        "micro-batch", description="Enqueue after every forward pass (the released code) or once per optimizer step.")

    def build(self, dim: int, generator: Any = None) -> Any:
        from xlmk.pretrain.queue import CandidateQueue

        return CandidateQueue(self.size, dim, generator=generator)


class CustomQueue(_Custom):
    """Your own queue: target(dim=…, generator=…, **options) with push(keys, ids) and ordered()."""


Queue = Annotated[Union[FIFOQueue, CustomQueue], Field(discriminator="kind")]


# ---------------------------------------------------------------- loss
class ContrastiveLoss(StrictModel):
    """Eq. 5: softmax of the query over its positive, the other batch keys and the queue."""

    kind: Literal["contrastive"] = "contrastive"
    similarity: Literal["dot", "cosine"] = Field("dot", description="dot = Eq. 5 as written; cosine = L2-normalised query, keys and queue.")
    temperature: float = Field(1.0, gt=0, description="Logits are divided by it (Eq. 5 has none, i.e. 1.0; MoCo uses 0.07).")
    in_batch_negatives: bool = Field(True, description="Score the other keys of the global batch as negatives.")
    mask_same_entity: bool = Field(False, description="Mask candidates of the positive's own entity (false negatives).")
    doc2word_weight: float = Field(
        0.0, ge=0, description="Weight of the reverse direction (each key against the batch's queries and a queue of past "
                               "queries of its own), the released code's 'doc2word'; 0 = Eq. 5 only (the paper).")

    def build(self) -> Any:
        import functools

        from xlmk.pretrain.losses import contrastive_loss

        return functools.partial(contrastive_loss, similarity=self.similarity, temperature=self.temperature,
                                 in_batch_negatives=self.in_batch_negatives, mask_same_entity=self.mask_same_entity)


class RelationCrossEntropy(StrictModel):
    """Table 4's 'OE w/o contrastive loss': classify the relation from [CLS(subject); CLS(object)]."""

    kind: Literal["relation-cross-entropy"] = "relation-cross-entropy"
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing of the cross-entropy.")

    def build(self) -> Any:
        import functools

        from xlmk.pretrain.losses import relation_classification_loss

        return functools.partial(relation_classification_loss, label_smoothing=self.label_smoothing)


class CustomLoss(_Custom):
    """Your own loss: target(**options) returns a callable with contrastive_loss's signature."""


Loss = Annotated[Union[ContrastiveLoss, RelationCrossEntropy, CustomLoss], Field(discriminator="kind")]


# ---------------------------------------------------------------- dataset
class KnowledgeDir(StrictModel):
    """A knowledge directory written by `xlmk knowledge build` (titles, mentions, descriptions, triples)."""

    kind: Literal["knowledge-dir"] = "knowledge-dir"
    path: str = Field(description="The knowledge directory.")
    languages: list[str] | None = Field(None, description="Languages to use; None = all in the directory.")
    alpha: float = Field(0.3, gt=0, le=1, description="Language sampling exponent: p_i^alpha, as XLM-R.")

    def build(self) -> Path:
        p = Path(self.path).expanduser()
        if not (p / "manifest.json").is_file():
            raise ConfigError(f"data.knowledge.path: {p} is not a knowledge directory (no manifest.json); "
                              "build one with `xlmk knowledge build`")
        return p


class SampleKnowledge(StrictModel):
    """The knowledge of the bundled sample world, built on first use and cached."""

    kind: Literal["sample-knowledge"] = "sample-knowledge"
    languages: list[str] | None = Field(None, description="Languages to use; None = all seven.")
    alpha: float = Field(0.3, gt=0, le=1, description="Language sampling exponent: p_i^alpha, as XLM-R.")
    cache_dir: str | None = Field(None, description="Where the built directory is kept; None = ~/.cache/xlmk.")

    def build(self) -> Path:
        from xlmk.sample_world.knowledge import sample_knowledge_dir

        return sample_knowledge_dir(self.cache_dir)


class TextCorpus(StrictModel):
    """Plain-text files for MLM, one document or sentence per line; the language is the file's stem."""

    kind: Literal["text-corpus"] = "text-corpus"
    paths: list[str] = Field(description="Files or glob patterns, e.g. 'corpus/*.txt' or CC-100's 'cc100/*.txt.xz' "
                             "(the name before .txt = language; .gz, .bz2, .xz, .zst are read as streams).")
    languages: list[str] | None = Field(None, description="Languages to use; None = every file.")
    alpha: float = Field(0.3, gt=0, le=1, description="Language sampling exponent: p_i^alpha, as XLM-R.")

    def build(self) -> list[Path]:
        import glob

        files: list[Path] = []
        for pattern in self.paths:
            found = sorted(Path(p) for p in glob.glob(str(Path(pattern).expanduser())))
            if not found:
                raise ConfigError(f"data.corpus.paths: {pattern!r} matches no file")
            files += found
        if self.languages is not None:
            from xlmk.io import corpus_language

            files = [f for f in files if corpus_language(f) in self.languages]
        return files


class SampleCorpus(StrictModel):
    """The MLM corpus of the bundled sample world (seven languages)."""

    kind: Literal["sample-corpus"] = "sample-corpus"
    languages: list[str] | None = Field(None, description="Languages to use; None = all seven.")
    alpha: float = Field(0.3, gt=0, le=1, description="Language sampling exponent: p_i^alpha, as XLM-R.")

    def build(self) -> list[Path]:
        from xlmk.sample_world import DATA_DIR

        files = sorted((DATA_DIR / "corpus").glob("*.txt"))
        return [f for f in files if self.languages is None or f.stem in self.languages]


class CustomDataset(_Custom):
    """Your own data source: target(**options) returns what the stage that uses it expects."""


DatasetSpec = Annotated[Union[KnowledgeDir, SampleKnowledge, TextCorpus, SampleCorpus, CustomDataset],
                        Field(discriminator="kind")]
