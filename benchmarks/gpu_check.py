"""GPU readiness check: one table of what a lent GPU does with this code, in a few minutes.

    python benchmarks/gpu_check.py                     # on the GPU machine (after the README's install)
    python benchmarks/gpu_check.py --device cpu --quick   # the same code paths on a CPU (tests use this)

Rows (each with its own timeout; a failing row prints its error and the rest still run):
1. training steps/s, ``default`` preset (bf16 autocast, channels-last) at batch 512 (the reference
   batch) on generated audio, steady state after the first logged window;
2. one-GPU DDP through ``torchrun --nproc_per_node 1`` (a few steps, exit status and steps/s);
3. ``slicer-embed extract`` throughput, float32 and ``--precision bfloat16``, x realtime;
4. a short ``slicer-embed eval`` (one generated two-class task, 1 probe seed);
5. agreement with the CPU: embeddings of the bundled model on the device vs the CPU (min cosine,
   float32 and bf16; the goal is >= 0.9999 for float32).
Exit status 0 when every row ran and float32 agreement holds, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import soundfile as sf

SR = 16000


def make_audio(folder: Path, n: int, seconds: float, seed: int = 0) -> Path:
    """``n`` clips of tones in noise (two kinds, so a probe has something to learn), 16 kHz WAV."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    for i in range(n):
        f0 = rng.uniform(200, 400) if i % 2 == 0 else rng.uniform(1500, 3000)
        x = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(len(t))
        sf.write(str(folder / f"clip_{i:05d}.wav"), x.astype(np.float32), SR, subtype="PCM_16")
    return folder


def steps_per_s(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if len(rows) >= 2:
        return (rows[-1]["step"] - rows[0]["step"]) / (rows[-1]["time"] - rows[0]["time"])
    raise RuntimeError("fewer than two metric lines")


def run(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> float:
    """Run a command; wall seconds. Raises with the tail of stderr on failure."""
    t0 = time.perf_counter()
    done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-800:]}")
    return time.perf_counter() - t0


def row_train(tmp: Path, device: str, quick: bool, timeout: float) -> str:
    data = make_audio(tmp / "train_audio", 64 if quick else 1024, 2.0, seed=1)
    batch, steps = (8, 6) if quick else (512, 30)
    out = tmp / "train"
    run([sys.executable, "-m", "slicer_embed", "train", "--data", str(data), "--out", str(out), "--preset", "default",
         "--device", device, "--batch-size", str(batch), "--max-steps", str(steps), "--epochs", "1000",
         "--log-every", "2" if quick else "5", "--checkpoint-every", "1000", "--progress", "false",
         "--norm-clips", "64", "--queue-size", "4096", "--memory-size", "1024", "--kmix-top-k", "8" if quick else "128",
         "--num-workers", "2"], timeout)
    rate = steps_per_s(out)
    return f"{rate:.2f} steps/s = {rate * batch:.0f} crops/s (batch {batch}, bf16 autocast, channels-last)"


def row_ddp(tmp: Path, device: str, quick: bool, timeout: float) -> str:
    data = tmp / "train_audio"
    out = tmp / "ddp"
    batch, steps = (8, 4) if quick else (256, 10)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m",
           "slicer_embed", "train", "--data", str(data), "--out", str(out), "--preset", "default",
           "--device", device, "--batch-size", str(batch), "--max-steps", str(steps), "--epochs", "1000",
           "--log-every", "2", "--checkpoint-every", "1000", "--progress", "false", "--norm-clips", "64",
           "--queue-size", "4096", "--memory-size", "1024", "--kmix-top-k", "8", "--num-workers", "1"]
    seconds = run(cmd, timeout)
    return f"torchrun 1 process: exit 0, {steps_per_s(out):.2f} steps/s (batch {batch}), {seconds:.0f} s in all"


def row_extract(tmp: Path, device: str, quick: bool, timeout: float) -> str:
    src = make_audio(tmp / "extract_audio", 12 if quick else 360, 10.0, seed=2)
    audio_s = sum(sf.info(str(f)).duration for f in src.glob("*.wav"))
    parts = []
    for label, extra in (("fp32", []), ("bf16", ["--precision", "bfloat16"])):
        seconds = run([sys.executable, "-m", "slicer_embed", "extract", str(src), str(tmp / f"e_{label}.npy"),
                       "--device", device, "--overwrite", *extra], timeout)
        parts.append(f"{label} {audio_s / seconds:.0f}x")
    return f"{', '.join(parts)} realtime ({audio_s / 60:.0f} min of 10 s files, start-up included)"


