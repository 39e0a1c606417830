"""Peak memory of ``slicer-embed extract`` on a 1-minute vs a 2-hour 16 kHz file (must stay flat).

Generates both files (16-bit PCM WAV, written in blocks) and a random-weight model in a temporary
folder, runs ``python -m slicer_embed extract FILE out.npy`` on each in a subprocess, and samples the
resident set size of the whole process tree (main process + DataLoader decoding workers) every
50 ms. Prints a table; numbers are in MiB. Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_memory.py [--long-minutes 120] [--num-workers 1]
        [--level clip] [--precision float32|bfloat16] [--exact]

``--scale`` measures frame-level output at scale instead (issue 15): 1 h against 10 h of audio
(``--hours``), as one file and as many 1-minute files (hard links of one file, so the inputs cost no
disk), written to ``--format`` npy|npz|dir|parquet. A file's frames go to a spill file every 2,048
frames and the outputs are assembled by row ranges, so peak RSS must not grow with the job::

    OMP_NUM_THREADS=1 python benchmarks/bench_memory.py --scale --hours 1,10 --format npy
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

SR = 16000


def write_tone(path: Path, seconds: float, block_seconds: float = 60.0) -> None:
    """A 16 kHz mono tone + noise, written block by block (the generator itself stays small)."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", SR, 1, subtype="PCM_16") as f:
        done = 0
        total = int(seconds * SR)
        while done < total:
            n = min(int(block_seconds * SR), total - done)
            t = (done + np.arange(n)) / SR
            f.write((0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32))
            done += n


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> tuple[int, int]:
    """(RSS of ``pid``, RSS of ``pid`` and all its descendants), KiB."""
    todo, seen, total = [pid], set(), 0
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_kib(p)
        todo += _children(p)
    return _rss_kib(pid), total


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """Run ``cmd``; returns (wall seconds, peak main RSS MiB, peak tree RSS MiB, exit status)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_main = peak_tree = 0
    while proc.poll() is None:
        main_kib, tree_kib = tree_rss_kib(proc.pid)
        peak_main, peak_tree = max(peak_main, main_kib), max(peak_tree, tree_kib)
        time.sleep(0.05)
    wall = time.monotonic() - start
    if proc.returncode:
        sys.stderr.write(proc.stderr.read())
    return wall, peak_main / 1024, peak_tree / 1024, proc.returncode


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--short-minutes", type=float, default=1.0)
    p.add_argument("--long-minutes", type=float, default=120.0)
    p.add_argument("--num-workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--level", choices=("clip", "frame", "both"), default="clip")
    p.add_argument("--precision", choices=("float32", "bfloat16"), default=None)
    p.add_argument("--exact", action="store_true", help="extract's plain float32 graph (default: the fast path)")
    p.add_argument("--scale", action="store_true", help="frame level, --hours of audio in one and in many files")
    p.add_argument("--hours", default="1,10", help="with --scale: comma list of audio hours")
    p.add_argument("--layouts", default="one,many", help="with --scale: one file and/or many 1-minute files")
    p.add_argument("--format", default="npy", choices=("npy", "npz", "dir", "parquet"), help="with --scale")
    args = p.parse_args(argv)
    if args.scale:
        return scale(args)
    import slicer_embed

    extra = (["--precision", args.precision] if args.precision else []) + (["--exact"] if args.exact else [])
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        tmp_path = Path(tmp)
        slicer_embed.create_model(seed=0).save_pretrained(tmp_path / "model")
        for minutes in (args.short_minutes, args.long_minutes):
            wav = tmp_path / f"tone_{minutes:g}min.wav"
            write_tone(wav, minutes * 60)
            out = tmp_path / f"out_{minutes:g}.{'npy' if args.level == 'clip' else 'npz'}"
            cmd = [sys.executable, "-m", "slicer_embed", "extract", str(wav), str(out), "--model",
                   str(tmp_path / "model"), "--device", "cpu", "--num-workers", str(args.num_workers),
                   "--batch-size", str(args.batch_size), "--level", args.level, "-q"] + extra
            wall, main_mib, tree_mib, rc = measure(cmd, env)
            rows.append((minutes, wav.stat().st_size / 2**20, wall, minutes * 60 / wall, main_mib, tree_mib, rc))
            wav.unlink()
    print(f"slicer-embed extract, 16 kHz mono PCM_16 WAV, --num-workers {args.num_workers} --batch-size "
          f"{args.batch_size} --level {args.level} {' '.join(extra)}, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}")
    print(f"{'audio':>8} {'file MiB':>9} {'wall s':>8} {'x realtime':>11} {'peak RSS main':>14} "
          f"{'peak RSS tree':>14} {'exit':>5}")
    for minutes, size, wall, speed, main_mib, tree_mib, rc in rows:
        print(f"{minutes:>6g} m {size:>9.1f} {wall:>8.1f} {speed:>11.0f} {main_mib:>10.0f} MiB "
              f"{tree_mib:>10.0f} MiB {rc:>5}")
    span = f"from {args.short_minutes:g} to {args.long_minutes:g} min"
    print(f"peak RSS growth {span}: main process {rows[1][4] - rows[0][4]:+.0f} MiB, "
          f"process tree {rows[1][5] - rows[0][5]:+.0f} MiB")
    # A short file's decoding worker may have exited before the main process reaches its peak, so
    # the tree's short-file peak can lack the worker (~250-320 MiB): compare main processes then.
    return 0 if all(r[-1] == 0 for r in rows) else 1


def _output_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def scale(args: argparse.Namespace) -> int:
    """Frame-level peak RSS at 1 h vs 10 h of audio, one file vs many; one table, growth per layout."""
    import slicer_embed

    hours = [float(h) for h in args.hours.split(",")]
    layouts = args.layouts.split(",")
    extra = (["--precision", args.precision] if args.precision else []) + (["--exact"] if args.exact else [])
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_memory_", dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp_path = Path(tmp)
        slicer_embed.create_model(seed=0).save_pretrained(tmp_path / "model")
        minute = tmp_path / "minute.wav"
        write_tone(minute, 60.0)
        for layout in layouts:
            for h in hours:
                src = tmp_path / f"{layout}_{h:g}h"
                src.mkdir()
                if layout == "one":
                    write_tone(src / "long.wav", h * 3600)
                else:
                    for i in range(int(round(h * 60))):
                        os.link(minute, src / f"m{i:05d}.wav")
                suffix = {"npy": ".npy", "npz": ".npz", "dir": "/", "parquet": ".parquet"}[args.format]
                out = tmp_path / f"out_{layout}_{h:g}h{suffix}"  # dir output: the trailing "/" picks the format
                out_path = Path(str(out).rstrip("/"))
                cmd = [sys.executable, "-m", "slicer_embed", "extract", str(src), str(out), "--model",
                       str(tmp_path / "model"), "--device", "cpu", "--num-workers", str(args.num_workers),
                       "--batch-size", str(args.batch_size), "--level", "frame", "-q"] + extra
                wall, main_mib, tree_mib, rc = measure(cmd, env)
                files = len(list(src.iterdir()))
                rows.append((layout, h, files, wall, h * 3600 / wall, main_mib, tree_mib,
                             _output_bytes(out_path) / 2**30, rc))
                shutil.rmtree(src)
                shutil.rmtree(out_path) if out_path.is_dir() else out_path.unlink(missing_ok=True)
    print(f"slicer-embed extract --level frame -> .{args.format}, 16 kHz mono PCM_16 WAV, --num-workers "
          f"{args.num_workers} --batch-size {args.batch_size} {' '.join(extra)}, "
          f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}")
    print(f"{'layout':>7} {'audio':>7} {'files':>6} {'wall s':>7} {'x realtime':>10} {'peak RSS main':>14} "
          f"{'peak RSS tree':>14} {'output GiB':>11} {'exit':>5}")
    for layout, h, files, wall, speed, main_mib, tree_mib, gib, rc in rows:
        print(f"{layout:>7} {h:>5g} h {files:>6} {wall:>7.0f} {speed:>10.0f} {main_mib:>10.0f} MiB "
              f"{tree_mib:>10.0f} MiB {gib:>11.2f} {rc:>5}")
    for layout in layouts:
        r = [row for row in rows if row[0] == layout]
        if len(r) >= 2:
            print(f"{layout}: peak RSS growth {r[0][1]:g} h -> {r[-1][1]:g} h: main {r[-1][5] - r[0][5]:+.0f} MiB, "
                  f"tree {r[-1][6] - r[0][6]:+.0f} MiB")
    return 0 if all(row[-1] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
