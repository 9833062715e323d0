"""The pre-training model: a shared encoder, the knowledge heads, one candidate queue per task, and the
forward pass that turns a micro-batch of every task into the joint loss of Eq. 6.

Distributed runs: keys are gathered from every process *with* their gradient (each process scores its
queries against the whole global batch, as a one-process run of the same global batch does), and every
loss is scaled so that DDP's gradient average equals the one-process gradient exactly: a task's loss on
one process is its sum over local items divided by the global item count, times the world size.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xlmk.components import RelationCrossEntropy
from xlmk.errors import ConfigError
from xlmk.pretrain.heads import KnowledgeHeads
from xlmk.pretrain.recipe import PretrainRecipe


# ---------------------------------------------------------------- collectives
def world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sizes(n: int, device: Any) -> list[int]:
    import torch.distributed as dist

    t = torch.tensor([n], device=device)
    parts = [torch.zeros_like(t) for _ in range(world()[1])]
    dist.all_gather(parts, t)
    return [int(p) for p in parts]


def _gather_padded(x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    import torch.distributed as dist

    # all_gather wants equal shapes: pad to the longest, then cut each piece back
    padded = torch.cat([x, x.new_zeros((max(sizes) - x.shape[0], *x.shape[1:]))]).contiguous()
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)])


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, sizes):  # noqa: D102
        ctx.sizes, ctx.rank = sizes, world()[0]
        return _gather_padded(x, sizes)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        import torch.distributed as dist

        # every process holds gradients for every key; the owner of a key receives their sum
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None


def gather(x: torch.Tensor, *, grad: bool = False, sizes: list[int] | None = None) -> tuple[torch.Tensor, int, list[int]]:
    """Concatenate `x` from every process in rank order (first dimensions may differ: a last batch can be
    short on one process). Returns the result, where this process's rows start in it, and all sizes."""
    rank, size = world()
    if size == 1:
        return x, 0, [x.shape[0]]
    sizes = sizes or _sizes(x.shape[0], x.device)
    out = _GatherWithGrad.apply(x, sizes) if grad else _gather_padded(x, sizes)
    return out, sum(sizes[:rank]), sizes


def global_sum(value: int | float, device: Any) -> float:
    import torch.distributed as dist

    t = torch.tensor([float(value)], device=device)
    if world()[1] > 1:
        dist.all_reduce(t)
    return float(t.item())


def pool(h: torch.Tensor, mask: torch.Tensor, how: str, pos: torch.Tensor | None = None) -> torch.Tensor:
    """One vector per sequence: `first` = the state at `pos` (the mention) or position 0 ([CLS]), as the
    paper; `mean` = the mean over the sequence's tokens."""
    if how == "mean":
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)
    return h[:, 0] if pos is None else h[torch.arange(h.shape[0], device=h.device), pos]


# ---------------------------------------------------------------- heads
def build_heads(recipe: PretrainRecipe, hidden: int, relations: list[str],
                languages: list[str] | None = None) -> KnowledgeHeads | None:
    t = recipe.tasks
    heads: dict[str, nn.Module] = {}
    if t.mep is not None:
        if isinstance(t.mep.loss, RelationCrossEntropy):
            raise ConfigError("tasks.mep.loss: relation-cross-entropy classifies relations and only fits tasks.oe")
        heads["mep_query"], heads["mep_key"] = recipe.head.build(hidden_size=hidden), recipe.head.build(hidden_size=hidden)
    classify = t.oe is not None and isinstance(t.oe.loss or recipe.loss, RelationCrossEntropy)
    if t.oe is not None and not classify:
        heads["oe_query"], heads["oe_key"] = recipe.head.build(hidden_size=hidden), recipe.head.build(hidden_size=hidden)
    if not heads and not classify:
        return None
    loss = recipe.loss.model_dump(mode="json")
    meta = {"recipe": recipe.name, "recipe_version": recipe.version, "loss": loss,
            "mep_layer": t.mep.layer if t.mep else None, "oe_layer": t.oe.layer if t.oe else None,
            "mep_pooling": t.mep.pooling if t.mep else None, "oe_pooling": t.oe.pooling if t.oe else None,
            "mention_mask": t.mep.mention_mask if t.mep else None}
    return KnowledgeHeads(heads, relation_ids=relations if t.oe is not None else None, hidden_size=hidden,
                          classifier=classify, meta=meta, embed_relations=not classify, languages=languages,
                          center_momentum=t.language_centering)


