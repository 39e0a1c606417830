"""How close ``slicer-embed extract --precision bfloat16`` comes to float32 on real audio.

Runs ``slicer-embed extract SOURCE --level both`` twice (the float32 default and ``--precision
bfloat16``) with the same model, then prints, per group of files (the folder ``--group-depth``
levels below the common root), the number of clips and the minimum / 0.1th percentile / median
cosine similarity of the clip embeddings and of the 80 ms frame embeddings. Usage::

    python benchmarks/bench_precision.py data/minilape --every 5 --per-group 400
    python benchmarks/bench_precision.py my_audio/ --model path/or/hub-id

``--every N`` keeps every N-th file of each group (sorted by path), ``--per-group M`` at most M of
them. The default model is the bundled one: agreement depends on the weights, so measure the model
you ship, not random weights.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

AUDIO = (".wav", ".flac", ".ogg", ".opus", ".mp3")


def pick_files(root: Path, depth: int, every: int, per_group: int) -> dict[str, list[Path]]:
    """Audio files under ``root`` grouped by their folder ``depth`` levels down, thinned and capped."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO and p.is_file()):
        parts = path.relative_to(root).parts
        groups["/".join(parts[:depth]) if len(parts) > depth else "."].append(path.resolve())
    return {g: files[::every][:per_group] for g, files in groups.items()}


def row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, D) arrays (float64)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-300)


def extract(listing: Path, out: Path, model: str | None, precision: str) -> None:
    cmd = [sys.executable, "-m", "slicer_embed", "extract", str(listing), str(out), "--level", "both",
           "--precision", precision, "--overwrite", "-q"] + (["--model", model] if model else [])
    r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"extract failed ({r.returncode}):\n{r.stderr}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="folder of audio files")
    p.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    p.add_argument("--group-depth", type=int, default=1, help="folder levels that name a group (default 1)")
    p.add_argument("--every", type=int, default=1, help="keep every N-th file of a group (default 1)")
    p.add_argument("--per-group", type=int, default=400, help="at most this many files per group (default 400)")
    args = p.parse_args(argv)
    groups = pick_files(args.source, args.group_depth, args.every, args.per_group)
    if not groups:
        raise SystemExit(f"no audio files under {args.source}")
    with tempfile.TemporaryDirectory(prefix="bench_precision_") as tmp:
        listing = Path(tmp) / "files.txt"
        listing.write_text("".join(f"{f}\n" for files in groups.values() for f in files))
        runs = {}
        for precision in ("float32", "bfloat16"):
            extract(listing, Path(tmp) / f"{precision}.npz", args.model, precision)
            runs[precision] = dict(np.load(Path(tmp) / f"{precision}.npz", allow_pickle=False))
    fp, bf = runs["float32"], runs["bfloat16"]
    if not np.array_equal(fp["paths"], bf["paths"]):
        raise SystemExit("the two runs embedded different files")
    group_of = {str(f): g for g, files in groups.items() for f in files}
    clip_cos = row_cosine(fp["embeddings"], bf["embeddings"])
    frame_cos = row_cosine(fp["frame_embeddings"], bf["frame_embeddings"])
    offsets = fp["frame_offsets"]
    table: dict[str, tuple[list[float], list[np.ndarray]]] = defaultdict(lambda: ([], []))
    for i, rel in enumerate(fp["paths"].tolist()):
        g = group_of[rel]  # a list of absolute paths: the outputs name each file as listed
        table[g][0].append(clip_cos[i])
        table[g][1].append(frame_cos[offsets[i]:offsets[i + 1]])
    table["all"] = (list(clip_cos), [frame_cos])
    print(f"model: {args.model or 'bundled default'}; {len(clip_cos)} clips, {len(frame_cos)} frames")
    print("| group | clips | frames | clip cos min | p0.1 | median | frame cos min | p0.1 | median |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for g, (clips, frames) in table.items():
        c, f = np.array(clips), np.concatenate(frames)
        print(f"| {g} | {len(c)} | {len(f)} | {c.min():.7f} | {np.percentile(c, 0.1):.7f} | {np.median(c):.7f} "
              f"| {f.min():.7f} | {np.percentile(f, 0.1):.7f} | {np.median(f):.7f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
