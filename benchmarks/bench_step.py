"""Milliseconds per ``--preset cpu`` model step on one fixed batch, for whichever slicer_embed this process imports.

    python benchmarks/bench_step.py [--steps 6] [--preset cpu]
    cd /tmp/old-code && PYTHONPATH=. OMP_NUM_THREADS=1 python /path/to/benchmarks/bench_step.py

The step is the training loop's (views, student, teacher, losses, backward, AdamW, EMA) on 64 seeded
waves, the fast encoder on, bf16 autocast where supported. Only APIs older checkouts have too are used, so
the same file times another commit's tree (run it from that tree with PYTHONPATH set, and alternate).
Prints the imported training package, the median and minimum step time after two warm-up steps, and the
last loss (the same bits give the same loss).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Sequence

import torch

import slicer_embed.training as training_pkg


def training_module(path: str) -> ModuleType:
    """``slicer_embed.training.<path>`` (``method.pretrain``), or where a checkout from before training/ was
    grouped into method/, speed/ and infra/ keeps it (``slicer_embed.training.pretrain``)."""
    try:
        return importlib.import_module(f"slicer_embed.training.{path}")
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("slicer_embed.training."):
            raise
        return importlib.import_module(f"slicer_embed.training.{path.rsplit('.', 1)[-1]}")


dist_utils = training_module("infra.distributed")
method = SimpleNamespace(**{name: training_module(f"method.{name}")
                            for name in ("config", "ema", "pretrain", "queue", "student_teacher", "views")})


def fixed_batch_step(preset: str) -> tuple[Callable[[], float], bool]:
    """A function running one whole model step of ``preset`` on one fixed batch (returns the loss), and
    whether bf16 autocast is on."""
    cfg, dev = method.config.PRESETS[preset], torch.device("cpu")
    student, teacher = method.student_teacher.build_student_teacher(cfg.instance_dim, cfg.n_clusters, 0, dev)
    student.fast = teacher.fast = cfg.fast_encoder
    if cfg.channels_last:
        student.to(memory_format=torch.channels_last)
        teacher.to(memory_format=torch.channels_last)
    centroids = torch.randn(cfg.kmix_clusters, 64, generator=torch.Generator().manual_seed(2))
    centroids = torch.nn.functional.normalize(centroids, dim=1)  # unit time-mean directions, as kmix_centroids
    queue = method.queue.KeyQueue(cfg.instance_dim, cfg.queue_size, torch.Generator().manual_seed(1), dev)
    views = method.views.ViewMaker(cfg, (1, 64, 96), centroids, 0, dev)
    opt = method.pretrain.make_optimizer(cfg, [p for p in student.parameters() if p.requires_grad])
    amp = cfg.amp and method.pretrain.bf16_autocast_supported(dev)
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp)  # noqa: E731
    wave = 0.1 * torch.randn(cfg.batch_size, cfg.crop_samples, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)

    def step() -> float:
        x = method.pretrain.log_mel_batch(student, wave, 0.0, 1.0)
        v1, v2 = views(x)
        if cfg.channels_last:
            v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
        loss, parts = method.pretrain.slicer_losses(cfg, method.student_teacher.TwoViews(student), student, teacher,
                                                    queue, v1, v2, dist_utils.DistInfo(), autocast)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        method.ema.ema_update_(teacher, student, cfg.ema_momentum)
        return parts["loss"]

    return step, amp


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=6, help="timed steps after two warm-up steps (default 6)")
    p.add_argument("--preset", default="cpu", choices=sorted(method.config.PRESETS))
    args = p.parse_args(argv)
    step, _ = fixed_batch_step(args.preset)
    for _ in range(2):
        step()
    times: list[Any] = []
    loss = float("nan")
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    print(f"{training_pkg.__file__} threads {torch.get_num_threads()} median_ms {1000 * statistics.median(times):.1f} "
          f"min_ms {1000 * min(times):.1f} last_loss {loss!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
