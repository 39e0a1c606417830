"""Encoder forward + backward time of one training batch in fp32 / bf16 x NCHW / channels-last.

    OMP_NUM_THREADS=1 python benchmarks/bench_train_precision.py [--batch-size 64] [--repeats 2]

The batch is (B, 1, 64, 96): normalised log-mel views of 0.95 s crops, as a SLICER training step
feeds the student. Prints one row per layout with the milliseconds per batch in each precision.
bf16 autocast only pays on CPUs with native bf16 (AMX / avx512_bf16); see docs/reproduction.md.
"""

from __future__ import annotations

import argparse
import time
from typing import Sequence

import torch

import slicer_embed


def time_step(encoder: torch.nn.Module, x: torch.Tensor, bf16: bool, repeats: int) -> float:
    """Mean seconds of forward + backward over ``repeats`` calls, after one warm-up call."""
    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = encoder(x).float().mean()
        y.backward()
    step()
    t = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t) / repeats


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    encoder = slicer_embed.create_model(seed=0).encoder.train()
    x = torch.randn(args.batch_size, 1, 64, 96)
    print(f"threads {torch.get_num_threads()}, batch {tuple(x.shape)}, ms per forward+backward")
    print(f"{'layout':<14} {'fp32':>8} {'bf16':>8}")
    for layout in ("NCHW", "channels-last"):
        fmt = torch.channels_last if layout == "channels-last" else torch.contiguous_format
        enc, xx = encoder.to(memory_format=fmt), x.contiguous(memory_format=fmt)
        ms = [1000 * time_step(enc, xx, bf16, args.repeats) for bf16 in (False, True)]
        print(f"{layout:<14} {ms[0]:>8.0f} {ms[1]:>8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
