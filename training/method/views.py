"""The two augmented views of a batch: the configured chain (Mixup -> RRC -> k-mix in the reference).

``ViewMaker`` owns the state the augmentations need: the mixup and k-mix memory banks, the k-mix
centroids and one CPU ``torch.Generator``. All of it is saved in checkpoints (``state_dict``), so a
resumed run draws exactly the same augmentations. Each view of each clip draws its own randomness;
view 1 of the whole batch is made (and pushed into the banks) before view 2.
"""

from __future__ import annotations

from typing import Any

import torch

from .augment import mixup_with_memory, random_resize_crop
from .config import PretrainConfig
from .kmix import kmix
from .memory import FIFOBank


class ViewMaker:
    """Normalised log-mel (B, 1, F, T) -> two independently augmented views, each (B, 1, F, T)."""

    def __init__(self, cfg: PretrainConfig, shape: tuple[int, int, int], centroids: torch.Tensor | None,
                 seed: int, device: torch.device):
        self.cfg = cfg
        self.chain = cfg.augmentation_list
        if "kmix" in self.chain and centroids is None:
            raise ValueError("k-mix is configured but no centroids were given")
        self.centroids = None if centroids is None else centroids.to(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.mix_bank = FIFOBank(cfg.memory_size, shape, device) if "mixup" in self.chain else None
        self.kmix_bank = FIFOBank(cfg.memory_size, shape, device) if "kmix" in self.chain else None

    def apply(self, name: str, x: torch.Tensor, view: int = 0) -> torch.Tensor:
        """One augmentation of the chain (``mixup``, ``rrc`` or ``kmix``) on (B, 1, F, T) for view 0 or 1,
        with this maker's banks and generator (benchmarks time the chain step by step through it).
        RRC stretches frequency only in the first ``cfg.rrc_freq_views`` views; the others keep every
        partial in its mel band (a pitch-preserving view)."""
        cfg, g = self.cfg, self.generator
        if name == "mixup":
            return mixup_with_memory(x, self.mix_bank, cfg.mixup_ratio, g)
        if name == "rrc":
            freq = cfg.rrc_freq_scale if view < cfg.rrc_freq_views else (1.0, 1.0)
            return random_resize_crop(x, g, cfg.rrc_virtual_scale, freq, cfg.rrc_time_scale)
        if name == "kmix":
            return kmix(x, self.kmix_bank, self.centroids, cfg.kmix_ratio, cfg.kmix_top_k, g)
        raise ValueError(f"unknown augmentation {name!r}")

    def _one_view(self, x: torch.Tensor, view: int) -> torch.Tensor:
        for name in self.chain:
            x = self.apply(name, x, view)
        return x

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._one_view(x, 0), self._one_view(x, 1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "centroids": None if self.centroids is None else self.centroids.cpu(),
            "mix_bank": None if self.mix_bank is None else self.mix_bank.state_dict(),
            "kmix_bank": None if self.kmix_bank is None else self.kmix_bank.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        if state["centroids"] is not None:
            self.centroids = state["centroids"].to(self.centroids.device if self.centroids is not None else "cpu")
        for name in ("mix_bank", "kmix_bank"):
            bank = getattr(self, name)
            if bank is not None and state[name] is not None:
                bank.load_state_dict(state[name])
