"""The pre-training stream: which tasks each micro-batch holds, this process's slice, collated tensors.

`joint` puts a batch of every task in each micro-batch (Eq. 6 summed in one forward); `alternate` gives
each micro-batch one task, in turn; `one-task-per-batch` gives every micro-batch of an optimizer step the
same task, tasks in turn by step (the released code). Knowledge is prepared (tokenized) on first use; see
`prepare.py`. `desc_mlm` (Table 4's 'w/o knowledge task') is a stream of its own over the descriptions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlmk.errors import DataError
from xlmk.pretrain.data import (
    SALT,
    BucketedBatches,
    MEPExamples,
    MLMExamples,
    OEExamples,
    TokenInfo,
    collate_mep,
    collate_mlm,
    collate_oe,
    mep_groups,
    oe_groups,
)
from xlmk.pretrain.prepare import PreparedCorpus, PreparedKnowledge, prepare_corpus, prepare_knowledge
from xlmk.pretrain.recipe import PretrainRecipe


@dataclass
class Sources:
    """The prepared data a recipe trains on (None where it needs none)."""

    knowledge: PreparedKnowledge | None = None
    corpus: PreparedCorpus | None = None
    knowledge_dir: Path | None = None
    corpus_files: list[Path] = field(default_factory=list)

    @property
    def data_hash(self) -> str:
        import hashlib

        parts = [x.data_hash for x in (self.knowledge, self.corpus) if x is not None]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


def alpha_of(spec: Any) -> float:
    """The language-sampling exponent of a data spec; a `custom` source without one gets XLM-R's 0.3."""
    return float(getattr(spec, "alpha", 0.3))


TASKS = ("mlm", "mep", "oe", "desc_mlm")


def task_names(recipe: PretrainRecipe) -> list[str]:
    """The tasks whose batches the stream draws."""
    t = recipe.tasks
    return [name for name in TASKS if getattr(t, name) is not None]


def loss_names(recipe: PretrainRecipe) -> list[str]:
    """The terms of the joint loss: the tasks, and `mep_mlm` (MLM on MEP's sentences) when it is on."""
    t = recipe.tasks
    return task_names(recipe) + (["mep_mlm"] if t.mep is not None and t.mep.mlm_weight > 0 else [])


def prepare_sources(recipe: PretrainRecipe, tokenizer: Any) -> Sources:
    """Build the data specs and tokenize what the recipe's tasks need (cached across runs)."""
    t, d = recipe.tasks, recipe.data
    out = Sources()
    if d.knowledge is not None:
        from xlmk.contracts import check_knowledge as check_knowledge_dir
        from xlmk.contracts import safe_names

        languages = safe_names(getattr(d.knowledge, "languages", None), "data.knowledge.languages")
        out.knowledge_dir = Path(d.knowledge.build())
        # before tokenizing: a directory without the tables the tasks read is named with what builds them
        check_knowledge_dir(out.knowledge_dir, knowledge_needs(recipe), languages=languages,
                        per_language=("mentions",) if t.mep is not None else ("descriptions",))
        lengths = [x.max_length for x in (t.mep, t.oe) if x is not None]
        out.knowledge = prepare_knowledge(
            out.knowledge_dir, tokenizer, languages=getattr(d.knowledge, "languages", None),
            description_max=max([256, *lengths]), mention_max=max(256, t.mep.max_length if t.mep else 0),
            heldout=d.heldout, cache_dir=d.cache_dir, workers=d.prepare_workers)
        check_knowledge(recipe, out.knowledge, out.knowledge_dir)
    if t.mlm is not None and "corpus" in t.mlm.sources:
        out.corpus_files = [Path(p) for p in d.corpus.build()]
        if not out.corpus_files:
            raise DataError("data.corpus: no corpus files (check `languages` and `paths`)")
        out.corpus = prepare_corpus(out.corpus_files, tokenizer, max_length=t.mlm.max_length, cache_dir=d.cache_dir,
                                    workers=d.prepare_workers)
    return out


def knowledge_needs(recipe: PretrainRecipe) -> dict[str, str]:
    """The knowledge tables each task of the recipe reads, with the task that needs them."""
    t, needs = recipe.tasks, {}
    if t.mep is not None:
        needs.update(mentions="tasks.mep", descriptions="tasks.mep")
    if t.oe is not None:
        needs.update(triples="tasks.oe")
        needs.setdefault("descriptions", "tasks.oe")
    if t.mlm is not None and "descriptions" in t.mlm.sources:
        needs.setdefault("descriptions", "tasks.mlm.sources: descriptions")
    return needs


def check_knowledge(recipe: PretrainRecipe, kp: PreparedKnowledge, kdir: Path) -> None:
    """A recipe asking for data the knowledge directory lacks stops here, naming the task and the table."""
    t = recipe.tasks
    if t.mep is not None:
        if not len(kp.mention):
            raise DataError("tasks.mep needs mentions, and the knowledge directory has none usable "
                            "(mentions/*.parquet missing, empty, or without described entities)", path=kdir)
        same = t.mep.description_language == "same"
        if not any(len(g) for g in mep_groups(kp, same, heldout=False).values()):
            where = "in the sentence's language" if same else "in a language other than the sentence's"
            raise DataError(f"tasks.mep: no mention has a description of its entity {where}; "
                            "cross-lingual pairs need entities described in two or more languages", path=kdir)
    if t.oe is not None:
        if not len(kp.triple_s):
            raise DataError("tasks.oe needs triples whose subject and object are both described, and the "
                            "knowledge directory has none (triples/*.parquet missing or empty)", path=kdir)
        if not any(len(g) for g in oe_groups(kp, t.oe.description_language == "same", heldout=False).values()):
            raise DataError("tasks.oe: no triple has its object described in a language other than one of its "
                            "subject's (set tasks.oe.description_language: same for monolingual pairs)", path=kdir)
    if t.mlm is not None and "descriptions" in t.mlm.sources and not len(kp.desc):
        raise DataError("tasks.mlm.sources lists descriptions, and the knowledge directory has none", path=kdir)
    if t.desc_mlm is not None and not len(kp.desc):
        raise DataError("tasks.desc_mlm needs descriptions, and the knowledge directory has none", path=kdir)


