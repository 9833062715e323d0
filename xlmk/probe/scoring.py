"""Batched masked-LM scoring: length-sorted batches, the LM head applied at mask positions only.

Two modes share one forward pass over length-sorted batches:
- single token (LAMA): the log-softmax at the (first) mask ranks the vocabulary, or a subset of it (a
  common vocabulary); the gold's rank counts every other token scoring at least as high (ties count
  against the model);
- multi token (mLAMA): a sentence holds k masks and every candidate of k tokens scores the mean of its
  tokens' log-probabilities at those masks, all read from the same forward pass.
Running the LM head on the masked positions alone (not on every position, as `pipeline("fill-mask")`
does) is most of the speed on a 250k vocabulary; models without a separable head fall back to the full
forward.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch

from xlmk.errors import ConfigError
from xlmk.probe.lama import MASK

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"run.device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"run.device: {name!r} asked for, but no CUDA device is available")
    return device


def prepare_model(model: Any, device: torch.device, precision: str) -> Any:
    model.eval()
    return model.to(device=device, dtype=DTYPES[precision])


def split_head(model: Any) -> tuple[Any, Any] | tuple[None, None]:
    """(encoder, LM head) when the head can run on selected positions alone, else (None, None)."""
    base = getattr(model, "base_model", None)
    head = getattr(model, "lm_head", None) or getattr(model, "cls", None)
    if base is None or base is model or head is None:
        return None, None
    return base, head


def max_positions(model: Any, tokenizer: Any) -> int:
    """Longest input the model takes (XLM-R's 514 positions hold 512 tokens)."""
    n = getattr(model.config, "max_position_embeddings", None)
    if n and getattr(model.config, "model_type", "") in ("xlm-roberta", "roberta", "camembert"):
        n -= 2  # position ids start after the padding index
    limit = int(getattr(tokenizer, "model_max_length", 10**9) or 10**9)
    return min(int(n), limit) if n else min(limit, 512)


@dataclass
class Encoded:
    input_ids: list[int]
    token_type_ids: list[int] | None = None


def length_sorted_batches(items: Sequence[Encoded], batch_size: int, pad_id: int) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """(item indices, padded tensors), longest first so that an out-of-memory shows up at once."""
    order = sorted(range(len(items)), key=lambda i: -len(items[i].input_ids))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(items[i].input_ids) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        att = torch.zeros((len(idx), width), dtype=torch.long)
        types = torch.zeros((len(idx), width), dtype=torch.long) if items[idx[0]].token_type_ids is not None else None
        for row, i in enumerate(idx):
            n = len(items[i].input_ids)
            ids[row, :n] = torch.tensor(items[i].input_ids)
            att[row, :n] = 1
            if types is not None and items[i].token_type_ids is not None:
                types[row, :n] = torch.tensor(items[i].token_type_ids)
        batch = {"input_ids": ids, "attention_mask": att}
        if types is not None:
            batch["token_type_ids"] = types
        yield idx, batch


@dataclass
class SingleResult:
    rank: int                    # 1-based rank of the gold token among the ranked ids
    gold_log_prob: float
    top_ids: list[int]
    top_log_probs: list[float]


class MaskedLMScorer:
    """Scores cloze sentences with one masked LM; sentences use `[MASK]` where the model's mask goes."""

    def __init__(self, model: Any, tokenizer: Any, *, device: torch.device | str = "cpu", batch_size: int = 64):
        if tokenizer.mask_token is None or tokenizer.mask_token_id is None:
            raise ConfigError("the tokenizer has no mask token: it cannot be probed with cloze sentences")
        self.model, self.tokenizer = model, tokenizer
        self.device = torch.device(device) if isinstance(device, str) else device
        self.batch_size = batch_size
        self.mask_id = tokenizer.mask_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.max_length = max_positions(model, tokenizer)
        self._base, self._head = split_head(model)

    # ------------------------------------------------------------ inputs
    def encode(self, sentences: Sequence[str], n_masks: int = 1) -> Encoded:
        """Tokenize one or two sentences (a pair), each `[MASK]` becoming `n_masks` mask tokens."""
        # masks are written without spaces between them: XLM-R's <mask> strips the space before it
        texts = [s.replace(MASK, self.tokenizer.mask_token * n_masks) for s in sentences]
        enc = self.tokenizer(*texts[:2], add_special_tokens=True)
        types = enc.get("token_type_ids")
        return Encoded(list(enc["input_ids"]), list(types) if types is not None else None)

    # ------------------------------------------------------------ forward
    @torch.no_grad()
    def _mask_log_probs(self, batch: dict[str, torch.Tensor], first_only: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(row, position, log-probs over the vocabulary) of every mask token in the batch (or each row's first)."""
        batch = {k: v.to(self.device) for k, v in batch.items()}
        rows, cols = (batch["input_ids"] == self.mask_id).nonzero(as_tuple=True)
        if first_only:
            # nonzero() is row-major: a row's first hit is its first mask
            first = torch.ones_like(rows, dtype=torch.bool)
            first[1:] = rows[1:] != rows[:-1]
            rows, cols = rows[first], cols[first]
        if self._head is not None:
            hidden = self._base(**batch).last_hidden_state
            logits = self._head(hidden[rows, cols])
        else:
            logits = self.model(**batch).logits[rows, cols]
        return rows, cols, torch.log_softmax(logits.float(), dim=-1)

    def rank_single(self, items: Sequence[Encoded], gold_ids: Sequence[int], *, vocab_index: torch.Tensor | None = None,
                    exclude_ids: torch.Tensor | None = None, top_k: int = 10,
                    advance: Callable[[int], None] | None = None) -> list[SingleResult]:
        """Rank each item's gold token at its first mask (LAMA scores the first mask only).

        `vocab_index` (sorted token ids) restricts the ranking, as LAMA's common vocabulary does; each gold id
        must be in it. `exclude_ids` instead leaves a few ids out (special tokens) without copying the
        vocabulary-wide scores. Returned ids are model token ids.
        """
        index = vocab_index.to(self.device) if vocab_index is not None else None
        exclude = exclude_ids.to(self.device) if exclude_ids is not None and vocab_index is None else None
        results: list[SingleResult | None] = [None] * len(items)
        for idx, batch in length_sorted_batches(items, self.batch_size, self.pad_id):
            rows, _, lp = self._mask_log_probs(batch, first_only=True)
            if lp.shape[0] != len(idx):
                raise ConfigError("a cloze sentence lost its mask token in tokenization")
            gold = torch.tensor([gold_ids[i] for i in idx], device=lp.device)
            gold_lp = lp.gather(1, gold[:, None])
            if exclude is not None:
                lp[:, exclude] = float("-inf")  # never at least as high as a gold answer
            scores = lp if index is None else lp[:, index]
            ranks = (scores >= gold_lp).sum(dim=1)
            k = min(top_k, scores.shape[1])
            top_lp, top = scores.topk(k, dim=1)
            if index is not None:
                top = index[top]
            for row, i in enumerate(idx):
                results[i] = SingleResult(int(ranks[row]), float(gold_lp[row, 0]), top[row].tolist(), top_lp[row].tolist())
            if advance is not None:
                advance(len(idx))
        return results  # type: ignore[return-value]

    def score_candidates(self, items: Sequence[Encoded], candidates: Sequence[torch.Tensor], *,
                         advance: Callable[[int], None] | None = None) -> list[torch.Tensor]:
        """Mean log-probability of every candidate of each item: `candidates[i]` is [C, k] token ids for an
        item holding k masks; all candidates are read from the item's one forward pass (mLAMA)."""
        out: list[torch.Tensor | None] = [None] * len(items)
        for idx, batch in length_sorted_batches(items, self.batch_size, self.pad_id):
            rows, _, lp = self._mask_log_probs(batch)
            counts = torch.bincount(rows, minlength=len(idx)).tolist()
            for row, chunk in enumerate(lp.split(counts)):
                cand = candidates[idx[row]].to(lp.device)
                if cand.shape[1] != chunk.shape[0]:
                    raise ConfigError(f"a sentence holds {chunk.shape[0]} masks for candidates of {cand.shape[1]} tokens")
                picked = chunk[torch.arange(cand.shape[1], device=lp.device)[None, :], cand]
                out[idx[row]] = picked.mean(dim=1).cpu()
            if advance is not None:
                advance(len(idx))
        return out  # type: ignore[return-value]
