"""Two kernels of the fast inference path (``runtime.FastEncoder``) that beat the generic torch op.

- ``conv3x3_one_channel``: the encoder's first convolution (one input channel) as a 9-tap matmul
  that writes its output channels-last. ``F.conv2d`` cannot: a (B, 1, H, W) input is contiguous
  and channels-last at once, torch then picks the contiguous (NCHW) output, and the 64->64
  convolution that follows runs on an NCHW input (measured per 16 windows on one AMD EPYC core:
  19.1 ms instead of 16.0 ms, plus 5.5 ms instead of 4.0 ms for block 1 itself).
- ``LinearReLU``: ``relu(x @ W.T + b)`` through oneDNN with the weight packed once, when this torch
  has oneDNN's packed-weight kernels (the ones ``torch.compile`` uses on CPU). In float32 they
  are ~20% faster than ``F.linear`` (MKL's sgemm) on the AMD EPYC machines measured; in bfloat16
  ``F.linear`` already uses oneDNN and packing saves the per-call weight reorder.

Both give the same numbers as the generic ops up to float rounding (tests/test_kernels.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def conv3x3_one_channel(x: torch.Tensor, weight9: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, w, bias, padding=1)`` for a one-channel input, returned channels-last.

    ``x`` (B, 1, H, W); ``weight9`` (9, C) = ``w.reshape(C, 9).T`` for a (C, 1, 3, 3) kernel;
    ``bias`` (C,) -> (B, C, H, W) whose memory is (B, H, W, C). Zero padding of one sample on
    every side, stride 1. Builds the nine shifted copies of the input (9 floats per pixel), so
    call it on a few windows at a time.
    """
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected (batch, 1, height, width), got {tuple(x.shape)}")
    if weight9.dim() != 2 or weight9.shape[0] != 9:
        raise ValueError(f"expected a (9, channels) weight, got {tuple(weight9.shape)}")
    b, _, h, w = x.shape
    padded = F.pad(x[:, 0], (1, 1, 1, 1))
    taps = torch.stack([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], dim=-1)
    out = torch.addmm(bias, taps.reshape(-1, 9), weight9)
    return out.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def one_channel_weight(weight: torch.Tensor) -> torch.Tensor:
    """A (C, 1, 3, 3) convolution kernel as the (9, C) matrix ``conv3x3_one_channel`` takes."""
    if weight.dim() != 4 or tuple(weight.shape[1:]) != (1, 3, 3):
        raise ValueError(f"expected a (channels, 1, 3, 3) kernel, got {tuple(weight.shape)}")
    return weight.reshape(weight.shape[0], 9).t().contiguous()


class LinearReLU:
    """``relu(x @ weight.T + bias)`` on (..., in) -> (..., out), with the weight packed for oneDNN.

    ``rows`` is the usual number of rows per call (a packing hint; any count works). When
    ``pack`` is false, the weight is not on the CPU, or this torch lacks the kernels (or they fail
    a one-row check), it falls back to ``F.linear``; ``packed`` says which path is in use.
    Stateless after construction, so several threads may call it at once.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, rows: int = 1, pack: bool = True):
        self.weight, self.bias, self.rows, self.pack = weight.detach(), bias.detach(), rows, pack
        self.packed_weight: torch.Tensor | None = None
        if pack and self.weight.device.type == "cpu":
            self.packed_weight = _pack(self.weight, self.bias, rows)

    # A packed weight is an opaque oneDNN tensor without storage: it cannot be copied or pickled,
    # so copies (copy.deepcopy, pickle, torch.save of a model that has embedded) pack again.
    def __getstate__(self) -> dict:
        return {"weight": self.weight, "bias": self.bias, "rows": self.rows, "pack": self.pack}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["weight"], state["bias"], rows=state["rows"], pack=state["pack"])

    @property
    def packed(self) -> bool:
        return self.packed_weight is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed_weight is None:
            return F.relu_(F.linear(x, self.weight, self.bias))
        rows = x.reshape(-1, x.shape[-1])
        out = torch.ops.mkldnn._linear_pointwise(rows, self.packed_weight, self.bias, "relu", [], "")
        return out.reshape(*x.shape[:-1], out.shape[-1])


def _pack(weight: torch.Tensor, bias: torch.Tensor, rows: int) -> torch.Tensor | None:
    """The oneDNN-packed weight, or None where this torch or CPU cannot run it correctly."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, max(1, int(rows)))
        # One row through both paths: catches a kernel that exists but is unsupported on this CPU
        # (e.g. bfloat16 without AVX-512) before any real data goes through it.
        probe = torch.linspace(-1.0, 1.0, weight.shape[1], dtype=weight.dtype)[None]
        got = torch.ops.mkldnn._linear_pointwise(probe, packed, bias, "relu", [], "")
    except (AttributeError, NotImplementedError, RuntimeError):
        return None
    want = F.relu(F.linear(probe, weight, bias))
    tol = 1e-4 if weight.dtype == torch.float32 else 5e-2
    if got.shape != want.shape or not torch.allclose(got.float(), want.float(), rtol=tol, atol=tol):
        return None
    return packed
