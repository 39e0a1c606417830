"""Forward-pass throughput of the SLICER model on CPU, one execution option at a time.

Times ``model(wave)`` (frontend + encoder, eval mode, inference mode) on a batch of 0.96 s windows
cut from tiled real speech (tests/fixtures) plus noise, for the plain graph and the options of
``slicer_embed.runtime`` (precision, micro-batch, channels-last, torch.compile, threads), and
optionally the ONNX Runtime session of ``slicer-embed export``. Prints ms per batch, x realtime
(audio seconds per wall second) and the cosine of the clip embeddings against float32.

Usage::

    python benchmarks/bench_forward.py                       # default set of variants
    python benchmarks/bench_forward.py --batch 64 --repeats 7 --threads 2 --onnx --compile
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import soundfile as sf
import torch

import slicer_embed
from slicer_embed.runtime import InferenceOptions

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech_front_center_16k.flac"


@dataclass(frozen=True)
class Result:
    """One timed variant: median ms per batch, x realtime, min cosine vs the float32 plain graph."""

    name: str
    ms: float
    x_realtime: float
    cosine: float


def speech_windows(batch: int, window: int) -> torch.Tensor:
    """(batch, window) float32: the speech fixture tiled, with a little noise so windows differ."""
    x, sr = sf.read(str(FIXTURE), dtype="float32")
    n = batch * window
    tiled = np.resize(x, n) + 0.003 * np.random.default_rng(0).standard_normal(n).astype(np.float32)
    return torch.from_numpy(tiled.reshape(batch, window).astype(np.float32))


def time_call(fn: Callable[[], Any], repeats: int, warmup: int = 2, clock: str = "wall") -> float:
    """Fastest seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones.

    ``clock="wall"``: wall time (what a user sees; inflated when other processes share the cores).
    ``clock="cpu"``: CPU seconds of this process, which on a loaded machine still ranks variants
    fairly when run with one thread (with several, OpenMP spin-waiting is counted too). The minimum,
    not the median, because interference only ever adds time.
    """
    timer = time.perf_counter if clock == "wall" else time.process_time
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = timer()
        fn()
        times.append(timer() - t0)
    return min(times)


def clip_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Min over windows of the cosine between mean+max pooled frames of a and b, (B, T, D) each."""
    pa, pb = a.mean(1) + a.max(1), b.mean(1) + b.max(1)
    cos = (pa * pb).sum(-1) / np.linalg.norm(pa, axis=-1) / np.linalg.norm(pb, axis=-1)
    return float(cos.min())


def variants(compile_: bool) -> list[tuple[str, InferenceOptions | None]]:
    """(label, options) pairs; None = the plain module graph."""
    out: list[tuple[str, InferenceOptions | None]] = [
        ("plain fp32", None),
        ("fast fp32 (cl, mb16)", InferenceOptions()),
        ("fast fp32 no channels-last", InferenceOptions(channels_last=False)),
        ("fast fp32 F.linear (no oneDNN packing)", InferenceOptions(onednn=False)),
        ("fast fp32 mb4", InferenceOptions(micro_batch=4)),
        ("fast fp32 mb8", InferenceOptions(micro_batch=8)),
        ("fast fp32 mb32", InferenceOptions(micro_batch=32)),
        ("fast fp32 mb64", InferenceOptions(micro_batch=64)),
        ("fast bf16 (cl, mb16)", InferenceOptions(precision="bfloat16")),
        ("fast bf16 F.linear (no oneDNN packing)", InferenceOptions(precision="bfloat16", onednn=False)),
        ("fast bf16 mb8", InferenceOptions(precision="bfloat16", micro_batch=8)),
        ("fast bf16 mb32", InferenceOptions(precision="bfloat16", micro_batch=32)),
        ("fast fp32, 1 thread x 2 workers", InferenceOptions(threads=1, workers=2)),
        ("fast bf16, 1 thread x 2 workers", InferenceOptions(precision="bfloat16", threads=1, workers=2)),
    ]
    if compile_:
        out += [("fast fp32 + compile", InferenceOptions(compile=True)),
                ("fast bf16 + compile", InferenceOptions(precision="bfloat16", compile=True))]
    return out


def run_onnx(model: Any, wave: torch.Tensor, threads: int, repeats: int, clock: str) -> tuple[float, np.ndarray]:
    """Seconds per batch and frames (B, T, D) of the exported ONNX graph under onnxruntime."""
    from slicer_embed.onnx_export import export_onnx, session
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, Path(tmp) / "m.onnx")
        sess = session(path, threads=threads)
        x = wave.numpy()
        out = sess.run(["frames"], {"wave": x})[0]
        return time_call(lambda: sess.run(["frames"], {"wave": x}), repeats, clock=clock), out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model folder (default: random weights, seed 0)")
    p.add_argument("--batch", type=int, default=64, help="0.96 s windows per call (default 64)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile variants (slow start)")
    p.add_argument("--onnx", action="store_true", help="also time onnxruntime on the exported graph")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time (default) or process CPU time (fair on a loaded machine with --threads 1)")
    p.add_argument("--only", default=None, help="comma-separated substrings: run matching variants only")
    p.add_argument("--malloc", choices=("extract", "default"), default="extract",
                   help="glibc allocator thresholds: those `slicer-embed extract` sets (default) or glibc's own")
    a = p.parse_args(argv)
    if a.malloc == "extract":
        # The fast path's ~6 MB activations are fresh mmaps under glibc's default thresholds:
        # page faults then cost more than some of the options compared here.
        from slicer_embed.extraction.memory import tune_for_extraction
        tune_for_extraction(exact=False)
    threads = a.threads or torch.get_num_threads()
    model = slicer_embed.load(a.model, device="cpu") if a.model else slicer_embed.create_model(seed=0)
    model.set_inference_options(None)
    wave = speech_windows(a.batch, model.config.window_samples)
    audio_s = wave.numel() / model.sample_rate
    with torch.inference_mode():
        ref = model(wave).numpy()
    results = []
    for name, opts in variants(a.compile):
        if a.only and not any(s in name for s in a.only.split(",")):
            continue
        torch.set_num_threads(threads)  # the previous variant may have set its own count
        m = copy.deepcopy(model).set_inference_options(opts)  # options with threads= set their own

        def call(m=m):
            with torch.inference_mode():
                return m(wave)
        out = call().numpy()
        s = time_call(call, a.repeats, clock=a.clock)
        results.append(Result(name, 1e3 * s, audio_s / s, clip_cosine(out, ref)))
        print(f"  {name:32s} {results[-1].ms:8.1f} ms  {results[-1].x_realtime:7.0f}x", file=sys.stderr)
    if a.onnx:
        torch.set_num_threads(threads)
        s, out = run_onnx(model, wave, threads, a.repeats, a.clock)
        results.append(Result("onnxruntime fp32", 1e3 * s, audio_s / s, clip_cosine(out, ref)))
    print(f"batch {a.batch} x 0.96 s ({audio_s:.1f} s audio), torch {torch.__version__}, "
          f"{threads} thread(s) unless the variant says otherwise, {a.clock} clock, malloc {a.malloc}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"| variant | ms / batch | x realtime | min cosine vs fp32 |\n|---|---:|---:|---:|")
    for r in results:
        print(f"| {r.name} | {r.ms:.1f} | {r.x_realtime:.0f} | {r.cosine:.6f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
