"""Mixup with memory, RandomResizeCrop and the FIFO memory bank (docs/method.md 5.1-5.3)."""

from __future__ import annotations

import pytest
import torch

from slicer_embed.training.method.augment import log_mixup_exp, mixup_with_memory, random_resize_crop, rrc_params
from slicer_embed.training.method.memory import FIFOBank


def batch(n=4, seed=0):
    return torch.randn(n, 1, 8, 12, generator=torch.Generator().manual_seed(seed))


def test_log_mixup_exp_properties():
    x, z = batch(2, 0), batch(2, 1)
    assert torch.allclose(log_mixup_exp(x, x, 0.3), x, atol=1e-5)  # mixing a sample with itself
    assert torch.allclose(log_mixup_exp(x, z, 1.0), x, atol=1e-5)  # lam = weight of x
    mid = log_mixup_exp(x, z, 0.5)
    lo, hi = torch.minimum(x, z), torch.maximum(x, z)
    assert (mid >= lo - 1e-5).all() and (mid <= hi + 1e-5).all()  # a convex mix in the exp domain


def test_fifo_bank_order_and_wrap():
    bank = FIFOBank(3, (1,))
    bank.push(torch.tensor([[0.0], [1.0]]))
    assert bank.data[bank.fifo_order()].flatten().tolist() == [0.0, 1.0]
    bank.push(torch.tensor([[2.0], [3.0]]))
    assert len(bank) == 3
    assert bank.data[bank.fifo_order()].flatten().tolist() == [1.0, 2.0, 3.0]  # oldest (0) overwritten
    state = bank.state_dict()
    other = FIFOBank(3, (1,))
    other.load_state_dict(state)
    assert torch.equal(other.data[other.fifo_order()], bank.data[bank.fifo_order()])
    with pytest.raises(ValueError, match="shape"):
        bank.push(torch.zeros(1, 2))


def test_mixup_empty_bank_is_identity_and_pushes_inputs():
    x = batch()
    bank = FIFOBank(16, (1, 8, 12))
    out = mixup_with_memory(x, bank, 0.4, torch.Generator().manual_seed(0))
    assert torch.equal(out, x)
    assert len(bank) == 4 and torch.equal(bank.data[:4], x)


def test_mixup_partner_weight_below_ratio():
    # Bank holds a constant 0 log-mel; x is constant 0 too except a large value: mix weight visible.
    bank = FIFOBank(8, (1, 2, 2))
    bank.push(torch.zeros(8, 1, 2, 2))
    x = torch.full((64, 1, 2, 2), 5.0)
    out = mixup_with_memory(x, bank, 0.4, torch.Generator().manual_seed(1))
    alpha = (torch.exp(x) - torch.exp(out)) / (torch.exp(x) - 1.0)  # solves out = log((1-a)e^x + a e^0)
    a = alpha[:, 0, 0, 0]
    assert (a >= -1e-4).all() and (a < 0.4 + 1e-4).all() and a.std() > 0.05
    assert torch.equal(bank.data[bank.fifo_order()][-1], x[-1])  # the un-mixed inputs were pushed


def test_mixup_is_seeded():
    x = batch(4, 3)
    outs = []
    for _ in range(2):
        bank = FIFOBank(8, (1, 8, 12))
        bank.push(batch(8, 4))
        outs.append(mixup_with_memory(x, bank, 0.4, torch.Generator().manual_seed(7)))
    assert torch.equal(outs[0], outs[1])


def test_rrc_params_stay_in_canvas():
    g = torch.Generator().manual_seed(0)
    for _ in range(500):
        i, j, h, w = rrc_params((64, 96), (1.0, 1.5), (0.6, 1.5), (0.6, 1.5), g)
        assert 1 <= h <= 64 and 1 <= w <= 144
        assert 0 <= i <= 64 - h and 0 <= j <= 144 - w
        assert h >= int(0.6 * 64) and w >= int(0.6 * 96)


def test_rrc_shape_and_identity_at_unit_scale():
    x = batch(3, 5)
    g = torch.Generator().manual_seed(0)
    same = random_resize_crop(x, g, virtual_scale=(1.0, 1.0), freq_scale=(1.0, 1.0), time_scale=(1.0, 1.0))
    assert torch.allclose(same, x, atol=1e-5)
    out = random_resize_crop(x, g)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, x)


def test_rrc_is_seeded_and_per_sample():
    x = batch(1, 6).repeat(4, 1, 1, 1)
    a = random_resize_crop(x, torch.Generator().manual_seed(3))
    b = random_resize_crop(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1])  # each sample draws its own crop


def _spectral_peak_rows(v: torch.Tensor) -> torch.Tensor:
    """Mel row of the maximum of each sample's time-mean, shape (B,)."""
    return v.mean(-1)[:, 0].argmax(-1)


@pytest.mark.parametrize("freq_views", [0, 1, 2])
def test_rrc_freq_views_keep_partials_in_their_band(freq_views):
    from slicer_embed.training.method.config import SMOKE
    from slicer_embed.training.method.views import ViewMaker

    cfg = SMOKE.replace(augmentations="rrc", rrc_freq_views=freq_views)
    x = torch.full((64, 1, 64, 96), -2.0)
    x[:, :, 20] = 3.0  # one loud "partial" in mel band 20 of every clip
    v1, v2 = ViewMaker(cfg, (1, 64, 96), None, seed=3, device=torch.device("cpu"))(x)
    for k, v in enumerate((v1, v2)):
        moved = (_spectral_peak_rows(v) != 20).float().mean().item()
        if k < freq_views:
            assert moved > 0.25  # a frequency stretch moves it in many clips (a scale >= 1 leaves it)
        else:
            assert moved == 0.0  # a pitch-preserving view never does; time is still cropped and stretched
            assert not torch.equal(v, x)