def check_sizes(recipe: PretrainRecipe, encoder: Any, device: Any = None) -> None:
    """Sequence lengths within the encoder's positions and queues that fit in memory, before any data work."""
    from xlmk.components import MLPHead, RelationCrossEntropy
    from xlmk.contracts import check_lengths, check_queue_memory

    t = recipe.tasks
    check_lengths({f"tasks.{n}.max_length": getattr(t, n).max_length for n in task_names(recipe)}, encoder.config)
    size = getattr(recipe.queue, "size", 0)
    queues = sum(1 for n in ("mep", "oe") if getattr(t, n) is not None
                 and not isinstance(getattr(t, n).loss or recipe.loss, RelationCrossEntropy))
    if size and queues and isinstance(recipe.head, MLPHead):
        check_queue_memory(size, recipe.head.output_dim or encoder.config.hidden_size, queues, device)


class PretrainStream:
    """Micro-batches for one process: a dict task -> collated tensors."""

    def __init__(self, recipe: PretrainRecipe, sources: Sources, tokenizer: Any, vocab_size: int,
                 rank: int = 0, world_size: int = 1):
        t, b, seed = recipe.tasks, recipe.batch, recipe.seed
        self.recipe, self.rank, self.micro = recipe, rank, b.micro_size
        self.info = TokenInfo.of(tokenizer, vocab_size)
        self.names = task_names(recipe)
        self.schedule, self.turn = t.schedule, 0
        self.accum = b.effective_size // (b.micro_size * world_size)
        glob = b.micro_size * world_size
        self.batches: dict[str, BucketedBatches] = {}
        kp = sources.knowledge
        k_alpha, c_alpha = alpha_of(recipe.data.knowledge), alpha_of(recipe.data.corpus)
        for name in self.names:
            if name == "mlm":
                alpha = c_alpha if "corpus" in t.mlm.sources else k_alpha
                ex: Any = MLMExamples(sources.corpus, kp, t.mlm.sources, alpha, seed)
            elif name == "desc_mlm":
                ex = MLMExamples(None, kp, ["descriptions"], k_alpha, seed, salt=SALT[name])
            elif name == "mep":
                ex = MEPExamples(kp, t.mep.description_language, k_alpha, seed, exclude=self.excluded(recipe, kp))
            else:
                ex = OEExamples(kp, t.oe.description_language, k_alpha, seed, exclude=self.excluded(recipe, kp))
            size = glob * (t.desc_mlm.sequences if name == "desc_mlm" else 1)
            self.batches[name] = BucketedBatches(ex, size, b.bucket_pool, seed, SALT[name])
        self.mine = {n: (rank * size // world_size, (rank + 1) * size // world_size)
                     for n, size in ((n, bb.size) for n, bb in self.batches.items())}

    @staticmethod
    def excluded(recipe: PretrainRecipe, kp: PreparedKnowledge):
        """Entities held out of training (`data.heldout_entities`): a boolean per QID of the prepared knowledge."""
        from xlmk.pretrain.heldout import entity_mask

        return entity_mask(kp.qids, recipe.data.heldout_entities)

    def next(self) -> dict[str, dict]:
        if self.schedule == "joint":
            names = self.names
        elif self.schedule == "alternate":
            names = [self.names[self.turn % len(self.names)]]
        else:  # one-task-per-batch: the step's micro-batches are all one task's
            names = [self.names[(self.turn // self.accum) % len(self.names)]]
        self.turn += 1
        out = {}
        for name in names:
            a, b = self.mine[name]
            out[name] = self.collate(name, self.batches[name].next()[a:b])
        return out

    def collate(self, name: str, exs: list[dict]) -> dict:
        t = self.recipe.tasks
        if name == "mlm":
            return collate_mlm(exs, self.info, t.mlm.mask_prob, t.mlm.max_length, self.recipe.seed)
        if name == "desc_mlm":
            return collate_mlm(exs, self.info, t.desc_mlm.mask_prob, t.desc_mlm.max_length, self.recipe.seed)
        if name == "mep":
            mlm_prob = t.mlm.mask_prob if t.mep.mlm_weight > 0 else None
            return collate_mep(exs, self.info, t.mep.mention_mask, t.mep.max_length, mlm_prob=mlm_prob, seed=self.recipe.seed)
        return collate_oe(exs, self.info, t.oe.max_length)

    def state_dict(self) -> dict:
        return {"turn": self.turn, "tasks": {n: b.state_dict() for n, b in self.batches.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.turn = int(state["turn"])
        for n, b in self.batches.items():
            b.load_state_dict(state["tasks"][n])
