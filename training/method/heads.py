"""Projection heads on the pooled 2048-d clip vector (docs/method.md section 3)."""

from __future__ import annotations

from torch import nn


def instance_head(in_dim: int = 2048, out_dim: int = 128, hidden: int = 0) -> nn.Module:
    """Instance projector. ``hidden`` 0: a single Linear(in_dim -> out_dim), no activation, no BN (LAPE);
    ``hidden`` > 0: BYOL-A's projection MLP (``mlp_head``)."""
    if hidden > 0:
        return mlp_head(in_dim, hidden, out_dim)
    return nn.Linear(in_dim, out_dim)


def mlp_head(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    """BYOL / BYOL-A projector and predictor: Linear -> BatchNorm1d -> ReLU -> Linear. (B, in) -> (B, out)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, out_dim))


def cluster_head(in_dim: int = 2048, n_clusters: int = 128) -> nn.Module:
    """Cluster projector: Linear(in -> in) -> ReLU -> Linear(in -> K) -> Softmax over the K clusters."""
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(), nn.Linear(in_dim, n_clusters), nn.Softmax(dim=1))
