"""Projection heads and the relation encoder of the knowledge tasks, and their checkpoint files.

Eq. 1–4 of the paper: z = W2 ReLU(W1 x). The released code adds BatchNorm after each Linear and drops
the bias; both are options here (`batch_norm`, `bias`), the paper's plain form is the default.
`tasks.language_centering` (beyond the paper) keeps a running mean of each language's states per head and
subtracts it before the head: an MLM-trained encoder's states are organised by language first
(docs/pretrain.md), which a cross-lingual match has to see past.
Heads live beside the HF weights in `xlmk_heads.safetensors` + `xlmk_heads.json`, so the encoder itself
stays a plain masked LM that every `AutoModel*` loads.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from xlmk.errors import DataError
from xlmk.io import atomic_path, atomic_write_json

HEADS_WEIGHTS = "xlmk_heads.safetensors"
HEADS_CONFIG = "xlmk_heads.json"
HEADS_FORMAT = 1


class ProjectionHead(nn.Module):
    """W2 ReLU(W1 x), optionally with BatchNorm after each Linear (as the authors' code has)."""

    def __init__(self, in_dim: int, proj_dim: int, out_dim: int, *, batch_norm: bool = False, bias: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_dim, proj_dim, bias=bias)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(proj_dim))
        layers += [nn.ReLU(), nn.Linear(proj_dim, out_dim, bias=bias)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(out_dim, affine=False))
        self.net = nn.Sequential(*layers)
        self.spec = {"in_dim": in_dim, "proj_dim": proj_dim, "out_dim": out_dim, "batch_norm": batch_norm, "bias": bias}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BatchNorm cannot normalise a batch of one in training mode; such a step uses running stats
        if self.training and x.shape[0] == 1 and self.spec["batch_norm"]:
            self.net.eval()
            out = self.net(x)
            self.net.train()
            return out
        return self.net(x)


