"""The fine-tuning recipe: which checkpoint, which task, how to train, how to pick the epoch, which seeds.

The shipped recipes (`registry/recipes/finetune/`) carry the paper's settings (Sec. 4.1, following the
XGLUE baselines): MLQA 2 epochs, lr 3e-5, batch 12; NER 20 epochs, lr 5e-6, batch 32; XNLI 10 epochs,
lr 5e-6, batch 32; Adam with linear warm-up; 4 seeds; the epoch kept by the plain mean of the dev
scores over all languages. Settings the paper does not give (warm-up share, weight decay, Adam's eps,
clipping) are fields here with common fine-tuning values as defaults, saved with every run
(RUN/recipe.yaml), so a different choice is one `--set` away and always on record.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from xlmk.components import Encoder, HFMaskedLM
from xlmk.config import Beta, Seed, StrictModel
from xlmk.downstream.specs import TaskSpec
from xlmk.tracking import ReportTo

PROTOCOLS = ("xglue-avg-dev", "xtreme-en-dev")


class Optim(StrictModel):
    name: Literal["adamw", "adam"] = Field("adamw", description="AdamW (decoupled weight decay) or Adam.")
    lr: float = Field(5e-6, gt=0, description="Peak learning rate.")
    epochs: int = Field(10, ge=1, description="Passes over the training set; dev is scored after each.")
    batch_size: int = Field(32, ge=1, description="Examples per optimizer step over all processes.")
    micro_batch_size: int | None = Field(None, ge=1, description="Examples per forward pass per process; None = batch_size / processes (accumulation fills the rest).")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of the steps with linear warm-up (the paper: 'Adam with warm-up').")
    schedule: Literal["linear", "constant"] = Field("linear", description="After warm-up: linear decay to 0, or constant.")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay (not on biases and LayerNorm).")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), description="Adam betas, each in [0, 1).")
    eps: float = Field(1e-8, gt=0, description="Adam epsilon.")
    clip_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping by global norm; null = none.")


class Selection(StrictModel):
    protocols: list[Literal["xglue-avg-dev", "xtreme-en-dev"]] = Field(
        list(PROTOCOLS), min_length=1,
        description="Model-selection rules evaluated on test: xglue-avg-dev = best plain mean of dev over all languages "
                    "(the paper, XGLUE); xtreme-en-dev = best dev score of the training language (XTREME).")
    primary: Literal["xglue-avg-dev", "xtreme-en-dev"] = Field("xglue-avg-dev", description="The protocol whose checkpoint is saved and printed first.")
    std_ddof: Literal[0, 1] = Field(1, description="Degrees of freedom of the std over seeds: 1 = sample std, 0 = population.")

    @model_validator(mode="after")
    def _primary_listed(self) -> "Selection":
        if self.primary not in self.protocols:
            raise ValueError(f"selection.primary {self.primary!r} is not in selection.protocols")
        return self


class Run(StrictModel):
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Autocast precision (bf16/fp16 need a GPU).")
    eval_batch_size: int = Field(64, ge=1, description="Sequences per forward pass when predicting.")
    group_by_length: bool = Field(True, description="Batch training examples of similar length (less padding); the batch order stays random.")
    save_model: bool = Field(True, description="Save the primary protocol's best checkpoint to RUN/seed-N/model.")
    save_predictions: bool = Field(True, description="Write per-example test (and selected dev) predictions in the data set's layout.")
    cpu: bool = Field(False, description="Run on CPU even when a GPU is present.")
    output_dir: str = Field("runs/finetune", description="Run directory when --out is not given.")
    log_every: int = Field(50, ge=1, description="Optimizer steps between loss lines in the history.")
    report_to: ReportTo = Field("none", description="Experiment tracker for each epoch's train loss and dev scores: "
                                                   "tensorboard, wandb (offline unless WANDB_MODE/WANDB_API_KEY) or none.")


class FinetuneRecipe(StrictModel):
    """A zero-shot cross-lingual fine-tuning run: train on one language, evaluate all."""

    name: str = Field(description="Recipe name (the file's stem by default).")
    version: int = Field(1, ge=1, description="Bumped when the recipe's meaning changes; stored in every result row.")
    description: str = Field("", description="One line on what the recipe is for.")
    encoder: Encoder = Field(default_factory=HFMaskedLM, description="The checkpoint to fine-tune (`--model DIR` sets an hf-masked-lm path).")
    task: TaskSpec = Field(description="The task, its data and languages.")
    seeds: list[Seed] = Field([1, 2, 3, 4], min_length=1, description="One fine-tuning run per seed (the paper: 4); avg, max and std are reported.")
    optim: Optim = Field(default_factory=Optim, description="Optimizer, schedule and epochs.")
    selection: Selection = Field(default_factory=Selection, description="How the epoch is chosen.")
    run: Run = Field(default_factory=Run, description="Precision, batching, outputs.")

    @model_validator(mode="after")
    def _checks(self) -> "FinetuneRecipe":
        if self.encoder.kind == "custom":
            raise ValueError("encoder: fine-tuning loads AutoModelFor* classes from a checkpoint; use kind "
                             "hf-masked-lm (a directory or hub name) or init")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: repeated seed in {self.seeds}")
        mb = self.optim.micro_batch_size
        if mb is not None and mb > self.optim.batch_size:
            raise ValueError("optim.micro_batch_size cannot exceed optim.batch_size")
        return self
