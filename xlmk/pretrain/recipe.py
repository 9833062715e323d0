"""The pre-training recipe: which encoder, which data, which objectives, with which components.

Each ablation of the paper's Table 4 is a recipe built from the same parts (registry/recipes/pretrain).
Choices the paper leaves open are fields with the paper's (or the released code's) value as default,
and the resolved recipe is saved with every checkpoint.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from xlmk.components import ContrastiveLoss, DatasetSpec, Encoder, FIFOQueue, Head, HFMaskedLM, Loss, MLPHead, Queue
from xlmk.config import Beta, Seed, StrictModel
from xlmk.tracking import ReportTo


class MLMTask(StrictModel):
    """Masked language modelling, XLM-R style (15% of tokens; 80% <mask>, 10% random, 10% kept)."""

    weight: float = Field(1.0, ge=0, description="Weight of L_MLM in the joint loss (Eq. 6).")
    sources: list[Literal["corpus", "descriptions"]] = Field(
        default_factory=lambda: ["corpus"],
        description="Text MLM is computed on: corpus = data.corpus; descriptions = the entity descriptions merged "
                    "into the same stream, weighted by row count (`mlm-continued`). Table 4's 'w/o knowledge "
                    "task' is `tasks.desc_mlm`, a stream of its own.")
    mask_prob: float = Field(0.15, gt=0, lt=1, description="Share of tokens selected for prediction.")
    max_length: int = Field(512, ge=8, description="Maximum tokens per MLM sequence.")


class DescriptionMLMTask(StrictModel):
    """MLM on the entity descriptions as a task of its own: its own stream over the descriptions table and
    its own term in the joint loss, masked as `tasks.mlm` masks (Table 4's 'w/o knowledge task', which
    replaces L_e + L_o by an MLM loss on the descriptions)."""

    weight: float = Field(1.0, ge=0, description="Weight of this term in the joint loss.")
    sequences: int = Field(
        1, ge=1, description="Description sequences per example slot: each step holds `sequences` x the examples of one "
                             "task. MEP and OE each encode a pair (2 sequences) per example, so 4 replaces both one for one.")
    mask_prob: float = Field(0.15, gt=0, lt=1, description="Share of tokens selected for prediction.")
    max_length: int = Field(256, ge=8, description="Maximum tokens per description (the knowledge tasks' 256).")


class MEPTask(StrictModel):
    """Masked Entity Prediction (Sec. 3.2): the masked mention's state predicts its entity's description."""

    weight: float = Field(1.0, ge=0, description="Weight of L_e in the joint loss.")
    description_language: Literal["other", "same"] = Field(
        "other", description="other = description in another language than the sentence (the paper); same = monolingual ablation.")
    mention_mask: Literal["span", "per-token"] = Field(
        "span", description="span = the whole mention becomes one <mask>; per-token = one <mask> per sub-token.")
    max_length: int = Field(256, ge=8, description="Maximum tokens of the sentence and of the description.")
    layer: int = Field(-1, description="Encoder layer whose states are contrasted (-1 = the last, as the paper; "
                                       "the released code makes it configurable, InfoXLM uses 8).")
    pooling: Literal["first", "mean"] = Field(
        "first", description="first = the paper: the state at the mention's first position, [CLS] of the description; "
                             "mean = the mean state over each sequence's tokens (beyond the paper).")
    loss: Loss | None = Field(None, description="Loss of this task; None = the recipe's `loss`.")
    mlm_weight: float = Field(
        0.0, ge=0, description="MLM on the mention sentences of MEP batches (the released code), computed in the same "
                               "forward with tasks.mlm's masking outside the mention; its weight in the joint loss; 0 = off "
                               "(the paper).")


class OETask(StrictModel):
    """Object Entailment (Sec. 3.3): subject description + relation embedding predict the object description."""

    weight: float = Field(1.0, ge=0, description="Weight of L_o in the joint loss.")
    description_language: Literal["other", "same"] = Field(
        "other", description="other = object described in another language than the subject (the paper).")
    max_length: int = Field(256, ge=8, description="Maximum tokens of each description.")
    layer: int = Field(-1, description="Encoder layer whose [CLS] states are used (-1 = the last, as the paper).")
    pooling: Literal["first", "mean"] = Field(
        "first", description="first = [CLS] of each description (the paper); mean = the mean state over its tokens.")
    loss: Loss | None = Field(None, description="Loss of this task; None = the recipe's `loss`. "
                                                "relation-cross-entropy = Table 4's 'OE w/o contrastive loss'.")


class Tasks(StrictModel):
    mlm: MLMTask | None = Field(default_factory=MLMTask, description="MLM objective; null to leave it out.")
    mep: MEPTask | None = Field(default_factory=MEPTask, description="Masked Entity Prediction; null to leave it out.")
    oe: OETask | None = Field(default_factory=OETask, description="Object Entailment; null to leave it out.")
    desc_mlm: DescriptionMLMTask | None = Field(
        None, description="MLM on the descriptions as a task of its own (Table 4's 'w/o knowledge task'); null = none.")
    schedule: Literal["joint", "alternate", "one-task-per-batch"] = Field(
        "joint", description="joint = every micro-batch holds a batch of every task and the step sums their losses; "
                             "alternate = one task per micro-batch, in turn; one-task-per-batch = every optimizer step "
                             "is one task's batch, tasks in turn (the released code).")
    language_centering: float | None = Field(
        None, ge=0, lt=1, description="Beyond the paper: subtract a running mean (this momentum) of each language's pooled "
                                      "states before every knowledge head, and at probe time, so a cross-lingual match is "
                                      "not ruled by the language direction that dominates an MLM-trained encoder's states; "
                                      "None = off (the paper).")
    key_momentum: float | None = Field(
        None, ge=0, lt=1, description="Momentum key encoder (MoCo, beyond the paper): descriptions on the key side are "
                                      "encoded by a copy of the encoder updated after each step as m * copy + (1 - m) * "
                                      "encoder, keeping queued keys consistent; None = one shared encoder (the paper).")

    @model_validator(mode="after")
    def _at_least_one(self) -> "Tasks":
        if self.mlm is None and self.mep is None and self.oe is None and self.desc_mlm is None:
            raise ValueError("a recipe needs at least one task (mlm, mep, oe or desc_mlm)")
        return self


class Data(StrictModel):
    knowledge: DatasetSpec | None = Field(None, description="Knowledge directory for MEP/OE (and MLM over descriptions).")
    corpus: DatasetSpec | None = Field(None, description="Plain-text corpus for MLM (the paper: CC-100).")
    heldout: float = Field(0.02, ge=0, lt=0.5, description="Share of mentions and triples kept out of training "
                                                          "(chosen by a hash of the row) for held-out XEP/XOR probing.")
    heldout_entities: float = Field(
        0.02, ge=0, lt=0.5, description="Share of entities (chosen by a hash of the QID) whose mentions and subject-triples "
                                        "never enter training: the `split: entities` of XEP/XOR (zero-shot entities).")
    cache_dir: str | None = Field(None, description="Where tokenized data is cached; None = $XLMK_CACHE or ~/.cache/xlmk.")
    prepare_workers: int = Field(1, ge=1, description="Processes that tokenize the knowledge and the corpus (once; "
                                                     "the cached result is the same for any number).")


class Optim(StrictModel):
    name: Literal["adamw", "adam"] = Field("adamw", description="Adam (the paper) or AdamW (decoupled weight decay).")
    lr: float = Field(3e-5, gt=0, description="Peak learning rate (the paper: 3e-5).")
    betas: tuple[Beta, Beta] = Field((0.9, 0.98), description="Adam betas, each in [0, 1) (XLM-R: 0.9, 0.98).")
    eps: float = Field(1e-6, gt=0, description="Adam epsilon.")
    weight_decay: float = Field(0.01, ge=0, description="Weight decay.")
    head_lr_scale: float = Field(1.0, gt=0, description="The knowledge heads and relation embeddings train at lr x this "
                                                         "(1 = one learning rate, as the paper).")
    warmup_steps: int = Field(10_000, ge=0, description="Linear warm-up steps (the paper: 10k).")
    max_steps: int = Field(100_000, ge=1, description="Optimizer steps in all (not given by the paper).")
    schedule: Literal["linear", "constant", "cosine"] = Field("linear", description="Decay after warm-up.")
    clip_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping by global norm; null = none.")


class Batch(StrictModel):
    effective_size: int = Field(
        8192, ge=1, description="Examples per task per optimizer step over all processes (the paper's batch of 8192). "
                                "Under `joint` a step holds this many examples of every task (an MEP or OE example is "
                                "two sequences); under `alternate` and `one-task-per-batch` this many in all. "
                                "`xlmk recipe show` prints sequences and tokens per step.")
    micro_size: int = Field(32, ge=1, description="Examples per task per forward pass per process; accumulation fills the rest.")
    bucket_pool: int = Field(16, ge=1, description="Micro-batches drawn together and sorted by length before batching "
                                                  "(less padding); 1 = no length bucketing.")


class Run(StrictModel):
    precision: Literal["fp32", "bf16", "fp16"] = Field("bf16", description="Autocast precision (bf16 needs a capable GPU).")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory in the encoder.")
    log_every: int = Field(10, ge=1, description="Optimizer steps between metric lines.")
    save_every: int = Field(1000, ge=1, description="Optimizer steps between checkpoints.")
    keep_last: int = Field(2, ge=1, description="Training-state checkpoints to keep.")
    output_dir: str = Field("runs/pretrain", description="Where checkpoints, metrics and the final model go.")
    heldout_batch: int = Field(32, ge=2, description="Batch size of the in-batch held-out XEP/XOR check (chance = 1/size).")
    heldout_max: int = Field(2048, ge=0, description="At most this many held-out mentions and triples are scored; 0 = no check.")
    report_to: ReportTo = Field("none", description="Experiment tracker for the metric lines: tensorboard (RUN/<name>/ event "
                                                   "files), wandb (offline unless WANDB_MODE/WANDB_API_KEY) or none.")


class PretrainRecipe(StrictModel):
    """A complete pre-training run."""

    name: str = Field(description="Recipe name (the file's stem by default).")
    version: int = Field(1, ge=1, description="Bumped when the recipe's meaning changes; stored in every result row.")
    description: str = Field("", description="One line on what the recipe is for.")
    seed: Seed = Field(1, description="Seed of data order, masking, initialisation of heads and queue.")
    encoder: Encoder = Field(default_factory=HFMaskedLM, description="Initial checkpoint.")
    data: Data = Field(default_factory=Data, description="Training data.")
    tasks: Tasks = Field(default_factory=Tasks, description="Objectives and their weights.")
    head: Head = Field(default_factory=MLPHead, description="Projection head (one instance per side of each task).")
    queue: Queue = Field(default_factory=FIFOQueue, description="Candidate queue (one per task).")
    loss: Loss = Field(default_factory=ContrastiveLoss, description="Loss of the knowledge tasks.")
    optim: Optim = Field(default_factory=Optim, description="Optimizer and schedule.")
    batch: Batch = Field(default_factory=Batch, description="Batch sizes.")
    run: Run = Field(default_factory=Run, description="Precision, logging and checkpointing.")

    @model_validator(mode="after")
    def _data_for_tasks(self) -> "PretrainRecipe":
        t = self.tasks
        needs_knowledge = (t.mep is not None or t.oe is not None or t.desc_mlm is not None
                           or (t.mlm is not None and "descriptions" in t.mlm.sources))
        if needs_knowledge and self.data.knowledge is None:
            raise ValueError("data.knowledge is required by the mep/oe/desc_mlm tasks (or MLM over descriptions)")
        if t.mep is not None and t.mep.mlm_weight > 0 and t.mlm is None:
            raise ValueError("tasks.mep.mlm_weight needs tasks.mlm (its masking and the model's MLM head)")
        if t.mlm is not None and "corpus" in t.mlm.sources and self.data.corpus is None:
            raise ValueError("data.corpus is required by tasks.mlm with sources: [corpus]")
        if self.batch.micro_size > self.batch.effective_size:
            raise ValueError("batch.micro_size cannot exceed batch.effective_size")
        if self.batch.effective_size % self.batch.micro_size:
            raise ValueError(f"batch.effective_size ({self.batch.effective_size}) must be a multiple of "
                             f"batch.micro_size ({self.batch.micro_size}) for gradient accumulation")
        return self


# sequences one example of a task puts through the encoder
SEQUENCES_PER_EXAMPLE = {"mlm": 1, "mep": 2, "oe": 2}


def step_shape(recipe: PretrainRecipe, world_size: int = 1) -> dict:
    """What one optimizer step holds: per task, examples, sequences and at most how many tokens, and the totals.

    Under `joint` every micro-batch holds every task; under `alternate` the micro-batches of a step go to the
    tasks in turn (the mean share is shown); under `one-task-per-batch` a whole step is one task's.
    """
    t, b = recipe.tasks, recipe.batch
    names = [n for n in ("mlm", "mep", "oe", "desc_mlm") if getattr(t, n) is not None]
    share = 1.0 if t.schedule == "joint" else 1.0 / len(names)
    tasks = {}
    for n in names:
        task = getattr(t, n)
        per = task.sequences if n == "desc_mlm" else SEQUENCES_PER_EXAMPLE[n]
        examples = b.effective_size * share
        tasks[n] = {"examples": examples, "sequences": examples * per, "max_tokens": examples * per * task.max_length}
    return {"schedule": t.schedule, "micro_batches": b.effective_size // (b.micro_size * world_size), "tasks": tasks,
            "sequences": sum(x["sequences"] for x in tasks.values()),
            "max_tokens": sum(x["max_tokens"] for x in tasks.values())}
