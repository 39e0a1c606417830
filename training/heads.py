"""Projection heads on the pooled 2048-d clip vector (method.md section 3)."""

from __future__ import annotations

from torch import nn


def instance_head(in_dim: int = 2048, out_dim: int = 128) -> nn.Module:
    """Instance projector: a single Linear(in_dim -> out_dim), no activation, no BN (LAPE)."""
    return nn.Linear(in_dim, out_dim)


def cluster_head(in_dim: int = 2048, n_clusters: int = 128) -> nn.Module:
    """Cluster projector: Linear(in -> in) -> ReLU -> Linear(in -> K) -> Softmax over the K clusters."""
    return nn.Sequential(nn.Linear(in_dim, in_dim), nn.ReLU(), nn.Linear(in_dim, n_clusters), nn.Softmax(dim=1))