class KnowledgeHeads(nn.Module):
    """The heads one pre-training run learns: MEP query/key, OE query/key, relation embeddings, and the
    relation classifier of the `oe-classify` ablation. Absent parts are None."""

    def __init__(self, heads: dict[str, ProjectionHead], relation_ids: list[str] | None = None,
                 hidden_size: int | None = None, classifier: bool = False, meta: dict | None = None,
                 embed_relations: bool = True, languages: list[str] | None = None,
                 center_momentum: float | None = None):
        super().__init__()
        self.heads = nn.ModuleDict(heads)
        # language centering: a running mean of each language's states per head, subtracted before the head
        self.languages = list(languages or []) if center_momentum is not None else []
        self.center_momentum = center_momentum
        for name in (heads if self.languages and hidden_size else ()):
            self.register_buffer(f"lang_mean_{name}", torch.zeros(len(self.languages), hidden_size))
            self.register_buffer(f"lang_n_{name}", torch.zeros(len(self.languages), dtype=torch.long))
        self.relation_ids = list(relation_ids or [])
        self.hidden_size = hidden_size
        # the relation classifier of `oe-classify` needs the relation list but no relation embeddings
        self.relations = (nn.Embedding(len(self.relation_ids), hidden_size)
                          if embed_relations and self.relation_ids and hidden_size else None)
        if self.relations is not None:
            nn.init.normal_(self.relations.weight, std=0.02)
        self.classifier = (nn.Linear(2 * hidden_size, len(self.relation_ids))
                           if classifier and self.relation_ids and hidden_size else None)
        self.meta = dict(meta or {})

    @property
    def centered(self) -> bool:
        return bool(self.languages)

    def center(self, name: str, x: torch.Tensor, lang: torch.Tensor, update: bool = False) -> torch.Tensor:
        """`x` minus the running mean of its language's states (language ids index `self.languages`); with
        `update`, the means first move towards this batch's (the first batch of a language sets it)."""
        if not self.languages:
            return x
        mean, count = getattr(self, f"lang_mean_{name}"), getattr(self, f"lang_n_{name}")
        lang = lang.to(x.device)
        if update:
            with torch.no_grad():
                for li in lang.unique().tolist():
                    m = x[lang == li].detach().float().mean(0)
                    mean[li] = m if count[li] == 0 else self.center_momentum * mean[li] + (1 - self.center_momentum) * m
                    count[li] += 1
        return x - mean[lang].to(x.dtype)

    def center_by_name(self, name: str, x: torch.Tensor, languages: list[str]) -> torch.Tensor:
        """Centering for probes, by language code; a language the heads never saw gets the mean of those they did."""
        if not self.languages:
            return x
        mean, count = getattr(self, f"lang_mean_{name}"), getattr(self, f"lang_n_{name}")
        seen = count > 0
        fallback = mean[seen].mean(0) if bool(seen.any()) else torch.zeros_like(mean[0])
        index = {lang: i for i, lang in enumerate(self.languages) if bool(seen[i])}
        rows = torch.stack([mean[index[lang]] if lang in index else fallback for lang in languages]) if languages \
            else mean[:0]
        return x - rows.to(x.device, x.dtype)

    def get(self, name: str) -> ProjectionHead | None:
        return self.heads[name] if name in self.heads else None

    def relation_index(self, pids: list[str]) -> torch.Tensor:
        index = {p: i for i, p in enumerate(self.relation_ids)}
        missing = [p for p in pids if p not in index]
        if missing:
            raise KeyError(f"relations not known to these heads: {', '.join(sorted(set(missing))[:5])}")
        return torch.tensor([index[p] for p in pids], dtype=torch.long)

    def relation_embedding(self, pids: list[str]) -> torch.Tensor | None:
        if self.relations is None:
            return None
        idx = self.relation_index(pids).to(self.relations.weight.device)
        return self.relations(idx)

    # ------------------------------------------------------------ files
    def config_dict(self) -> dict:
        return {
            "format": HEADS_FORMAT,
            "hidden_size": self.hidden_size,
            "heads": {name: head.spec for name, head in self.heads.items()},
            "relation_ids": self.relation_ids,
            "classifier": self.classifier is not None,
            "embed_relations": self.relations is not None,
            "meta": self.meta,
            "languages": self.languages,
            "center_momentum": self.center_momentum,
        }

    def save(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(directory / HEADS_WEIGHTS) as tmp:
            save_file(state, str(tmp), metadata={"format": str(HEADS_FORMAT)})
        atomic_write_json(directory / HEADS_CONFIG, self.config_dict())

    @classmethod
    def from_config(cls, cfg: dict) -> "KnowledgeHeads":
        heads = {name: ProjectionHead(**spec) for name, spec in cfg["heads"].items()}
        return cls(heads, cfg.get("relation_ids"), cfg.get("hidden_size"), cfg.get("classifier", False), cfg.get("meta"),
                   embed_relations=cfg.get("embed_relations", True), languages=cfg.get("languages"),
                   center_momentum=cfg.get("center_momentum"))


def load_knowledge_heads(directory: str | Path, map_location: str = "cpu") -> KnowledgeHeads | None:
    """The heads saved beside a checkpoint, or None when the checkpoint has none (e.g. plain XLM-R)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path, weights = directory / HEADS_CONFIG, directory / HEADS_WEIGHTS
    if not cfg_path.is_file() or not weights.is_file():
        return None
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=cfg_path, line=exc.lineno) from None
    if cfg.get("format") != HEADS_FORMAT:
        raise DataError(f"heads format {cfg.get('format')!r} is not {HEADS_FORMAT}", path=cfg_path)
    heads = KnowledgeHeads.from_config(cfg)
    state = load_file(str(weights), device=map_location)
    result = heads.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise DataError(f"weights do not match the config (missing {result.missing_keys[:3]}, "
                        f"unexpected {result.unexpected_keys[:3]})", path=weights)
    heads.eval()
    return heads