def row_eval(tmp: Path, device: str, quick: bool, timeout: float) -> str:
    folder = make_audio(tmp / "task", 40 if quick else 200, 1.0, seed=3)
    rows = ["file_name,label,split"]
    files = sorted(folder.glob("*.wav"))
    for i, f in enumerate(files):
        split = "train" if i < len(files) * 0.6 else ("valid" if i < len(files) * 0.8 else "test")
        rows.append(f"{f.name},{'low' if i % 2 == 0 else 'high'},{split}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = tmp / "eval"
    seconds = run([sys.executable, "-m", "slicer_embed", "eval", "--model", str(_bundled()), "--tasks", str(folder),
                   "--out", str(out), "--seeds", "1", "--device", device, "--no-progress",
                   "--cache-dir", str(tmp / "eval_cache")], timeout)
    res = json.loads((out / "results.json").read_text())["tasks"]["task"]
    return f"tones task: test {100 * res['accuracy']['test']['mean']:.0f}% in {seconds:.0f} s"


def _bundled() -> Path:
    from slicer_embed.hub import BUNDLED_DIR
    return BUNDLED_DIR


def agreement(device: str, quick: bool) -> dict[str, float]:
    """Min cosine between clip embeddings on ``device`` and on the CPU (bundled model)."""
    import slicer_embed
    rng = np.random.default_rng(4)
    clips = [(0.1 * rng.standard_normal(int(SR * s))).astype(np.float32) for s in rng.uniform(0.5, 6, 8 if quick else 64)]
    cpu = slicer_embed.load(device="cpu").embed(clips, SR)
    out = {}
    for label, precision in (("fp32", None), ("bf16", "bfloat16")):
        try:
            model = slicer_embed.load(device=device)
            if precision:
                model.optimize(precision)
            dev = np.asarray(model.embed(clips, SR), dtype=np.float64)
        except Exception as e:  # noqa: BLE001 - bf16 is informative only
            if precision is None:
                raise
            print(f"  bf16 agreement not measured: {type(e).__name__}: {e}", flush=True)
            out[label] = float("nan")
            continue
        num = (dev * cpu).sum(1)
        den = np.linalg.norm(dev, axis=1) * np.linalg.norm(cpu, axis=1)
        out[label] = float((num / den).min())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a dry run")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a dry run of every code path)")
    p.add_argument("--timeout", type=float, default=150.0, help="seconds per row (default 150)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    import torch
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") and torch.cuda.is_available() else platform.processor()
    print(f"gpu-check: torch {torch.__version__}, device {args.device} ({name or 'cpu'}), python {platform.python_version()}",
          flush=True)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu-check: CUDA is not available in this torch/machine", file=sys.stderr)
        return 1
    rows: list[tuple[str, str, bool]] = []
    steps: list[tuple[str, Callable[..., str]]] = [
        ("train, default preset, AMP bf16", row_train), ("DDP, torchrun 1 GPU", row_ddp),
        ("extract fp32 / bf16", row_extract), ("eval (short)", row_eval)]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for label, fn in steps:
            t0 = time.perf_counter()
            try:
                text, good = fn(Path(tmp), args.device, args.quick, args.timeout), True
            except Exception as e:  # noqa: BLE001 - a row's failure is its result
                text, good = f"FAILED: {type(e).__name__}: {e}", False
            ok &= good
            rows.append((label, f"{text} [{time.perf_counter() - t0:.0f} s]", good))
            print(f"  {label}: {rows[-1][1]}", flush=True)
    try:
        cos = agreement(args.device, args.quick)
        good = cos["fp32"] >= 0.9999
        rows.append(("agreement with the CPU (bundled model)",
                     f"min cosine fp32 {cos['fp32']:.7f}, bf16 {cos['bf16']:.6f} (goal fp32 >= 0.9999)", good))
    except Exception as e:  # noqa: BLE001
        good = False
        rows.append(("agreement with the CPU (bundled model)", f"FAILED: {type(e).__name__}: {e}", False))
    ok &= good
    print("\n| check | result |\n|---|---|")
    for label, text, good in rows:
        print(f"| {label} | {text}{'' if good else ' **FAILED**'} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([{"check": a, "result": b, "ok": c} for a, b, c in rows], indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
