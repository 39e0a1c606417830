"""The SLICER encoder: BYOL-A's AudioNTT2020 (Niizumi et al. 2021), as used by LAPE's SLICER.

Input normalised log-mel (batch, 1, n_mels, frames). Three blocks of
Conv2d(3x3, pad 1) -> BatchNorm -> ReLU -> MaxPool(2) halve mel and time each; the (mel, channel)
plane of every remaining time step is flattened mel-major (index = f * C + c, as the reference) and
passed through FC 512 -> 2048 -> ReLU -> Dropout(0.3) -> 2048 -> ReLU. Output: frame features
(batch, frames // 8, 2048), one per 80 ms at 16 kHz / hop 160.

Parameter names follow LAPE's ``AudioNTT2020Task6`` (``features_1.0.weight`` ..., ``fc.0``, ``fc.3``)
so reference checkpoints map onto this module by prefix alone.

This module is the one definition of the architecture. The fast paths derive from it: the inference
path (``runtime.FastEncoder``) and the training path (``training.speed.fast_encoder``) take their layers from
``conv_blocks()`` / ``block_layers()`` / ``fc_layers()`` and use ``check_input`` and ``flatten_frames``;
the ONNX export traces ``forward`` itself. tests/test_encoder_paths.py checks every path against this
forward on every architecture option.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import POOLINGS, EncoderConfig


def check_input(x: torch.Tensor, n_mels: int) -> None:
    """Raise a ValueError naming the shape unless ``x`` is a (batch, 1, n_mels, frames) log-mel."""
    if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != n_mels:
        raise ValueError(f"encoder expects (batch, 1, {n_mels}, frames), got {tuple(x.shape)}")


def flatten_frames(x: torch.Tensor) -> torch.Tensor:
    """Conv features (B, C, F, T) -> one vector per time step (B, T, F * C), mel-major (index f * C + c)."""
    x = x.permute(0, 3, 2, 1)  # (B, C, F, T) -> (B, T, F, C)
    return x.reshape(x.shape[0], x.shape[1], -1)


def block_layers(block: nn.Sequential) -> tuple[nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d]:
    """A conv block's convolution, BatchNorm and max-pool (its ReLU, between BN and the pool, has no state)."""
    conv, bn, _, pool = block
    return conv, bn, pool


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=1, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=2),
    )


class AudioNTT2020(nn.Module):
    """Log-mel (B, 1, F, T) -> frame features (B, T // 2**n_blocks, embedding_dim)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        c = cfg.conv_channels
        for i in range(cfg.n_blocks):
            self.add_module(f"features_{i + 1}", _conv_block(1 if i == 0 else c, c))
        self.fc = nn.Sequential(
            nn.Linear(cfg.fc_input_dim, cfg.hidden_dim),
            nn.ReLU(),
            nn.Dropout(p=cfg.dropout),
            nn.Linear(cfg.hidden_dim, cfg.embedding_dim),
            nn.ReLU(),
        )

    def conv_blocks(self) -> list[nn.Sequential]:
        """Conv(3x3, pad 1) -> BatchNorm -> ReLU -> MaxPool(2) blocks, first to last (``block_layers``)."""
        return [getattr(self, f"features_{i + 1}") for i in range(self.cfg.n_blocks)]

    def fc_layers(self) -> tuple[nn.Linear, nn.Dropout, nn.Linear]:
        """The frame MLP: Linear -> ReLU -> Dropout -> Linear -> ReLU, as (first linear, dropout, second linear)."""
        return self.fc[0], self.fc[2], self.fc[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.cfg.n_mels)
        for block in self.conv_blocks():
            x = block(x)
        return self.fc(flatten_frames(x))


def pool_frames(frames: torch.Tensor, pooling: str = "mean+max", dim: int = -2) -> torch.Tensor:
    """Pool frame features over time. (..., T, D) -> (..., D).

    ``mean+max`` is the element-wise sum of the time-mean and the time-max (SLICER pre-training and
    BYOL-A); ``mean`` is LAPE's downstream pooling; ``max`` is offered for completeness.
    """
    if pooling == "mean+max":
        return frames.mean(dim) + frames.amax(dim)
    if pooling == "mean":
        return frames.mean(dim)
    if pooling == "max":
        return frames.amax(dim)
    raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
