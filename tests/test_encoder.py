"""The AudioNTT2020 encoder: parameter count, layout, shapes, pooling, reference flattening order."""

import pytest
import torch

from slicer_embed import create_model
from slicer_embed.config import EncoderConfig
from slicer_embed.encoder import AudioNTT2020, pool_frames


def test_parameter_count_is_the_reference():
    enc = AudioNTT2020(EncoderConfig())
    assert sum(p.numel() for p in enc.parameters()) == 5_321_856
    assert create_model().num_parameters() == 5_321_856
    buffers = sum(b.numel() for b in enc.buffers())
    assert buffers == 3 * (64 + 64 + 1)  # BN running mean/var + num_batches_tracked


def test_lape_parameter_names():
    keys = set(AudioNTT2020(EncoderConfig()).state_dict())
    for i in (1, 2, 3):
        assert {f"features_{i}.0.weight", f"features_{i}.1.running_var"} <= keys
    assert {"fc.0.weight", "fc.0.bias", "fc.3.weight", "fc.3.bias"} <= keys


@pytest.mark.parametrize("frames,out", [(96, 12), (97, 12), (101, 12), (200, 25)])
def test_output_frames(frames, out):
    enc = AudioNTT2020(EncoderConfig()).eval()
    assert enc(torch.randn(2, 1, 64, frames)).shape == (2, out, 2048)


def test_flattening_is_mel_major():
    """fc input index = f * C + c, as BYOL-A's permute(0, 3, 2, 1).reshape(B, T, F * C)."""
    enc = AudioNTT2020(EncoderConfig()).eval()
    x = torch.randn(1, 1, 64, 96)
    feats = x
    for block in enc.conv_blocks():
        feats = block(feats)  # (1, C=64, F=8, T=12)
    manual = torch.stack([feats[0, :, :, t].T.reshape(-1) for t in range(feats.shape[-1])])  # (T, F*C)
    torch.testing.assert_close(enc.fc(manual[None]), enc(x))


def test_wrong_input_shape_is_named():
    enc = AudioNTT2020(EncoderConfig())
    with pytest.raises(ValueError, match=r"\(batch, 1, 64, frames\)"):
        enc(torch.randn(2, 64, 96))


def test_pooling_modes():
    f = torch.tensor([[[1.0, -2.0], [3.0, 0.0]]])  # (1, T=2, D=2)
    torch.testing.assert_close(pool_frames(f, "mean"), torch.tensor([[2.0, -1.0]]))
    torch.testing.assert_close(pool_frames(f, "max"), torch.tensor([[3.0, 0.0]]))
    torch.testing.assert_close(pool_frames(f, "mean+max"), torch.tensor([[5.0, -1.0]]))
    with pytest.raises(ValueError, match="unknown pooling"):
        pool_frames(f, "median")


def test_seeded_creation_is_deterministic():
    a, b = create_model(seed=3), create_model(seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c = create_model(seed=4)
    assert not torch.equal(a.encoder.fc[0].weight, c.encoder.fc[0].weight)
