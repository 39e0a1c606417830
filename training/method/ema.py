"""Exponential moving average of the student into the teacher (docs/method.md section 3)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """theta_t <- m * theta_t + (1 - m) * theta_s over all parameters, in place.

    momentum 1 keeps the teacher, 0 copies the student. BatchNorm buffers are *not* averaged: the
    teacher keeps the running statistics of its own forward passes, as the reference does.
    """
    t_params = [p for p in teacher.parameters()]
    s_params = [p.detach() for p in student.parameters()]
    if len(t_params) != len(s_params):
        raise ValueError(f"teacher has {len(t_params)} parameter tensors, student {len(s_params)}")
    # lerp(t, s, w) = t + w * (s - t) = m * t + (1 - m) * s with w = 1 - m
    torch._foreach_lerp_(t_params, s_params, 1.0 - momentum)
