"""MoCo key queue (docs/method.md 4.1): a (dim, size) matrix of L2-normalised negatives, FIFO.

Initialised with Gaussian columns, normalised per column, from an explicit generator (so every DDP
rank builds the same queue). Under DDP the keys of all ranks are gathered before ``enqueue`` so the
queue stays identical across ranks. Unlike the reference (which asserts ``size % batch == 0``),
writes wrap around with modular indexing, so any batch size works.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


class KeyQueue:
    """Negatives ``keys`` (dim, size) float32 and the write pointer."""

    def __init__(self, dim: int, size: int, generator: torch.Generator, device: str | torch.device = "cpu"):
        keys = torch.randn(dim, size, generator=generator)
        self.keys = F.normalize(keys, dim=0).to(device)
        self.ptr = 0

    @property
    def size(self) -> int:
        return self.keys.shape[1]

    @torch.no_grad()
    def enqueue(self, k: torch.Tensor) -> None:
        """Write keys (n, dim) over the oldest columns."""
        k = k.detach().float()
        if k.dim() != 2 or k.shape[1] != self.keys.shape[0]:
            raise ValueError(f"keys must be (n, {self.keys.shape[0]}), got {tuple(k.shape)}")
        if len(k) > self.size:
            k = k[-self.size:]
        idx = (self.ptr + torch.arange(len(k), device=self.keys.device)) % self.size
        self.keys[:, idx] = k.t().to(self.keys.device)
        self.ptr = (self.ptr + len(k)) % self.size

    def state_dict(self) -> dict[str, Any]:
        return {"keys": self.keys.cpu().clone(), "ptr": self.ptr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["keys"].shape != self.keys.shape:
            raise ValueError(f"checkpointed queue has shape {tuple(state['keys'].shape)}, "
                             f"this run expects {tuple(self.keys.shape)}")
        self.keys.copy_(state["keys"])
        self.ptr = int(state["ptr"])
