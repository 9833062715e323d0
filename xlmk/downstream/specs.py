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

    def root(self) -> Path:
        if self.data_dir is None:
            raise ConfigError("task.data_dir: no data folder given; pass --data DIR (or --set task.data_dir=DIR)")
        if self.data_dir == SAMPLE_WORLD:
            from xlmk.sample_world import DATA_DIR

            return Path(DATA_DIR)
        return Path(self.data_dir).expanduser()


class XnliSpec(_TaskSpec):
    """XNLI (15 languages, 3 labels, accuracy); English MultiNLI for training."""

    kind: Literal["xnli"] = "xnli"
    layout: Literal["auto", "original", "xglue", "hf"] = Field(
        "auto", description="original = XNLI-1.0 + XNLI-MT-1.0 folders; xglue = {lang}.{split} files; hf = the `xnli` "
                            "data set through datasets.load_dataset; auto = whichever the folder holds.")
    hf_name: str = Field("facebook/xnli", description="Data set name or local folder for layout hf.")

    def build(self) -> Any:
        from xlmk.downstream.xnli import XnliTask

        return XnliTask(self)


class MlqaSpec(_TaskSpec):
    """MLQA (7 languages, extractive QA, the official MLQA metric); SQuAD v1.1 for training."""

    kind: Literal["mlqa"] = "mlqa"
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


class NerSpec(_TaskSpec):
    """XGLUE NER (en de es nl; CoNLL-2002/2003, `token tag`, IOB1); entity F1 by conlleval/seqeval."""

    kind: Literal["ner"] = "ner"
    layout: Literal["xglue", "panx", "conll"] = Field(
        "xglue", description="xglue = {lang}.{split} files of `token tag`; panx = {lang}/{split} of `lang:token<TAB>tag`; "
                             "conll = columns with the token first and the tag last (set `files`).")
    labels: list[str] | None = Field(None, description="Tag set; None = the task's tags in the table. Unknown tags in data are errors.")

    def table_key(self) -> str:
        return self.kind

    def build(self) -> Any:
        from xlmk.downstream.ner import NerTask

        return NerTask(self)


class PanxSpec(NerSpec):
    """WikiANN / PAN-X as XTREME uses it (40 languages, `lang:token<TAB>tag`, IOB2)."""

    kind: Literal["panx"] = "panx"  # type: ignore[assignment]
    layout: Literal["xglue", "panx", "conll"] = Field("panx", description=NerSpec.model_fields["layout"].description)


class CustomTaskSpec(_TaskSpec):
    """Your own task: `target(spec=…, **options)` returns an object with the methods of downstream.base.Task
    (subclass it); `data_dir`, `languages`, `files` and the rest are passed on in `spec`."""

    kind: Literal["custom"] = "custom"
    target: str = Field(description="Callable building the task, as 'package.module:attr'; imported only when built.")
    options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments passed to the target.")

    def build(self) -> Any:
        return import_target(self.target, where="task.target")(spec=self, **self.options)


TaskSpec = Annotated[Union[XnliSpec, MlqaSpec, NerSpec, PanxSpec, CustomTaskSpec], Field(discriminator="kind")]
