"""Export a ``SlicerModel`` to ONNX, log-mel frontend included (optional extra ``slicer-embed[onnx]``).

The graph maps waveform windows to frame embeddings exactly as ``model(wave)`` does:

    input  "wave"   (batch, samples) float32, mono, at the model's sample rate (16 kHz)
    output "frames" (batch, (1 + samples // 160) // 8, 2048) float32, one row per 80 ms

(12 frames for the 15,360-sample, 0.96 s windows that the Python API cuts). Everything that is not a tensor operation stays outside the graph,
as in the Python API: resampling, cutting audio into 0.96 s windows (last one zero-padded), dropping
frames whose centre lies past the clip end, and pooling (``mean+max`` = frame mean + frame max).
The graph's ``metadata_props`` record the input contract and the full ``config.json``.

The frontend uses ONNX's ``STFT`` operator (opset 17): onnxruntime >= 1.15 runs it. ``onnx`` and
``onnxruntime`` are imported lazily; without them a clear ``ImportError`` says what to install.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

ONNX_OPSET = 17  # first opset with STFT
INSTALL_HINT = "pip install 'slicer-embed[onnx]'  (onnx and onnxruntime)"


def require_onnx() -> tuple[Any, Any]:
    """Import ``onnx`` and ``onnxruntime`` or raise ``ImportError`` saying how to install them."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise ImportError(f"ONNX export needs the optional dependencies: {INSTALL_HINT} ({e})") from e
    return onnx, onnxruntime


class _WaveToFrames(nn.Module):
    """``model.forward`` written with ops the ONNX exporter maps 1:1 (real-valued STFT, no complex)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.frontend, self.encoder = model.frontend, model.encoder
        norm = model.config.normalization
        self.mean, self.std = float(norm.mean), float(norm.std)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        fe = self.frontend
        cfg = fe.cfg
        # return_complex=False is what the exporter turns into ONNX STFT; same numbers as the complex
        # path of LogMelFrontend.
        spec = torch.stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=fe.window, center=cfg.center, pad_mode=cfg.pad_mode, return_complex=False)
        power = spec[..., 0] * spec[..., 0] + spec[..., 1] * spec[..., 1]
        if cfg.power == 1.0:
            power = power.sqrt()
        log_mel = torch.log(torch.matmul(fe.mel_fb, power) + fe.mel_offset + cfg.log_offset)
        if not (self.mean == 0.0 and self.std == 1.0):
            log_mel = (log_mel - self.mean) / self.std
        return self.encoder(log_mel.unsqueeze(1))


def metadata(model: Any) -> dict[str, str]:
    """String metadata stored in the ONNX file: the input contract and the model config."""
    cfg = model.config
    return {
        "slicer_embed.config": json.dumps(cfg.to_dict()),
        "sample_rate": str(model.sample_rate),
        "window_samples": str(cfg.window_samples),
        "frame_hop_seconds": repr(model.frame_hop_seconds),
        "embedding_dim": str(model.embedding_dim),
        "pooling": cfg.inference.pooling,
        "source": str(getattr(model, "source", "")),
    }


def export_onnx(model: Any, path: str | os.PathLike, *, opset: int = ONNX_OPSET, check: bool = True) -> Path:
    """Write ``model`` (a ``SlicerModel``) to ``path`` as ONNX: wave (B, samples) -> frames (B, T, D).

    Batch and length are dynamic. The file is written atomically (temporary file + rename). With
    ``check`` the graph is verified with ``onnx.checker`` and run once with onnxruntime against the
    PyTorch model on a random window (max abs difference < 1e-3), so a broken export never lands.
    """
    onnx, _ = require_onnx()
    if opset < ONNX_OPSET:
        raise ValueError(f"opset {opset} has no STFT operator; use opset >= {ONNX_OPSET}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = _WaveToFrames(model.cpu()).eval()
    example = torch.randn(2, model.config.window_samples, generator=torch.Generator().manual_seed(0)) * 0.1
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # The TorchScript exporter is the one that maps torch.stft to ONNX STFT; its deprecation
            # notice and the tracer's shape-check warning are expected here.
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, (example,), tmp, input_names=["wave"], output_names=["frames"],
                              dynamic_axes={"wave": {0: "batch", 1: "samples"},
                                            "frames": {0: "batch", 1: "frames"}},
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        proto = onnx.load(tmp)
        for key, value in metadata(model).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.producer_name = "slicer-embed"
        onnx.save(proto, tmp)
        if check:
            onnx.checker.check_model(tmp)
            _check_against_torch(tmp, graph, example)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def session(path: str | os.PathLike, threads: int | None = None) -> Any:
    """An onnxruntime CPU ``InferenceSession`` for an exported file (all graph optimisations on)."""
    _, ort = require_onnx()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _check_against_torch(path: str, graph: nn.Module, example: torch.Tensor) -> None:
    with torch.inference_mode():
        want = graph(example).numpy()
    got = session(path, threads=1).run(["frames"], {"wave": example.numpy()})[0]
    err = float(abs(got - want).max()) if got.shape == want.shape else float("inf")
    if err > 1e-3:
        raise RuntimeError(f"ONNX export check failed: onnxruntime output {got.shape} differs from PyTorch "
                           f"{want.shape} by up to {err:.3g}")
