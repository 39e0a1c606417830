"""k-mix (docs/method.md 5.4): spherical k-means and the farthest non-empty cluster partner."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slicer_embed.training.method.kmix import (assign_clusters, farthest_nonempty, farthest_partners, kmix,
                                               spherical_kmeans)
from slicer_embed.training.method.memory import FIFOBank

F_BINS, T = 4, 6


def patch(direction, scale=1.0):
    """A log-mel patch (1, F, T) whose time-mean points along ``direction`` (F,)."""
    return (scale * torch.tensor(direction, dtype=torch.float32))[None, :, None].repeat(1, 1, T)


# Four unit centroids: 0 = e0, 1 = near e0, 2 = e1, 3 = -e0 (farthest from cluster 0).
CENTROIDS = F.normalize(torch.tensor([[1.0, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 1.0, 0, 0], [-1.0, 0, 0, 0]]), dim=1)


def test_farthest_nonempty_ranking():
    counts = torch.tensor([1, 1, 1, 1])
    assert farthest_nonempty(CENTROIDS, counts)[0] == 3  # -e0 is farthest from e0
    counts = torch.tensor([1, 1, 1, 0])  # farthest is empty -> next farthest (e1)
    assert farthest_nonempty(CENTROIDS, counts)[0] == 2
    counts = torch.tensor([0, 0, 0, 0])
    assert (farthest_nonempty(CENTROIDS, counts) == -1).all()


def fill_bank(bank, directions_and_scales):
    entries = torch.stack([patch(d, s) for d, s in directions_and_scales])
    bank.push(entries, tags=assign_clusters(entries, CENTROIDS))
    return entries


def test_partner_slots_are_oldest_top_k_of_farthest_nonempty_cluster():
    bank = FIFOBank(16, (1, F_BINS, T))
    # slots 0-2: cluster 3 (-e0), slots 3-7: cluster 2 (e1), slots 8-9: cluster 0 (e0)
    fill_bank(bank, [([-1, 0, 0, 0], 1 + i) for i in range(3)] + [([0, 1, 0, 0], 1)] * 5 + [([1, 0, 0, 0], 1)] * 2)
    assert bank.tags[:10].tolist() == [3, 3, 3, 2, 2, 2, 2, 2, 0, 0]
    g = torch.Generator().manual_seed(0)
    x_clusters = torch.zeros(300, dtype=torch.long)  # samples in cluster 0 (e0): farthest is 3 (-e0)
    slots = farthest_partners(bank, CENTROIDS, x_clusters, top_k=2, generator=g)
    assert set(slots.tolist()) == {0, 1}  # the two oldest of cluster 3, both drawn; never slot 2
    slots = farthest_partners(bank, CENTROIDS, torch.full((50,), 3), top_k=8, generator=g)
    assert set(slots.tolist()) <= {8, 9}  # farthest from -e0 is e0 (cluster 0)


def test_partner_falls_back_to_next_farthest_when_farthest_is_empty():
    bank = FIFOBank(16, (1, F_BINS, T))
    fill_bank(bank, [([0, 1, 0, 0], 1)] * 3 + [([1, 0, 0, 0], 1)] * 3)  # clusters 2 and 0 only
    slots = farthest_partners(bank, CENTROIDS, torch.zeros(100, dtype=torch.long), 128,
                              torch.Generator().manual_seed(0))
    assert set(slots.tolist()) == {0, 1, 2}  # cluster 3 is empty -> cluster 2 (e1), all three drawn


def test_oldest_first_survives_wraparound():
    bank = FIFOBank(4, (1, F_BINS, T))
    fill_bank(bank, [([-1, 0, 0, 0], 1)] * 4)  # slots 0-3, cluster 3
    fill_bank(bank, [([-1, 0, 0, 0], 1)] * 2)  # overwrite slots 0, 1: oldest are now slots 2, 3
    slots = farthest_partners(bank, CENTROIDS, torch.zeros(100, dtype=torch.long), 2,
                              torch.Generator().manual_seed(0))
    assert set(slots.tolist()) == {2, 3}


def test_kmix_mixes_with_a_farthest_cluster_partner():
    bank = FIFOBank(16, (1, F_BINS, T))
    fill_bank(bank, [([-1, 0, 0, 0], 2.0)] * 8 + [([0, 1, 0, 0], 2.0)] * 8)
    x = torch.stack([patch([1, 0, 0, 0], 2.0)] * 32)  # cluster 0; partner must be -2 e0
    out = kmix(x, bank, CENTROIDS, ratio=1.0, top_k=8, generator=torch.Generator().manual_seed(0))
    # bin 1: x and a cluster-3 partner are both 0 there, so the mix is 0 (an e1 partner would raise it)
    assert torch.allclose(out[:, 0, 1], torch.zeros(32, T), atol=1e-5)
    assert (out[:, 0, 0] < 2.0 + 1e-5).all() and (out[:, 0, 0] > -2.0).all()
    assert len(bank) == 16 and (bank.tags[bank.fifo_order()] == 0).all()  # x pushed with its cluster


def test_kmix_warmup_and_empty_bank():
    x = torch.randn(3, 1, F_BINS, T)
    bank = FIFOBank(8, (1, F_BINS, T))
    out = kmix(x, bank, CENTROIDS, 0.4, top_k=4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and len(bank) == 3  # empty bank: unchanged, inputs pushed
    assert (bank.tags[:3] >= 0).all()
    out2 = kmix(x, bank, CENTROIDS, 0.4, top_k=4, generator=torch.Generator().manual_seed(0))
    assert out2.shape == x.shape and not torch.equal(out2, x)  # fewer than top_k: random partner


def test_spherical_kmeans_recovers_directions():
    g = torch.Generator().manual_seed(0)
    dirs = torch.eye(3, 8) * 5
    x = torch.cat([d + 0.1 * torch.randn(50, 8, generator=g) for d in dirs])
    c = spherical_kmeans(x, 3, 10, torch.Generator().manual_seed(1))
    assert torch.allclose(c.norm(dim=1), torch.ones(3), atol=1e-5)
    # every true direction has a centroid within a small angle
    cos = F.normalize(dirs, dim=1) @ c.t()
    assert (cos.max(1).values > 0.99).all()
