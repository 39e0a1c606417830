"""Shared fixtures: a seeded random model, its saved folder, real and generated audio, subprocess runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import soundfile as sf

FIXTURES = Path(__file__).parent / "fixtures"
SR = 16000

# The default suite runs the fast training encoder's torch-ops path: building its C++ kernels
# (training/speed/kernels.cpp) takes a minute or more on a small machine. Tests that use the ``kernels``
# fixture build and check them; they are marked slow (python -m pytest -m slow).
os.environ.setdefault("SLICER_EMBED_NO_KERNEL", "1")


@pytest.fixture
def kernels(monkeypatch):
    """The compiled training kernels, built on first use (skips, saying why, where they cannot be)."""
    from slicer_embed.training.speed import native
    monkeypatch.delenv("SLICER_EMBED_NO_KERNEL", raising=False)
    if native.ops() is None:
        pytest.skip(f"training kernels unavailable: {native.error()}")
    return native.ops()


@pytest.fixture(scope="session")
def model():
    """The reference architecture with seeded random weights (eval mode, CPU)."""
    from slicer_embed import create_model
    return create_model(seed=0)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, model):
    """``model`` saved as a model folder (config.json + model.safetensors)."""
    d = tmp_path_factory.mktemp("model")
    model.save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """1.43 s of real recorded speech at 16 kHz (tests/fixtures/README.md)."""
    x, sr = sf.read(FIXTURES / "speech_front_center_16k.flac", dtype="float32")
    assert sr == SR
    return x


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def trained_like_model(architecture=None, negative_scales: bool = False):
    """A seeded SlicerModel (eval mode) whose BatchNorm statistics, affine parameters and normalisation are
    drawn as a trained model's, so that conv/BN folding and pooling order are exercised.

    ``architecture``: an ``EncoderConfig`` (default: the reference one). ``negative_scales``: draw BN scales
    in [-1, 2) (some negative, which flips the max-pool/affine order) instead of around 1.
    """
    from slicer_embed import create_model
    from slicer_embed.config import EncoderConfig, FrontendConfig, ModelConfig, NormalizationConfig

    arch = architecture or EncoderConfig()
    config = ModelConfig(frontend=FrontendConfig(n_mels=arch.n_mels), architecture=arch,
                         normalization=NormalizationConfig(-6.0, 4.0, "test"))
    model = create_model(config=config, seed=0)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for block in model.encoder.conv_blocks():
            bn = block[1]
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=g) * 0.3)
            bn.running_var.copy_(torch.rand(bn.num_features, generator=g) * 2 + 0.2)
            if negative_scales:
                bn.weight.copy_(torch.rand(bn.num_features, generator=g) * 3 - 1.0)
            else:
                bn.weight.copy_(torch.randn(bn.num_features, generator=g) * 0.5 + 1)
            bn.bias.copy_(torch.randn(bn.num_features, generator=g) * 0.2)
    return model.eval()


def run_python(code: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (fresh imports, fresh environment variables)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (small, deterministic probes; no oversubscription)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Undo process-wide thread settings a test made (``extract`` main() sets one thread per worker)."""
    n = torch.get_num_threads()
    yield
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
