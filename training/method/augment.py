"""Log-mel augmentations of BYOL-A / SLICER on normalised log-mel (docs/method.md 5.1-5.3).

All functions take batches (B, 1, F, T) of normalised log-mel and an explicit ``torch.Generator``
(on the CPU), and draw one set of random numbers per sample. Memory banks are passed in
(``training.method.memory.FIFOBank``), never hidden inside the augmentation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .memory import FIFOBank

EPS_F32 = torch.finfo(torch.float32).eps


def log_mixup_exp(x: torch.Tensor, z: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """BYOL-A's mix in the linear domain: ``log(lam * exp(x) + (1 - lam) * exp(z) + eps)``.

    ``lam`` is the weight of ``x`` (broadcast against x). The reference calls it with
    ``lam = 1 - alpha`` so that the partner ``z`` gets weight ``alpha``.
    """
    return torch.log(lam * x.exp() + (1.0 - lam) * z.exp() + EPS_F32)


def _alphas(n: int, ratio: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Per-sample partner weights alpha = ratio * U[0, 1), shaped (n, 1, 1, 1)."""
    return (ratio * torch.rand(n, generator=generator)).to(device).view(n, 1, 1, 1)


def mixup_with_memory(x: torch.Tensor, bank: FIFOBank, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """MixupBYOLA (5.2): mix each sample with a uniformly random bank entry, then push the inputs.

    x: (B, 1, F, T). alpha ~ ratio * U[0, 1); out = log_mixup_exp(x, z, 1 - alpha). An empty bank
    leaves x unchanged. The *un-mixed* inputs are pushed after mixing (see memory.py for batch order).
    """
    n = len(bank)
    alpha = _alphas(len(x), ratio, generator, x.device)
    if n == 0:
        out = x.clone()
    else:
        pick = torch.randint(n, (len(x),), generator=generator)
        z = bank.data[bank.fifo_order()[pick.to(bank.data.device)]].to(x.device)
        out = log_mixup_exp(x, z, 1.0 - alpha)
    bank.push(x)
    return out


def rrc_params(in_size: tuple[int, int], virtual_scale: tuple[float, float], freq_scale: tuple[float, float],
               time_scale: tuple[float, float], generator: torch.Generator) -> tuple[int, int, int, int]:
    """BYOL-A's RandomResizeCrop.get_params: (top i, left j, height h, width w) on the virtual canvas."""
    src_h, src_w = in_size
    canvas_h, canvas_w = int(virtual_scale[0] * src_h), int(virtual_scale[1] * src_w)
    u = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
    h = min(max(int((freq_scale[0] + u[0] * (freq_scale[1] - freq_scale[0])) * src_h), 1), canvas_h)
    w = min(max(int((time_scale[0] + u[1] * (time_scale[1] - time_scale[0])) * src_w), 1), canvas_w)
    i = int(torch.randint(canvas_h - h + 1, (1,), generator=generator)) if canvas_h > h else 0
    j = int(torch.randint(canvas_w - w + 1, (1,), generator=generator)) if canvas_w > w else 0
    return i, j, h, w


def random_resize_crop(x: torch.Tensor, generator: torch.Generator, virtual_scale: tuple[float, float] = (1.0, 1.5),
                       freq_scale: tuple[float, float] = (0.6, 1.5),
                       time_scale: tuple[float, float] = (0.6, 1.5)) -> torch.Tensor:
    """RandomResizeCrop (5.3) per sample: paste into a zero canvas, crop, resize back (bicubic).

    x: (B, 1, F, T) -> (B, 1, F, T). The canvas is (F * vs[0], T * vs[1]) with the input centred;
    zeros equal the corpus mean after normalisation. Bicubic with ``align_corners=True`` as BYOL-A.
    """
    B, C, Fq, T = x.shape
    canvas_h, canvas_w = int(virtual_scale[0] * Fq), int(virtual_scale[1] * T)
    canvas = x.new_zeros(B, C, canvas_h, canvas_w)
    top, left = (canvas_h - Fq) // 2, (canvas_w - T) // 2
    canvas[:, :, top:top + Fq, left:left + T] = x
    out = torch.empty_like(x)
    for b in range(B):  # each sample has its own crop size, so resize one at a time
        i, j, h, w = rrc_params((Fq, T), virtual_scale, freq_scale, time_scale, generator)
        crop = canvas[b:b + 1, :, i:i + h, j:j + w]
        out[b:b + 1] = F.interpolate(crop, size=(Fq, T), mode="bicubic", align_corners=True)
    return out