def doc2word_weight(recipe: PretrainRecipe, task: str) -> float:
    """Weight of a task's reverse (key -> query, "doc2word") direction; 0 when its loss has none."""
    spec = getattr(recipe.tasks, task)
    return float(getattr(spec.loss or recipe.loss, "doc2word_weight", 0.0)) if spec is not None else 0.0


def build_queues(recipe: PretrainRecipe, dim: int, generator: torch.Generator) -> nn.ModuleDict:
    """One queue of keys per contrastive task, and one of queries (`<task>_doc2word`) per reverse direction."""
    t = recipe.tasks
    names = [n for n in ("mep", "oe") if getattr(t, n) is not None
             and not isinstance(getattr(t, n).loss or recipe.loss, RelationCrossEntropy)]
    names += [f"{n}_doc2word" for n in list(names) if doc2word_weight(recipe, n) > 0]
    return nn.ModuleDict({n: recipe.queue.build(dim=dim, generator=generator) for n in names})


# ---------------------------------------------------------------- the model
class KnowledgeModel(nn.Module):
    """Encoder + heads + queues; `forward(batch)` returns the weighted joint loss and per-task numbers."""

    def __init__(self, encoder: nn.Module, heads: KnowledgeHeads | None, queues: nn.ModuleDict, recipe: PretrainRecipe):
        super().__init__()
        self.encoder, self.heads, self.queues = encoder, heads, queues
        self.mlm_head = getattr(encoder, "lm_head", None) or getattr(encoder, "cls", None)
        t = recipe.tasks
        if (t.mlm is not None or t.desc_mlm is not None) and self.mlm_head is None:
            raise ConfigError("encoder: the model has no `lm_head` (RoBERTa family) or `cls` (BERT family) for MLM")
        self.tasks = [n for n in ("mlm", "mep", "oe", "desc_mlm") if getattr(t, n) is not None]
        self.weights = {n: getattr(t, n).weight for n in self.tasks}
        if t.mep is not None and t.mep.mlm_weight > 0:
            self.weights["mep_mlm"] = t.mep.mlm_weight  # MLM on MEP's sentences, logged as a term of its own
        self.doc2word = {n: doc2word_weight(recipe, n) for n in ("mep", "oe")}
        self._last_sentence_states: torch.Tensor | None = None
        self.layers = {"mep": t.mep.layer if t.mep else -1, "oe": t.oe.layer if t.oe else -1}
        self.pooling = {"mep": t.mep.pooling if t.mep else "first", "oe": t.oe.pooling if t.oe else "first"}
        self.loss_fns = {n: (getattr(t, n).loss or recipe.loss).build() for n in ("mep", "oe") if getattr(t, n) is not None}
        self.push_per_step = getattr(recipe.queue, "push", "micro-batch") == "step"
        self.pending: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._groups = self._param_groups()
        # MoCo-style momentum branch: frozen copies of the encoder and the key heads, moved towards them after
        # each optimizer step, encode the keys that go into the queue. In-batch keys stay on the live branch,
        # so the key heads keep learning; the queue stays consistent while the live encoder moves fast.
        self.momentum = t.key_momentum if self.queues is not None and len(self.queues) else None
        self.key_encoder = copy.deepcopy(encoder.base_model).requires_grad_(False) if self.momentum is not None else None
        self.key_heads = (nn.ModuleDict({f"{n}_key": copy.deepcopy(heads.get(f"{n}_key")).requires_grad_(False)
                                         for n in self.queues if n in ("mep", "oe")}) if self.momentum is not None else None)

    def _param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters only one task uses; an alternate micro-batch without that task touches them with a
        zero so that DDP sees every parameter take part (no `find_unused_parameters` needed)."""
        shared = {id(p) for p in self.encoder.base_model.parameters()}
        groups = {"mlm": [p for p in (self.mlm_head.parameters() if self.mlm_head is not None else [])
                          if id(p) not in shared]}
        groups["desc_mlm"] = groups["mlm"]
        h = self.heads
        groups["mep"] = [p for n in ("mep_query", "mep_key") if h is not None and h.get(n) is not None
                         for p in h.get(n).parameters()]
        groups["oe"] = [p for n in ("oe_query", "oe_key") if h is not None and h.get(n) is not None
                        for p in h.get(n).parameters()]
        if h is not None:
            groups["oe"] += [p for m in (h.relations, h.classifier) if m is not None for p in m.parameters()]
        return groups

    def states(self, ids: torch.Tensor, mask: torch.Tensor, layer: int = -1) -> torch.Tensor:
        out = self.encoder.base_model(input_ids=ids, attention_mask=mask, output_hidden_states=layer != -1)
        return out.last_hidden_state if layer == -1 else out.hidden_states[layer]

    @torch.no_grad()
    def momentum_keys(self, name: str, ids: torch.Tensor, mask: torch.Tensor,
                      lang: torch.Tensor | None = None) -> torch.Tensor:
        """Keys of the momentum branch (queue entries), when the recipe has one."""
        layer = self.layers[name]
        out = self.key_encoder(input_ids=ids, attention_mask=mask, output_hidden_states=layer != -1)
        h = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        z = pool(h, mask, self.pooling[name])
        return self.key_heads[f"{name}_key"](z if lang is None else self.heads.center(f"{name}_key", z, lang))

    @torch.no_grad()
    def momentum_update(self) -> None:
        """copy = m * copy + (1 - m) * live, for the encoder and the key heads, after each optimizer step."""
        if self.key_encoder is None:
            return
        pairs = [(self.key_encoder, self.encoder.base_model)] + [(h, self.heads.get(n)) for n, h in self.key_heads.items()]
        for frozen, live in pairs:
            for k, q in zip(frozen.parameters(), live.parameters()):
                k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)

    def extra_state(self) -> dict[str, torch.Tensor]:
        """What an exact resume needs beyond the HF weights and the heads: the momentum branch."""
        if self.key_encoder is None:
            return {}
        parts = {"key_encoder": self.key_encoder, "key_heads": self.key_heads}
        return {f"{p}.{k}": v.detach().cpu().contiguous() for p, m in parts.items() for k, v in m.state_dict().items()}

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        if self.key_encoder is not None:
            for p, m in (("key_encoder", self.key_encoder), ("key_heads", self.key_heads)):
                m.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.split(".", 1)[0] == p})

    def forward(self, batch: dict[str, dict[str, torch.Tensor]]) -> dict[str, Any]:
        total: torch.Tensor | None = None
        logs: dict[str, dict[str, float]] = {}
        for name, b in batch.items():
            loss, logs[name] = getattr(self, f"_{name}")(b)
            total = self.weights[name] * loss if total is None else total + self.weights[name] * loss
            if name == "mep" and "labels" in b:  # MLM on the mention sentences, from the same forward
                h, self._last_sentence_states = self._last_sentence_states, None
                loss, logs["mep_mlm"] = self._mlm_loss(h, b["labels"])
                total = total + self.weights["mep_mlm"] * loss
        missing = [n for n in self.tasks if n not in batch]
        if missing:
            touch = [p for n in missing for p in self._groups.get(n, [])]
            if {"mlm", "desc_mlm"} & set(missing) and any(self.layers.get(n, -1) != -1 for n in batch):
                touch += list(self.encoder.base_model.parameters())  # layers above the contrast layer
            if touch:
                total = total + 0.0 * sum(p.sum() for p in touch)
        return {"loss": total, "logs": logs}

    # ------------------------------------------------------------ tasks
    def _mlm(self, b: dict) -> tuple[torch.Tensor, dict]:
        return self._mlm_loss(self.states(b["input_ids"], b["attention_mask"]), b["labels"])

    _desc_mlm = _mlm  # the descriptions' own MLM stream: the same loss on its own batches

    def _mlm_loss(self, h: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict]:
        sel = labels != -100
        # the vocabulary projection only at predicted positions: 15% of a [b, 512, 250k] logit tensor
        logits = self.mlm_head(h[sel])
        target = labels[sel]
        n_local = int(sel.sum())
        n_global = max(global_sum(n_local, h.device), 1.0)
        total = F.cross_entropy(logits.float(), target, reduction="sum")
        with torch.no_grad():
            acc = float((logits.argmax(-1) == target).float().mean()) if n_local else 0.0
        # logs: the local mean over local items; the loop weighs them by `n` across micro-batches and processes
        return total * (world()[1] / n_global), {"loss": float(total.detach()) / max(n_local, 1), "acc": acc, "n": n_local}

    def _mep(self, b: dict) -> tuple[torch.Tensor, dict]:
        layer, how = self.layers["mep"], self.pooling["mep"]
        if "labels" in b and layer != -1:
            raise ConfigError("tasks.mep.mlm_weight needs tasks.mep.layer: -1 (MLM reads the last layer)")
        h = self.states(b["input_ids"], b["attention_mask"], layer)
        self._last_sentence_states = h
        x = pool(h, b["attention_mask"], how, b["query_pos"])
        z = pool(self.states(b["desc_ids"], b["desc_mask"], layer), b["desc_mask"], how)
        x = self.heads.center("mep_query", x, b["lang"], update=self.training)
        z = self.heads.center("mep_key", z, b["desc_lang"], update=self.training)
        q, k = self.heads.get("mep_query")(x), self.heads.get("mep_key")(z)
        m = self.momentum_keys("mep", b["desc_ids"], b["desc_mask"], b["desc_lang"]) if self.key_encoder is not None else None
        return self._contrast("mep", q, k, b["qid"], m)

    def _oe(self, b: dict) -> tuple[torch.Tensor, dict]:
        layer, how = self.layers["oe"], self.pooling["oe"]
        classify = self.heads.classifier is not None
        s = pool(self.states(b["subj_ids"], b["subj_mask"], layer), b["subj_mask"], how)
        z = pool(self.states(b["obj_ids"], b["obj_mask"], layer), b["obj_mask"], how)
        if classify:
            logits = self.heads.classifier(torch.cat([s, z], dim=-1))
            loss, acc = self.loss_fns["oe"](logits, b["relation"])
            n = s.shape[0]
            log = {"loss": float(loss.detach()), "acc": float(acc), "n": n}
            return loss * (n * world()[1] / global_sum(n, s.device)), log
        s = self.heads.center("oe_query", s, b["lang"], update=self.training)
        z = self.heads.center("oe_key", z, b["obj_lang"], update=self.training)
        q = self.heads.get("oe_query")(s + self.heads.relations(b["relation"]))
        k = self.heads.get("oe_key")(z)
        m = self.momentum_keys("oe", b["obj_ids"], b["obj_mask"], b["obj_lang"]) if self.key_encoder is not None else None
        return self._contrast("oe", q, k, b["qid"], m)

    def _contrast(self, name: str, q: torch.Tensor, k: torch.Tensor, ids: torch.Tensor,
                  momentum_k: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        all_k, offset, sizes = gather(k, grad=True)
        all_ids, _, _ = gather(ids.to(k.device), sizes=sizes)
        queue = self.queues[name] if name in self.queues else None
        qk, qids = queue.ordered() if queue is not None else (None, None)  # copies: the push below is in place
        n = q.shape[0]
        # similarities in fp32 even under bf16/fp16 autocast: 32k candidates need more than 8 mantissa bits
        with torch.autocast(device_type=q.device.type, enabled=False):
            out = self.loss_fns[name](q.float(), all_k.float(), qk, positives=offset + torch.arange(n, device=q.device),
                                      key_ids=all_ids, queue_ids=qids)
        loss = out.loss * (n * world()[1] / all_k.shape[0])
        log = {"loss": float(out.loss.detach()), "acc": float(out.accuracy), "n": n}
        if self.doc2word.get(name, 0.0) > 0:
            loss = loss + self.doc2word[name] * self._reverse(name, q, k, ids, offset, sizes, all_ids)
        if queue is not None:
            keys = all_k.detach().float() if momentum_k is None else gather(momentum_k, sizes=sizes)[0].float()
            if self.push_per_step:
                self.pending.setdefault(name, []).append((keys, all_ids))
            else:
                queue.push(keys, all_ids)
        return loss, log

    def _reverse(self, name: str, q: torch.Tensor, k: torch.Tensor, ids: torch.Tensor, offset: int, sizes: list[int],
                 all_ids: torch.Tensor) -> torch.Tensor:
        """The released code's "doc2word": each key against every query of the global batch and a queue of its
        own, filled with past queries; its own query is the target."""
        all_q, _, _ = gather(q, grad=True, sizes=sizes)
        queue = self.queues[f"{name}_doc2word"]
        qq, qids = queue.ordered()
        n = k.shape[0]
        with torch.autocast(device_type=q.device.type, enabled=False):
            out = self.loss_fns[name](k.float(), all_q.float(), qq, positives=offset + torch.arange(n, device=k.device),
                                      key_ids=all_ids, queue_ids=qids)
        if self.push_per_step:
            self.pending.setdefault(f"{name}_doc2word", []).append((all_q.detach().float(), all_ids))
        else:
            queue.push(all_q.detach().float(), all_ids)
        return out.loss * (n * world()[1] / all_q.shape[0])

    def flush_queues(self) -> None:
        """Push the keys held back for a once-per-optimizer-step queue update (`queue.push: step`)."""
        for name, items in self.pending.items():
            for keys, ids in items:
                self.queues[name].push(keys, ids)
        self.pending = {}
