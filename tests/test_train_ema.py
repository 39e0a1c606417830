"""EMA teacher update and the student/teacher pair (docs/method.md section 3)."""

from __future__ import annotations

import torch
from torch import nn

from slicer_embed.training.method.ema import ema_update_
from slicer_embed.training.method.student_teacher import SlicerNet, build_student_teacher, count_parameters


def pair():
    torch.manual_seed(0)
    s, t = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    t[1].running_mean.fill_(7.0)
    return s, t


def test_momentum_one_keeps_teacher():
    s, t = pair()
    before = [p.clone() for p in t.parameters()]
    ema_update_(t, s, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, t.parameters()))


def test_momentum_zero_copies_student_but_not_bn_buffers():
    s, t = pair()
    ema_update_(t, s, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(s.parameters(), t.parameters()))
    assert torch.equal(t[1].running_mean, torch.full((4,), 7.0))  # teacher keeps its own BN statistics


def test_momentum_interpolates():
    s, t = pair()
    expected = [0.9 * pt + 0.1 * ps for pt, ps in zip(t.parameters(), s.parameters())]
    ema_update_(t, s, 0.9)
    assert all(torch.allclose(e, p, atol=1e-6) for e, p in zip(expected, t.parameters()))


def test_student_teacher_pair():
    student, teacher = build_student_teacher(128, 128, seed=0, device=torch.device("cpu"))
    assert isinstance(student, SlicerNet)
    assert student.training and teacher.training  # the reference runs the teacher in train mode
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), teacher.state_dict().values()))
    # docs/method.md section 3: encoder 5,321,856 + instance head 262,272 + cluster head 4,458,624
    assert count_parameters(student) == 10_042_752
    x = torch.randn(3, 1, 64, 96)
    q, c = student(x)
    assert q.shape == (3, 128) and torch.allclose(q.norm(dim=1), torch.ones(3), atol=1e-5)
    assert c.shape == (3, 128) and torch.allclose(c.sum(1), torch.ones(3), atol=1e-5)
    again, _ = build_student_teacher(128, 128, seed=0, device=torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(student.parameters(), again.parameters()))  # seeded
