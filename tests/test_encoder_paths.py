"""Every execution path of the encoder computes ``AudioNTT2020.forward``, on every architecture option.

The plain module (slicer_embed/encoder.py) is the one definition of the architecture; the fast inference
path (``runtime.FastEncoder``, float32, channels-last or not), the fast training path
(``training.speed.fast_encoder.train_forward``: torch ops in the default suite, the compiled kernels with -m slow)
and the ONNX export are checked against it here, one parametrised test per path over the same list of
architectures, so a change to the architecture that a path does not follow fails here.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from conftest import trained_like_model
from slicer_embed.config import EncoderConfig

# Every field of EncoderConfig that shapes the network, each moved off its default (small widths keep it quick).
SMALL = dict(hidden_dim=96, embedding_dim=48)
ARCHITECTURES = {
    "reference": EncoderConfig(),
    "n_blocks=1": EncoderConfig(n_blocks=1, conv_channels=16, **SMALL),
    "n_blocks=2": EncoderConfig(n_blocks=2, conv_channels=16, **SMALL),
    "n_blocks=4": EncoderConfig(n_blocks=4, conv_channels=16, **SMALL),
    "conv_channels=24": EncoderConfig(conv_channels=24, **SMALL),
    "n_mels=32": EncoderConfig(n_mels=32, conv_channels=16, **SMALL),
    "hidden_dim=40,embedding_dim=72": EncoderConfig(conv_channels=16, hidden_dim=40, embedding_dim=72),
    "dropout=0.1": EncoderConfig(conv_channels=16, dropout=0.1, **SMALL),
}
FRAMES = (96, 45)  # a training crop's log-mel and an odd length (the pools drop the last row/column)


def model_for(arch: EncoderConfig):
    return trained_like_model(arch, negative_scales=True)


def log_mel(arch: EncoderConfig, frames: int, batch: int = 3) -> torch.Tensor:
    return torch.randn(batch, 1, arch.n_mels, frames, generator=torch.Generator().manual_seed(frames))


class RandDropout(nn.Module):
    """The fast training path's dropout (a torch.rand mask) as a module, so that the plain forward draws the
    same mask when the global generator is seeded alike."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from slicer_embed.training.speed.fast_encoder import dropout_rand
        return dropout_rand(x, self.p)


@pytest.mark.parametrize("arch", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
@pytest.mark.parametrize("channels_last", [True, False], ids=["channels-last", "nchw"])
def test_fast_inference_path_matches_the_module(arch, channels_last):
    from slicer_embed.runtime import FastEncoder, InferenceOptions
    model = model_for(arch)
    fast = FastEncoder(model.encoder, InferenceOptions(channels_last=channels_last, micro_batch=2))
    for frames in FRAMES:
        x = log_mel(arch, frames)
        with torch.no_grad():
            want = model.encoder(x)
            got = fast(x)
        assert got.shape == want.shape == (3, frames // arch.time_stride, arch.embedding_dim)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def _train_path(arch: EncoderConfig, grad_tol: float = 1e-4) -> None:
    """train_forward == the module's train-mode forward: values, every gradient, BN running statistics."""
    from slicer_embed.training.speed.fast_encoder import train_forward
    ref = model_for(arch).encoder.train()
    ref.fc[2] = RandDropout(arch.dropout)  # the same mask as the fast path's, from the same seed
    fast = copy.deepcopy(ref)
    for frames in FRAMES:
        x = log_mel(arch, frames, batch=4)
        torch.manual_seed(5)
        want = ref(x)
        torch.manual_seed(5)
        got = train_forward(fast, x)
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5)
        g = torch.randn(want.shape, generator=torch.Generator().manual_seed(3))
        want.backward(g)
        got.backward(g)
    for (name, p_ref), p_fast in zip(ref.named_parameters(), fast.parameters()):
        if name.endswith("0.bias") and name.startswith("features"):
            # a conv bias before batch-statistics BN: zero gradient in real arithmetic (both ~0 or exactly 0)
            assert float(p_fast.grad.abs().max()) <= 1e-3 and float(p_ref.grad.abs().max()) <= 1e-3
            continue
        err = float((p_fast.grad - p_ref.grad).norm() / p_ref.grad.norm().clamp_min(1e-30))
        assert err < grad_tol, (name, err)
    for (name, b_ref), b_fast in zip(ref.named_buffers(), fast.buffers()):
        torch.testing.assert_close(b_fast.float(), b_ref.float(), rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("arch", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_fast_training_path_matches_the_module(arch):
    """Without the compiled kernels (the default suite: tests/conftest.py): torch ops."""
    from slicer_embed.training.speed import block1_kernel
    assert not block1_kernel.available()
    _train_path(arch)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_fast_training_path_with_the_kernels_matches_the_module(arch, kernels):
    """Gradients to 2e-2 relative here, not 1e-4: the kernel rounds block 1 differently (values within ~1e-6
    relative), and one ReLU pre-activation that changes sign moves a whole row of fc.0's gradient. On the
    reference architecture at 96 frames exactly one of 98,304 fc.0 pre-activations flips, and every
    gradient then lies 3.7e-3 to 4.3e-3 from the module's (also with the plain-C kernel of 3333ebc: these
    are the shipped recipe's bits); the outputs still agree to 2e-5."""
    from slicer_embed.training.speed import block1_kernel
    assert block1_kernel.available()
    _train_path(arch, grad_tol=2e-2)


@pytest.mark.parametrize("arch", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_onnx_export_matches_the_module(arch, tmp_path):
    pytest.importorskip("onnx", reason="ONNX export needs the optional extra: pip install 'slicer-embed[onnx]'")
    pytest.importorskip("onnxruntime", reason="ONNX parity needs onnxruntime: pip install 'slicer-embed[onnx]'")
    from slicer_embed.onnx_export import export_onnx, session
    model = model_for(arch)
    path = export_onnx(model, tmp_path / "m.onnx", check=False)
    wave = 0.1 * torch.randn(2, model.config.window_samples + 700, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(wave).numpy()
    got = session(path, threads=1).run(["frames"], {"wave": wave.numpy()})[0]
    assert got.shape == want.shape
    torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(want), rtol=1e-3, atol=1e-4)
