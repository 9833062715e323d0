"""Task specs: one config class per fine-tuning task, a discriminated union on `kind`.

A spec says where the data is (a root folder and file templates per split, `{lang}` and `{split}`
filled in), which languages to evaluate (default: the task's row in
`registry/tables/finetune_languages.yaml`) and the task's sequence lengths. `build()` returns the task
object that reads, encodes, decodes and scores (xnli.py, mlqa.py, ner.py). Your own task plugs in
through `kind: custom`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from xlmk.config import StrictModel, import_target
from xlmk.errors import ConfigError

SAMPLE_WORLD = "sample-world"


class _TaskSpec(StrictModel):
    version: int = Field(1, ge=1, description="Version of the task's data handling and metric; in every result row.")
    data_dir: str | None = Field(None, description="Root folder of the task's data (`--data`); 'sample-world' = the bundled sample world.")
    languages: list[str] | None = Field(None, description="Evaluation languages; None = the task's languages in registry/tables/finetune_languages.yaml that have data.")
    train_language: str | None = Field(None, description="Language of the training set; None = the table's (en): zero-shot transfer to the rest.")
    files: dict[str, str] = Field(default_factory=dict, description="File templates per split (train, dev, test) relative to data_dir, with {lang}; unset splits use the layout's defaults.")
    max_length: int = Field(256, ge=8, description="Maximum tokens per sequence.")
    max_train_examples: int | None = Field(None, ge=1, description="Use only the first N training examples (smoke tests); None = all.")
    transfer: Literal["zero-shot", "translate-train"] = Field(
        "zero-shot", description="zero-shot = train on the training language only; translate-train = also on the "
                                 "machine-translated training sets of the evaluated languages that have one (XTREME's "
                                 "second protocol; PAWS-X, XNLI, XQuAD/MLQA, TyDiQA). Recorded in every row.")

    def root(self) -> Path:
        if self.data_dir is None:
            raise ConfigError("task.data_dir: no data folder given; pass --data DIR (or --set task.data_dir=DIR)")
        if self.data_dir == SAMPLE_WORLD:
            from xlmk.sample_world import DATA_DIR

            return Path(DATA_DIR)
        return Path(self.data_dir).expanduser()


class _HfSource(StrictModel):
    """Where `layout: hf` reads from: a hub name (online) or a local `save_to_disk` folder."""

    hf_name: str | None = Field(None, description="layout hf: data set name, or a local save_to_disk folder (one "
                                                  "DatasetDict, or one per config in FOLDER/<config>).")
    hf_config: str | None = Field(None, description="layout hf: configuration name, with {lang} (e.g. 'xquad.{lang}').")
    hf_splits: dict[str, str] = Field(default_factory=dict, description="layout hf: data set split per split "
                                      "(train, dev, test) where not train/validation/test.")
    hf_columns: dict[str, str] = Field(default_factory=dict, description="layout hf: data set column per field "
                                       "where the names differ (QA: id, question, context, answers; tagging: tokens, tags).")

    @model_validator(mode="after")
    def _hf_named(self) -> "_HfSource":
        if getattr(self, "layout", None) == "hf" and not self.hf_name:
            raise ValueError("layout hf needs task.hf_name (a data set name or a save_to_disk folder)")
        return self


class XnliSpec(_TaskSpec):
    """XNLI (15 languages, 3 labels, accuracy); English MultiNLI for training."""

    kind: Literal["xnli"] = "xnli"
    layout: Literal["auto", "original", "xglue", "xtreme", "hf"] = Field(
        "auto", description="original = XNLI-1.0 + XNLI-MT-1.0 folders; xglue = {lang}.{split} files; xtreme = XTREME's "
                            "{split}-{lang}.tsv (premise, hypothesis, label; test without labels); hf = the `xnli` "
                            "data set through datasets.load_dataset; auto = whichever the folder holds.")
    hf_name: str = Field("facebook/xnli", description="Data set name, or a local folder holding one `save_to_disk` "
                                                      "DatasetDict per language (FOLDER/{lang}), for layout hf.")
    hf_columns: dict[str, str] = Field(default_factory=dict, description="layout hf: data set column per field "
                                       "(premise, hypothesis, label) where the names differ.")

    def build(self) -> Any:
        from xlmk.downstream.xnli import XnliTask

        return XnliTask(self)


class PawsxSpec(XnliSpec):
    """PAWS-X (7 languages, paraphrase or not, accuracy); English PAWS-Wiki for training."""

    kind: Literal["paws-x"] = "paws-x"  # type: ignore[assignment]
    layout: Literal["auto", "original", "xtreme", "hf"] = Field(  # type: ignore[assignment]
        "auto", description="original = the release's x-final/{lang}/*.tsv; xtreme = XTREME's {split}-{lang}.tsv "
                            "(its test files have no labels); hf = the `paws-x` data set; auto = whichever the folder holds.")
    hf_name: str = Field("google-research-datasets/paws-x", description=XnliSpec.model_fields["hf_name"].description)

    def build(self) -> Any:
        from xlmk.downstream.pawsx import PawsxTask

        return PawsxTask(self)


class MlqaSpec(_TaskSpec, _HfSource):
    """MLQA (7 languages, extractive QA, the official MLQA metric); SQuAD v1.1 for training."""

    kind: Literal["mlqa"] = "mlqa"
    layout: Literal["original", "hf"] = Field("original", description="original = the release's JSON files; hf = dev and "
                                              "test from a data set (training stays the SQuAD file).")
    hf_name: str | None = Field("facebook/mlqa", description=_HfSource.model_fields["hf_name"].description)
    hf_config: str | None = Field("mlqa.{lang}.{lang}", description=_HfSource.model_fields["hf_config"].description)
    max_length: int = Field(384, ge=32, description="Maximum tokens per window (question + context).")
    doc_stride: int = Field(128, ge=1, description="Tokens shared by consecutive windows of a long context.")
    max_query_length: int = Field(64, ge=1, description="Questions are cut to this many tokens.")
    max_answer_length: int = Field(30, ge=1, description="Longest answer span considered when decoding (tokens).")
    n_best: int = Field(20, ge=1, description="Start and end candidates per window when decoding.")
    question_languages: Literal["same", "all"] | list[str] = Field(
        "same", description="same = question in the context's language (MLQA's usual setting); all = also every "
                            "G-XLT pair found; or a list of question languages. Selection uses same-language pairs.")
    train_file: str | None = Field(None, description="SQuAD v1.1 training file (relative to data_dir or absolute); "
                                                     "None = squad/train-v1.1.json, squad1.1/train-v1.1.json or train-v1.1.json.")

    @model_validator(mode="after")
    def _room_for_stride(self) -> "MlqaSpec":
        # a window holds the question, 4 special tokens and the context; the tokenizer aborts when the
        # context part is not longer than the stride
        if self.max_length - self.max_query_length - 4 <= self.doc_stride:
            raise ValueError(f"max_length ({self.max_length}) - max_query_length ({self.max_query_length}) - 4 must "
                             f"exceed doc_stride ({self.doc_stride})")
        return self

    def build(self) -> Any:
        from xlmk.downstream.mlqa import MlqaTask

        return MlqaTask(self)


class XquadSpec(MlqaSpec):
    """XQuAD (11 languages, SQuAD v1.1 metric); SQuAD v1.1 for training, English SQuAD dev for selection."""

    kind: Literal["xquad"] = "xquad"  # type: ignore[assignment]
    layout: Literal["original", "hf"] = Field("original", description="original = xquad.{lang}.json files; hf = test "
                                              "sets from a data set (e.g. google/xquad, config xquad.{lang}, test split "
                                              "validation); training and dev stay SQuAD files.")
    hf_name: str | None = Field("google/xquad", description=_HfSource.model_fields["hf_name"].description)
    hf_config: str | None = Field("xquad.{lang}", description=_HfSource.model_fields["hf_config"].description)
    hf_splits: dict[str, str] = Field({"test": "validation"}, description=_HfSource.model_fields["hf_splits"].description)
    from_run: str | None = Field(None, description="A finished mlqa/xquad/tydiqa fine-tuning run directory: score its "
                                                   "saved seed-N/model checkpoints on XQuAD test instead of training "
                                                   "(XTREME evaluates XQuAD with the SQuAD-trained model).")

    def build(self) -> Any:
        from xlmk.downstream.xtreme_qa import XquadTask

        return XquadTask(self)


class TydiqaSpec(MlqaSpec):
    """TyDiQA-GoldP (9 languages, SQuAD v1.1 metric); its English training questions for training."""

    kind: Literal["tydiqa"] = "tydiqa"  # type: ignore[assignment]
    layout: Literal["auto", "original", "xtreme", "hf"] = Field(  # type: ignore[assignment]
        "auto", description="original = tydiqa-goldp-v1.1-{train.json,dev/}; xtreme = tydiqa.goldp.{lang}.{train,dev}.json; "
                            "hf = a data set holding every language (ids `<language>-…`), test = its validation split; "
                            "auto = whichever the folder holds.")
    hf_name: str | None = Field("google-research-datasets/tydiqa", description=_HfSource.model_fields["hf_name"].description)
    hf_config: str | None = Field("secondary_task", description=_HfSource.model_fields["hf_config"].description)
    hf_splits: dict[str, str] = Field({"test": "validation"}, description=_HfSource.model_fields["hf_splits"].description)
    heldout_every: int = Field(10, ge=2, description="Every N-th English training question is held out as the dev set "
                                                     "the epoch is chosen on (XTREME has none; its test is GoldP dev).")

    def build(self) -> Any:
        from xlmk.downstream.xtreme_qa import TydiqaTask

        return TydiqaTask(self)


class NerSpec(_TaskSpec, _HfSource):
    """XGLUE NER (en de es nl; CoNLL-2002/2003, `token tag`, IOB1); entity F1 by conlleval/seqeval."""

    kind: Literal["ner"] = "ner"
    layout: Literal["xglue", "panx", "conll", "xtreme", "hf"] = Field(
        "xglue", description="xglue = {lang}.{split} files of `token tag`; panx = {lang}/{split} of `lang:token<TAB>tag`; "
                             "xtreme = XTREME's {split}-{lang}.tsv of `token<TAB>tag` (its test files have no tags); "
                             "conll = columns with the token first and the tag last (set `files`); hf = a data set with "
                             "tokens and tag columns (e.g. unimelb-nlp/wikiann, config {lang}).")
    labels: list[str] | None = Field(None, description="Tag set; None = the task's tags in the table. Unknown tags in data are errors.")

    def table_key(self) -> str:
        return self.kind

    def build(self) -> Any:
        from xlmk.downstream.ner import NerTask

        return NerTask(self)


class PanxSpec(NerSpec):
    """WikiANN / PAN-X as XTREME uses it (40 languages, `lang:token<TAB>tag`, IOB2)."""

    kind: Literal["panx"] = "panx"  # type: ignore[assignment]
    layout: Literal["xglue", "panx", "conll", "xtreme", "hf"] = Field("panx", description=NerSpec.model_fields["layout"].description)
    hf_name: str | None = Field("unimelb-nlp/wikiann", description=_HfSource.model_fields["hf_name"].description)
    hf_config: str | None = Field("{lang}", description=_HfSource.model_fields["hf_config"].description)


class UdposSpec(NerSpec):
    """UD-POS as XTREME uses it (UD v2.5, 33 languages, 17 UPOS tags); seqeval F1 as XTREME scores it."""

    kind: Literal["udpos"] = "udpos"  # type: ignore[assignment]
    layout: Literal["auto", "original", "xtreme", "hf"] = Field(  # type: ignore[assignment]
        "auto", description="original = the UD release's UD_*/{lang}_*-ud-{split}.conllu (all treebanks of a language "
                            "merged); xtreme = XTREME's {split}-{lang}.tsv; hf = a data set with tokens and upos columns "
                            "(e.g. universal_dependencies, config per treebank); auto = whichever the folder holds.")

    def build(self) -> Any:
        from xlmk.downstream.udpos import UdposTask

        return UdposTask(self)


class _RetrievalSpec(_TaskSpec):
    layer: int | None = Field(None, ge=0, description="Hidden layer whose states are pooled (0 = embeddings); None = "
                                                      "round(7/12 x layers), XTREME's layer 7 of 12.")
    pooling: Literal["mean", "cls"] = Field("mean", description="Mean over the sentence's tokens (XTREME) or the first token.")
    k: int = Field(4, ge=1, description="Neighbours averaged in the margin score (Artetxe & Schwenk: 4).")
    block: int = Field(4096, ge=1, description="Query rows per matrix product when searching.")
    search: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="How neighbours are found: float32 products, or a bfloat16 shortlist re-scored in float32 "
                            "(the same neighbours and scores, proven per row; faster where bfloat16 is native); "
                            "auto = bfloat16 on CUDA and on CPUs with avx512_bf16/amx_bf16, float32 elsewhere.")


class BuccSpec(_RetrievalSpec):
    """BUCC 2018 (de fr ru zh to en): mine parallel sentences, threshold chosen on dev, F1 over pairs."""

    kind: Literal["bucc"] = "bucc"
    layout: Literal["auto", "original", "xtreme"] = Field(
        "auto", description="original = {l}-en/{l}-en.{training,sample}.*; xtreme = {l}-en.{test,dev}.*; auto = whichever.")
    scoring: Literal["cosine", "margin"] = Field("margin", description="Pair score: cosine, or the ratio margin (XTREME's BUCC).")

    def build(self) -> Any:
        from xlmk.downstream.retrieve import BuccTask

        return BuccTask(self)


class TatoebaSpec(_RetrievalSpec):
    """Tatoeba (36 languages paired with English): nearest-neighbour search, accuracy@1."""

    kind: Literal["tatoeba"] = "tatoeba"
    layout: Literal["auto", "original", "xtreme"] = Field(
        "auto", description="original = LASER's tatoeba.{xxx}-eng.*; xtreme = {l}-en.{l,en} + test-{l}.labels.tsv; "
                            "auto = whichever.")
    scoring: Literal["cosine", "margin"] = Field("cosine", description="Neighbour score: cosine (XTREME) or the ratio margin.")

    def build(self) -> Any:
        from xlmk.downstream.retrieve import TatoebaTask

        return TatoebaTask(self)


class CustomTaskSpec(_TaskSpec):
    """Your own task: `target(spec=…, **options)` returns an object with the methods of downstream.base.Task
    (subclass it); `data_dir`, `languages`, `files` and the rest are passed on in `spec`."""

    kind: Literal["custom"] = "custom"
    target: str = Field(description="Callable building the task, as 'package.module:attr'; imported only when built.")
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments passed to the target.")

    def build(self) -> Any:
        return import_target(self.target, where="task.target")(spec=self, **self.options)


TaskSpec = Annotated[Union[XnliSpec, PawsxSpec, MlqaSpec, XquadSpec, TydiqaSpec, NerSpec, PanxSpec, UdposSpec,
                           BuccSpec, TatoebaSpec, CustomTaskSpec], Field(discriminator="kind")]
