"""SLICER student and momentum teacher (docs/method.md sections 2-3).

The student's encoder *is* a ``slicer_embed.SlicerModel`` (same frontend and encoder code as
inference); this module adds the clip pooling and the two heads. The teacher is a deep copy with
``requires_grad=False``, updated only by EMA (``training.method.ema``), and run in train mode as in the
reference (batch-statistics BatchNorm, active dropout). For the BYOL objective the student also has a
predictor (``PredictorViews``), which the teacher does not.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

import slicer_embed
from slicer_embed.encoder import pool_frames

from ..speed.fast_encoder import train_forward
from .heads import cluster_head, instance_head, mlp_head


class SlicerNet(nn.Module):
    """Normalised log-mel (B, 1, 64, T) -> (q (B, instance_dim) L2-normalised, c (B, K) softmax)."""

    def __init__(self, model: slicer_embed.SlicerModel, instance_dim: int = 128, n_clusters: int = 128,
                 projector_hidden: int = 0):
        super().__init__()
        self.model = model  # the SlicerModel; only .encoder runs here (log-mel is computed outside)
        d = model.embedding_dim
        self.instance_head = instance_head(d, instance_dim, projector_hidden)
        self.cluster_head = cluster_head(d, n_clusters)
        self.fast = False  # train mode: the encoder through training.speed.fast_encoder (same function, cheaper)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel (B, 1, 64, T) -> pooled clip vector (B, 2048): max_t + mean_t of the frames."""
        if self.fast and self.training:
            frames = train_forward(self.model.encoder, x)  # (B, T // 8, 2048)
        else:
            frames = self.model.encoder(x)
        return pool_frames(frames, "mean+max")  # as pre-training in the reference (and BYOL-A)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.pooled(x)
        q = F.normalize(self.instance_head(y).float(), dim=1)
        c = self.cluster_head(y).float()
        return q, c


class TwoViews(nn.Module):
    """Runs the student on both views in one call (one DDP forward per step).

    The encoder is applied to each view separately so BatchNorm sees batches of B clips, exactly as
    in the reference's two forward calls (concatenating the views would change the BN statistics).
    """

    def __init__(self, net: SlicerNet):
        super().__init__()
        self.net = net

    def forward(self, v1: torch.Tensor, v2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        q1, c1 = self.net(v1)
        q2, c2 = self.net(v2)
        return q1, c1, q2, c2


class PredictorViews(nn.Module):
    """BYOL's online branch on both views: encoder -> projector (the instance head) -> predictor.

    Returns the predictions (p1, p2), each (B, instance_dim) in float32 and not normalised (the loss
    normalises). As ``TwoViews``, each view is its own batch for BatchNorm; one module, so one DDP forward.
    """

    def __init__(self, net: SlicerNet, predictor: nn.Module):
        super().__init__()
        self.net = net
        self.predictor = predictor

    def forward(self, v1: torch.Tensor, v2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p1 = self.predictor(self.net.instance_head(self.net.pooled(v1))).float()
        p2 = self.predictor(self.net.instance_head(self.net.pooled(v2))).float()
        return p1, p2


def build_predictor(instance_dim: int, hidden: int, seed: int, device: torch.device) -> nn.Module:
    """BYOL's predictor MLP (instance_dim -> hidden -> instance_dim), seeded apart from the encoder, train mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 7919)
        predictor = mlp_head(instance_dim, hidden, instance_dim)
    return predictor.to(device).train()


def build_student_teacher(instance_dim: int, n_clusters: int, seed: int,
                          device: torch.device, projector_hidden: int = 0) -> tuple[SlicerNet, SlicerNet]:
    """A seeded student (random init) and its teacher (exact copy, no gradients), both in train mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = slicer_embed.create_model(device="cpu")
        student = SlicerNet(model, instance_dim, n_clusters, projector_hidden)
    student = student.to(device).train()
    teacher = copy.deepcopy(student).train()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return student, teacher


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
