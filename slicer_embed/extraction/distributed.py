"""torchrun support: each rank embeds a disjoint shard of the inputs, rank 0 writes OUTPUT.

Coordination needs only a barrier and a max-reduction of exit codes, done over a gloo process group
(CPU tensors, works whatever device the encoder runs on). All ranks must see the same SOURCE and the
same OUTPUT.partial folder (a shared filesystem), as is usual for torchrun jobs.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

# A rank may wait at the final barrier for as long as the slowest rank embeds: far beyond
# the 30-minute default timeout of gloo.
BARRIER_TIMEOUT = datetime.timedelta(days=7)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> World:
    """Rank and world size from torchrun's environment (1 process when absent)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def init(world: World) -> None:
    if world.size > 1 and not dist.is_initialized():
        dist.init_process_group("gloo", rank=world.rank, world_size=world.size, timeout=BARRIER_TIMEOUT)


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def max_all(world: World, value: int) -> int:
    """The largest ``value`` over all ranks (used to agree on an exit status)."""
    if world.size <= 1:
        return value
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def shutdown(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: torch.device, world: World) -> torch.device:
    """Under torchrun, a bare ``cuda`` means this rank's local GPU."""
    if world.size > 1 and device.type == "cuda" and device.index is None:
        return torch.device("cuda", world.local_rank)
    return device
