"""SLICER's losses as pure functions (docs/method.md section 4).

- ``instance_loss``: MoCo v2 InfoNCE of queries against their key and a queue of negatives.
- ``cluster_loss``: Contrastive Clustering's cluster-level loss over the columns of two soft
  assignment matrices, with the entropy term as an option (computed but not added in the reference).
- ``byol_loss``: BYOL's normalised mean squared error of a prediction against its target (BYOL-A).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def instance_loss(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with one positive and a queue of negatives, mean over the batch.

    q, k: (B, D) L2-normalised query (student) and key (teacher) embeddings of the same clips;
    queue: (D, N) L2-normalised negatives. logits = [q.k, q.Q] / temperature; target index 0.
    """
    if q.shape != k.shape or q.shape[1] != queue.shape[0]:
        raise ValueError(f"instance_loss: q {tuple(q.shape)}, k {tuple(k.shape)} and queue {tuple(queue.shape)} "
                         f"must be (B, D), (B, D), (D, N)")
    pos = (q * k).sum(1, keepdim=True)  # (B, 1)
    neg = q @ queue.to(q.dtype)  # (B, N)
    logits = torch.cat([pos, neg], dim=1) / temperature
    target = torch.zeros(len(q), dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target)


def cluster_entropy(c: torch.Tensor) -> torch.Tensor:
    """log K - H(P) for soft assignments c (B, K), P = column mass / total mass. 0 when clusters are balanced."""
    p = c.sum(0)
    p = p / p.sum()
    return math.log(c.shape[1]) + (p * torch.log(p)).sum()


def cluster_loss(c1: torch.Tensor, c2: torch.Tensor, temperature: float = 1.0,
                 entropy: bool = False) -> torch.Tensor:
    """Contrastive Clustering cluster-level loss (Li et al. 2021), as LAPE's ``ClusterLoss``.

    c1, c2: (B, K) softmax rows for the two views. The 2K columns are the cluster representations;
    each column's positive is the same cluster in the other view, its negatives the other 2K - 2;
    s = cosine / temperature; cross-entropy summed over the 2K rows and divided by 2K.
    ``entropy=True`` adds (log K - H(P1)) + (log K - H(P2)) as the original CC code does.
    """
    if c1.shape != c2.shape or c1.dim() != 2:
        raise ValueError(f"cluster_loss: c1 {tuple(c1.shape)} and c2 {tuple(c2.shape)} must both be (B, K)")
    K = c1.shape[1]
    z = F.normalize(torch.cat([c1.t(), c2.t()], dim=0), dim=1)  # (2K, B)
    sim = z @ z.t() / temperature  # (2K, 2K) cosine similarities
    self_mask = torch.eye(2 * K, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))  # a cluster is never its own negative
    target = torch.cat([torch.arange(K, 2 * K), torch.arange(0, K)]).to(z.device)
    loss = F.cross_entropy(sim, target, reduction="sum") / (2 * K)
    if entropy:
        loss = loss + cluster_entropy(c1) + cluster_entropy(c2)
    return loss


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL's loss: ``2 - 2 cos(p_i, z_i)`` = squared distance of the L2-normalised rows, mean over the batch.

    p: (B, D) the student's prediction; z: (B, D) the teacher's projection of the other view (no gradient
    is taken through it by the caller). 0 when aligned, 2 when orthogonal, 4 when opposite.
    """
    if p.shape != z.shape or p.dim() != 2:
        raise ValueError(f"byol_loss: p {tuple(p.shape)} and z {tuple(z.shape)} must both be (B, D)")
    return (2 - 2 * (F.normalize(p.float(), dim=1) * F.normalize(z.float(), dim=1)).sum(1)).mean()


def combine_directions(l12: torch.Tensor, l21: torch.Tensor, mode: str) -> torch.Tensor:
    """The 'symmetric' instance loss: ``sum`` (LAPE) or ``mean`` (research snapshot) of both directions."""
    if mode == "sum":
        return l12 + l21
    if mode == "mean":
        return (l12 + l21) / 2
    raise ValueError(f"symmetric must be 'sum' or 'mean', got {mode!r}")
