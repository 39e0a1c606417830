"""torchrun / DDP helpers: rank and world from the environment, key gathering for the queue.

``torchrun --nproc_per_node N -m slicer_embed.training.cli_train ...`` (or ``slicer-embed train``
under torchrun) sets RANK/WORLD_SIZE/LOCAL_RANK; ``init`` then starts a process group (NCCL on CUDA,
gloo on CPU). Without those variables everything is single-process and these helpers are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init(device_kind: str) -> DistInfo:
    """Start the process group if launched by torchrun (WORLD_SIZE > 1); otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@torch.no_grad()
def gather_keys(k: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """All ranks' keys (world * B, D), rank-major, so every rank enqueues the same columns.

    No gradient flows (keys come from the teacher). Gloo and NCCL both support all_gather.
    """
    if not info.enabled:
        return k
    parts = [torch.empty_like(k) for _ in range(info.world_size)]
    dist.all_gather(parts, k.contiguous())
    return torch.cat(parts)


def all_reduce_mean(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a (detached) tensor over ranks, for logging."""
    if not info.enabled:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / info.world_size


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
