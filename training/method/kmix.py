"""k-mix (docs/method.md 5.4): mixup whose partner comes from the farthest non-empty k-means cluster.

Offline, once: spherical k-means (K clusters, unit-norm centroids) on 64-d time-averaged log-mel
vectors of a sample of the training files. Online, per sample x (B, 1, F, T):

1. alpha = ratio * U[0, 1); empty memory -> x unchanged; memory smaller than ``top_k`` -> a random
   memory entry is the partner (plain mixup warm-up).
2. otherwise x is assigned to its nearest centroid c_x (max cosine == min Euclidean distance to a
   unit centroid); centroids are ranked by decreasing distance from centroid c_x; the first cluster
   holding at least one memory entry is the target; the partner is drawn uniformly from that
   cluster's entries in FIFO order (oldest first), truncated to the first ``top_k``.
3. out = log_mixup_exp(x, z, 1 - alpha); the input x is pushed into the memory.

Memory entries are assigned to a cluster once, when pushed (their tag), which gives the same
assignment as the reference's per-call recomputation because the centroids never change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .augment import _alphas, log_mixup_exp
from .memory import FIFOBank


def spherical_kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """Spherical k-means as faiss ``Kmeans(spherical=True)``: (n, d) float -> centroids (k, d), unit norm.

    Assignment: nearest unit centroid in Euclidean distance; update: member mean, re-normalised.
    Initial centroids: k-means++ seeding (faiss picks k random points; ++ avoids the bad local optimum
    of two seeds in one cluster on small samples). An empty cluster is re-seeded with a random point.
    """
    x = x.double()
    n = len(x)
    if n < k:
        raise ValueError(f"k-means needs at least k={k} vectors, got {n}; raise kmix_fraction or lower kmix_clusters")
    centroids = F.normalize(_kmeanspp_init(x, k, generator), dim=1)
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(1)
        for c in range(k):
            members = x[assign == c]
            if len(members):
                centroids[c] = F.normalize(members.mean(0), dim=0)
            else:
                centroids[c] = F.normalize(x[torch.randint(n, (1,), generator=generator)][0], dim=0)
    return centroids.float()


def _kmeanspp_init(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeds on the unit sphere: each next seed drawn with probability ~ squared distance."""
    unit = F.normalize(x, dim=1)
    seeds = [int(torch.randint(len(x), (1,), generator=generator))]
    for _ in range(1, k):
        d2 = torch.cdist(unit, unit[seeds]).min(1).values.pow(2)
        probs = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1.0 / len(d2))
        seeds.append(int(torch.multinomial(probs.float(), 1, generator=generator)))
    return x[seeds]


def assign_clusters(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Cluster of each log-mel (B, 1, F, T): nearest unit centroid to its time-mean. (B,) long."""
    means = F.normalize(x.mean(-1).flatten(1).float(), dim=1)  # (B, F); normalising keeps argmax cosine
    return (means @ centroids.t().to(means.device)).argmax(1)


def farthest_nonempty(centroids: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """For each source cluster c: the cluster farthest from c (centroid distance) with counts > 0.

    centroids (K, d), counts (K,) -> (K,) long; -1 where every cluster is empty. Ties keep the lower index.
    """
    d = torch.cdist(centroids.double(), centroids.double())  # (K, K)
    order = torch.argsort(d, dim=1, descending=True, stable=True)  # farthest first; self last
    nonempty = counts[order] > 0  # (K, K) in ranking order
    first = nonempty.float().argmax(1)
    target = order.gather(1, first[:, None])[:, 0]
    return torch.where(nonempty.any(1), target, torch.full_like(target, -1))


def kmix(x: torch.Tensor, bank: FIFOBank, centroids: torch.Tensor, ratio: float, top_k: int,
         generator: torch.Generator) -> torch.Tensor:
    """Apply k-mix to a batch (B, 1, F, T) with partners from ``bank`` (tags = cluster ids), then push x."""
    B = len(x)
    alpha = _alphas(B, ratio, generator, x.device)
    n = len(bank)
    x_clusters = assign_clusters(x, centroids)
    if n == 0:
        out = x.clone()
    else:
        order = bank.fifo_order()
        if n < top_k:  # warm-up: plain mixup with a random entry
            slots = order[torch.randint(n, (B,), generator=generator).to(order.device)]
        else:
            slots = farthest_partners(bank, centroids, x_clusters, top_k, generator)
        z = bank.data[slots].to(x.device)
        out = log_mixup_exp(x, z, 1.0 - alpha)
    bank.push(x, tags=x_clusters)
    return out


def farthest_partners(bank: FIFOBank, centroids: torch.Tensor, x_clusters: torch.Tensor, top_k: int,
                      generator: torch.Generator) -> torch.Tensor:
    """Bank slot (B,) of each sample's partner: random among the oldest ``top_k`` entries of the
    farthest non-empty cluster from the sample's cluster ``x_clusters`` (B,). The bank must be non-empty."""
    K = len(centroids)
    order = bank.fifo_order()
    tags = bank.tags[order].cpu()  # cluster of each stored entry, oldest first
    counts = torch.bincount(tags, minlength=K)
    target = farthest_nonempty(centroids.cpu(), counts)
    candidates = [order[(tags == c).to(order.device)][:top_k] for c in range(K)]
    u = torch.rand(len(x_clusters), generator=generator, dtype=torch.float64)
    slots = []
    for b, c in enumerate(x_clusters.cpu().tolist()):
        cand = candidates[int(target[c])]
        slots.append(cand[min(int(u[b] * len(cand)), len(cand) - 1)])
    return torch.stack(slots)
