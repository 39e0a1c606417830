"""SLICER losses against naive Python-loop implementations of docs/method.md 4.1-4.3."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from slicer_embed.training.method.losses import (byol_loss, cluster_entropy, cluster_loss, combine_directions,
                                                 instance_loss)


def naive_instance(q, k, queue, tau):
    total = 0.0
    for i in range(len(q)):
        pos = math.exp(float(q[i] @ k[i]) / tau)
        neg = sum(math.exp(float(q[i] @ queue[:, n]) / tau) for n in range(queue.shape[1]))
        total += -math.log(pos / (pos + neg))
    return total / len(q)


def naive_cluster(c1, c2, tau, entropy):
    K = c1.shape[1]
    cols = [c1[:, k] for k in range(K)] + [c2[:, k] for k in range(K)]
    cos = lambda a, b: float(a @ b) / (float(a.norm()) * float(b.norm()))
    total = 0.0
    for a in range(2 * K):
        partner = (a + K) % (2 * K)
        denom = sum(math.exp(cos(cols[a], cols[j]) / tau) for j in range(2 * K) if j != a)
        total += -math.log(math.exp(cos(cols[a], cols[partner]) / tau) / denom)
    loss = total / (2 * K)
    if entropy:
        for c in (c1, c2):
            p = [float(c[:, k].sum()) / float(c.sum()) for k in range(K)]
            loss += math.log(K) + sum(pk * math.log(pk) for pk in p)
    return loss


def test_instance_loss_matches_loop():
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(4, 8, generator=g, dtype=torch.float64), dim=1)
    k = F.normalize(torch.randn(4, 8, generator=g, dtype=torch.float64), dim=1)
    queue = F.normalize(torch.randn(8, 16, generator=g, dtype=torch.float64), dim=0)
    got = float(instance_loss(q, k, queue, 0.07))
    assert got == pytest.approx(naive_instance(q, k, queue, 0.07), rel=1e-9)


def test_instance_loss_prefers_aligned_keys():
    g = torch.Generator().manual_seed(1)
    q = F.normalize(torch.randn(6, 8, generator=g), dim=1)
    queue = F.normalize(torch.randn(8, 32, generator=g), dim=0)
    aligned = instance_loss(q, q.clone(), queue, 0.07)
    shuffled = instance_loss(q, q.roll(1, 0), queue, 0.07)
    assert aligned < shuffled


def test_instance_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="queue"):
        instance_loss(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(5, 3), 0.1)


@pytest.mark.parametrize("entropy", [False, True])
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_cluster_loss_matches_loop(entropy, tau):
    g = torch.Generator().manual_seed(2)
    c1 = torch.softmax(torch.randn(5, 3, generator=g, dtype=torch.float64), dim=1)
    c2 = torch.softmax(torch.randn(5, 3, generator=g, dtype=torch.float64), dim=1)
    got = float(cluster_loss(c1, c2, tau, entropy))
    assert got == pytest.approx(naive_cluster(c1, c2, tau, entropy), rel=1e-9)


def test_cluster_loss_is_symmetric_and_has_gradients():
    g = torch.Generator().manual_seed(3)
    logits1 = torch.randn(6, 4, generator=g, requires_grad=True)
    c1 = torch.softmax(logits1, dim=1)
    c2 = torch.softmax(torch.randn(6, 4, generator=g), dim=1)
    a, b = cluster_loss(c1, c2), cluster_loss(c2, c1)
    assert torch.allclose(a, b, atol=1e-6)
    a.backward()
    assert logits1.grad is not None and torch.isfinite(logits1.grad).all() and logits1.grad.abs().sum() > 0


def test_entropy_term_is_zero_for_balanced_clusters():
    c = torch.full((4, 4), 0.25)
    assert float(cluster_entropy(c)) == pytest.approx(0.0, abs=1e-7)
    skewed = torch.tensor([[0.97, 0.01, 0.01, 0.01]] * 4)
    assert float(cluster_entropy(skewed)) > 0.5


def test_combine_directions():
    a, b = torch.tensor(1.0), torch.tensor(3.0)
    assert float(combine_directions(a, b, "sum")) == 4.0
    assert float(combine_directions(a, b, "mean")) == 2.0
    with pytest.raises(ValueError):
        combine_directions(a, b, "max")


def test_byol_loss_is_the_normalised_squared_distance():
    g = torch.Generator().manual_seed(0)
    p, z = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    naive = sum(float(((p[i] / p[i].norm() - z[i] / z[i].norm()) ** 2).sum()) for i in range(5)) / 5
    assert byol_loss(p, z).item() == pytest.approx(naive, rel=1e-5)
    e = torch.eye(2)
    assert byol_loss(e[:1], 3 * e[:1]).item() == pytest.approx(0.0, abs=1e-6)  # aligned, any scale
    assert byol_loss(e[:1], e[1:]).item() == pytest.approx(2.0)  # orthogonal
    assert byol_loss(e[:1], -e[:1]).item() == pytest.approx(4.0)  # opposite
    assert byol_loss(p.bfloat16(), z).dtype == torch.float32


def test_byol_loss_gradient_moves_the_prediction_towards_the_target():
    p = torch.tensor([[1.0, 0.2]], requires_grad=True)
    z = torch.tensor([[0.0, 1.0]])
    byol_loss(p, z).backward()
    stepped = (p - 0.1 * p.grad).detach()
    assert byol_loss(stepped, z) < byol_loss(p.detach(), z)
    with pytest.raises(ValueError, match="byol_loss"):
        byol_loss(torch.zeros(2, 3), torch.zeros(2, 4))
