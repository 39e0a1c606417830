"""Explicit FIFO memory banks for the mixup and k-mix augmentations (docs/method.md 5.2, 5.4).

Where the banks live, and why it matters with DataLoader workers:
the reference keeps each bank inside the Dataset's augmentation object, so every DataLoader worker
holds its own copy and, because workers are re-created from the main-process copy each epoch, the
banks silently restart empty every epoch (docs/method.md section 1). Here the DataLoader workers only
decode and crop waveforms; log-mel, normalisation and augmentation run on whole batches in the
training process, and the banks are plain objects owned by the training loop. Consequences:

- one bank per training process (per DDP rank), independent of ``num_workers``;
- the banks persist across epochs and are saved in the checkpoint (``state_dict``), so a resumed run
  continues with exactly the same memory;
- within one batch, every sample mixes with entries pushed *before* the batch (the batch is pushed
  afterwards), where the reference, working clip by clip, could pick the previous clip of the batch.
"""

from __future__ import annotations

from typing import Any

import torch


class FIFOBank:
    """Fixed-capacity first-in-first-out store of log-mel patches (capacity, *shape) float32.

    Each entry may carry an integer ``tag`` (k-mix stores its cluster index there so that entries are
    assigned once, when pushed, instead of on every call).
    """

    def __init__(self, capacity: int, shape: tuple[int, ...], device: str | torch.device = "cpu"):
        if capacity < 1:
            raise ValueError(f"memory bank capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.data = torch.zeros(capacity, *shape, device=device)
        self.tags = torch.full((capacity,), -1, dtype=torch.long, device=device)
        self.ptr = 0  # next slot to write
        self.count = 0  # filled slots (<= capacity)

    def __len__(self) -> int:
        return self.count

    def push(self, x: torch.Tensor, tags: torch.Tensor | None = None) -> None:
        """Append a batch (n, *shape); the oldest entries are overwritten once the bank is full."""
        x = x.detach()
        if x.shape[1:] != self.data.shape[1:]:
            raise ValueError(f"bank holds entries of shape {tuple(self.data.shape[1:])}, got {tuple(x.shape[1:])}")
        if len(x) > self.capacity:  # only the newest `capacity` survive anyway
            x = x[-self.capacity:]
            tags = None if tags is None else tags[-self.capacity:]
        idx = (self.ptr + torch.arange(len(x), device=self.data.device)) % self.capacity
        self.data[idx] = x.to(self.data.dtype)
        self.tags[idx] = -1 if tags is None else tags.to(self.tags.device)
        self.ptr = (self.ptr + len(x)) % self.capacity
        self.count = min(self.capacity, self.count + len(x))

    def fifo_order(self) -> torch.Tensor:
        """Slot indices of the stored entries, oldest first. (count,) long."""
        start = self.ptr if self.count == self.capacity else 0
        return (start + torch.arange(self.count, device=self.data.device)) % self.capacity

    def state_dict(self) -> dict[str, Any]:
        return {"data": self.data.cpu().clone(), "tags": self.tags.cpu().clone(), "ptr": self.ptr,
                "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["data"].shape != self.data.shape:
            raise ValueError(f"checkpointed bank has shape {tuple(state['data'].shape)}, "
                             f"this run expects {tuple(self.data.shape)} (memory_size changed?)")
        self.data.copy_(state["data"])
        self.tags.copy_(state["tags"])
        self.ptr, self.count = int(state["ptr"]), int(state["count"])
