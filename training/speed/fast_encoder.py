"""The encoder's training forward, equal to ``AudioNTT2020.forward`` in train mode but cheaper on a CPU.

``train_forward(encoder, x)`` uses the module's own parameters and BatchNorm buffers and computes the
same function (batch-statistics BatchNorm, dropout, running statistics updated as ``nn.BatchNorm2d``
does), so its gradients are the module's; only the order of the work changes:

- **Block 1** (Conv 1->C, BN, ReLU, MaxPool 2) is the widest tensor of the step (C x F x T per clip,
  larger than the CPU caches) and is memory-bound: BN, ReLU and the pool each stream it. Its input
  has one channel, so the BN batch statistics of the conv output follow from the 9 x 9 covariance of
  the input's 3 x 3 patches (mean_c = w_c . m + b_c, var_c = w_c' S w_c) without computing the conv;
  BN is then folded into the conv, and the compiled kernel (training.speed.block1_kernel, a torch op built by
  training.speed.native) computes each pooled output straight from its 4 x 4 input patch, ReLU last (max-pool
  and ReLU commute). The full-resolution tensor is never stored. Without the kernels (not built: announced
  once; not a CPU) the block runs as the module's own. Under bf16 autocast the kernel writes its output in bf16, rounded as the next
  conv's cast would round it, so that cast pass over the step's widest tensor (and its gradient's) is gone.
- **Blocks 2..n**: Conv, BN, MaxPool, then ReLU on the pooled quarter (the same values); in bf16 on a
  CPU the pool and the ReLU are one kernel each way (training.speed.pool_kernel).
- **Dropout** draws its mask with ``torch.rand`` (``F.dropout``'s bernoulli is ~4x slower here).

Autograd differentiates the statistics, so the gradients equal BN-train's exactly in real arithmetic
(tests/test_train_fast_encoder.py checks values, gradients and running statistics against the module
in float32). Ties in a pooling window send the gradient to the first element, as ``max_pool2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from slicer_embed.encoder import AudioNTT2020, block_layers, check_input, flatten_frames

from . import block1_kernel, pool_kernel
from .block1_kernel import Block1Kernel, patch_moments
from .pool_kernel import PoolReLU


def _update_running(bn: nn.BatchNorm2d, mean: torch.Tensor, var_biased: torch.Tensor, n: int) -> None:
    """What ``nn.BatchNorm2d`` does to its buffers in a train-mode forward."""
    if not bn.track_running_stats or bn.running_mean is None:
        return
    with torch.no_grad():
        bn.num_batches_tracked.add_(1)
        m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
        bn.running_mean.mul_(1 - m).add_(mean.detach().to(bn.running_mean.dtype), alpha=m)
        unbiased = var_biased.detach() * (n / max(n - 1, 1))
        bn.running_var.mul_(1 - m).add_(unbiased.to(bn.running_var.dtype), alpha=m)


def block1_fused(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Conv(1->C, 3x3, pad 1) -> BatchNorm (batch statistics) -> ReLU -> MaxPool(2) of ``x`` (B, 1, F, T).

    Returns (B, C, F // 2, T // 2), channels-last. Updates the BN running statistics.
    """
    conv, bn, _ = block_layers(block)
    mean9, cov9, n = patch_moments(x)
    with torch.autocast(x.device.type, enabled=False):  # the folding is tiny: keep it in float32
        w = conv.weight.reshape(conv.out_channels, 9).float()
        m9, s9 = mean9.float().to(w.device), cov9.float().to(w.device)
        mu = w @ m9 + conv.bias.float()
        var = ((w @ s9) * w).sum(1).clamp_min(0.0)
        scale = bn.weight.float() * torch.rsqrt(var + bn.eps)
        # BN(conv(x)) = scale * (w * x + b - mu) + beta: the conv bias cancels (its gradient is an
        # exact 0, as in BN-train, so the optimiser still sees it)
        w_fold = w * scale[:, None]  # (C, 9)
        b_fold = bn.bias.float() - scale * (mu - conv.bias.float())
    _update_running(bn, mu, var, n)
    # under bf16 autocast the next conv casts this output to bf16 anyway: the kernel writes it so
    out = Block1Kernel.apply(x, w_fold.t(), b_fold, _autocast_dtype(x.device.type))  # (B, F/2, T/2, C)
    return out.permute(0, 3, 1, 2)


def _autocast_dtype(device_type: str) -> torch.dtype:
    """bfloat16 when bf16 autocast is on for ``device_type`` (a conv would cast its input to it), else float32."""
    # torch >= 2.4 (the declared floor): the per-device-type forms; the older per-device functions are deprecated
    on, dtype = torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type)
    return torch.bfloat16 if on and dtype == torch.bfloat16 else torch.float32


def block_pool_first(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Conv -> BN -> MaxPool -> ReLU: the block's own modules with ReLU moved after the pool."""
    conv, bn, pool = block_layers(block)
    h = bn(conv(x))
    if pool_kernel.usable(h, pool):  # bf16 on a CPU: pool + ReLU in one pass each way, same values
        return PoolReLU.apply(h)
    return F.relu(pool(h))


def dropout_rand(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout with a ``torch.rand`` mask (the global generator): keep with probability 1 - p."""
    if p <= 0.0:
        return x
    keep = torch.rand(x.shape, device=x.device) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


def train_forward(encoder: AudioNTT2020, x: torch.Tensor) -> torch.Tensor:
    """Normalised log-mel (B, 1, F, T) -> frames (B, T // 2**n_blocks, D), as ``encoder(x)`` in train mode."""
    if not encoder.training:  # running BN statistics: nothing to fuse, use the module
        return encoder(x)
    check_input(x, encoder.cfg.n_mels)
    blocks = encoder.conv_blocks()
    if x.device.type == "cpu" and block1_kernel.available():
        h = block1_fused(blocks[0], x)
    else:  # no compiled kernel (or not a CPU): the module's own block
        h = blocks[0](x)
    for block in blocks[1:]:
        h = block_pool_first(block, h)
    fc1, drop, fc2 = encoder.fc_layers()
    h = F.relu(fc1(flatten_frames(h)))
    h = dropout_rand(h, drop.p)
    return F.relu(fc2(h))
