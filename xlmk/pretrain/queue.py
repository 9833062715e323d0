"""The candidate list of Appendix C: a FIFO queue of detached keys, randomly initialised.

Each push drops the oldest keys: after pushing Z+1 into {Z1r, …, ZNr} the list is {Z2r, …, ZNr, Z+1}.
Each slot also remembers the entity id of its key (-1 for the random start) so that a loss can mask
candidates that are the positive's own entity. The queue is a buffer of the module, so it moves with
`.to(device)` and is saved with the rest of the training state for an exact resume.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class CandidateQueue(nn.Module):
    def __init__(self, size: int, dim: int, *, generator: torch.Generator | None = None):
        super().__init__()
        if size < 0:
            raise ValueError(f"queue size must be >= 0, got {size}")
        self.size, self.dim = size, dim
        keys = torch.randn(size, dim, generator=generator) / math.sqrt(dim)
        self.register_buffer("keys", keys)
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))  # slot of the oldest key

    @torch.no_grad()
    def push(self, keys: torch.Tensor, ids: torch.Tensor | None = None) -> None:
        """Enqueue `keys` (oldest first) and drop as many of the oldest entries."""
        if self.size == 0:
            return
        keys = keys.detach().to(self.keys.dtype)
        ids = (torch.full((keys.shape[0],), -1, dtype=torch.long, device=keys.device)
               if ids is None else ids.detach().long())
        if keys.shape[0] >= self.size:  # only the newest `size` survive
            keys, ids = keys[-self.size:], ids[-self.size:]
            self.keys.copy_(keys)
            self.ids.copy_(ids)
            self.ptr.zero_()
            return
        n, p = keys.shape[0], int(self.ptr)
        idx = (torch.arange(n, device=self.keys.device) + p) % self.size
        self.keys[idx] = keys.to(self.keys.device)
        self.ids[idx] = ids.to(self.ids.device)
        self.ptr.fill_((p + n) % self.size)

    def ordered(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and ids from the oldest to the newest."""
        p = int(self.ptr)
        return torch.cat([self.keys[p:], self.keys[:p]]), torch.cat([self.ids[p:], self.ids[:p]])
