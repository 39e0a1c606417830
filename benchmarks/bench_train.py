"""Pretraining throughput: clips/s of the reference recipe, split into data loading and model step.

    OMP_NUM_THREADS=1 python benchmarks/bench_train.py [--batch-size 512] [--steps 3] [--workers 0 2]
                                                       [--device cpu cuda] [--preset reference]

Data: generated 10 s files (half at 44.1 kHz, so resampling is exercised), decoded and cropped by
the training DataLoader with each worker count. Model: one full SLICER step of the preset (log-mel,
two augmented views, student on both views, teacher keys, InfoNCE with the queue, cluster loss,
backward, optimiser, EMA), timed per stage. Prints a table; a device column per ``--device``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from slicer_embed.training import distributed as dist_utils
from slicer_embed.training.config import PRESETS
from slicer_embed.training.data import CropDataset, EpochBatches, FileSource, list_audio
from slicer_embed.training.ema import ema_update_
from slicer_embed.training.pretrain import log_mel_batch, make_optimizer, slicer_losses
from slicer_embed.training.queue import KeyQueue
from slicer_embed.training.student_teacher import TwoViews, build_student_teacher
from slicer_embed.training.views import ViewMaker


def make_files(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    for i in range(n):
        sr = 44100 if i % 2 else 16000
        x = (0.1 * rng.standard_normal(10 * sr)).astype(np.float32)
        sf.write(folder / f"f{i:04d}.wav", x, sr)
    return list_audio(folder)


def bench_data(files: list[Path], batch: int, workers: int, batches: int) -> float:
    """Clips/s of decode + crop through the DataLoader."""
    ds = CropDataset(FileSource(files), 15200, seed=0)
    loader = DataLoader(ds, batch_sampler=EpochBatches(len(files), batch, 0, 0), num_workers=workers)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    t0, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            wave, _ = next(it)
        except StopIteration:
            break
        n += len(wave)
    return n / (time.perf_counter() - t0)


def bench_model(preset: str, batch: int, steps: int, device: str) -> dict[str, float]:
    """Seconds per step of each stage of the training step (mean over ``steps`` after one warm-up)."""
    cfg = PRESETS[preset].replace(batch_size=batch, memory_size=max(batch, PRESETS[preset].memory_size))
    dev = torch.device(device)
    student, teacher = build_student_teacher(cfg.instance_dim, cfg.n_clusters, 0, dev)
    queue = KeyQueue(cfg.instance_dim, cfg.queue_size, torch.Generator().manual_seed(1), dev)
    centroids = torch.nn.functional.normalize(torch.randn(cfg.kmix_clusters, 64), dim=1)
    views = ViewMaker(cfg, (1, 64, 96), centroids, 0, dev)
    opt = make_optimizer(cfg, list(student.parameters()))
    info = dist_utils.DistInfo()
    amp = cfg.amp and dev.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else (lambda: torch.autocast("cpu", enabled=False))
    wave = 0.1 * torch.randn(batch, cfg.crop_samples, device=dev)
    times: dict[str, float] = {"log-mel": 0.0, "augment": 0.0, "forward+loss": 0.0, "backward+step+ema": 0.0}
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    for i in range(steps + 1):
        marks = [time.perf_counter()]
        x = log_mel_batch(student, wave, -5.0, 4.0); sync(); marks.append(time.perf_counter())
        v1, v2 = views(x); sync(); marks.append(time.perf_counter())
        loss, _ = slicer_losses(cfg, TwoViews(student), student, teacher, queue, v1, v2, info, autocast)
        sync(); marks.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not cfg.ema_in_forward:
            ema_update_(teacher, student, cfg.ema_momentum)
        sync(); marks.append(time.perf_counter())
        if i > 0:  # the first step warms up allocators and kernels
            for k, a, b in zip(times, marks, marks[1:]):
                times[k] += (b - a) / steps
    return times


def kmix_geometry(files: list[Path], clusters: int = 4) -> dict[str, dict[str, float]]:
    """Occupancy of the k-mix clusters by normalised crops (what the online step assigns), for centroids
    computed on raw (reference) vs normalised log-mel. Balanced = entropy/log K near 1."""
    from slicer_embed.training.corpus_stats import kmix_centroids, norm_stats
    from slicer_embed.training.kmix import assign_clusters

    source = FileSource(files)
    frontend = build_student_teacher(128, 128, 0, torch.device("cpu"))[0].model.frontend
    mean, std, _ = norm_stats(source, frontend, 2000, 15200, 0)
    crops = [source.crop(i, 15200, np.random.default_rng([9, i])) for i in range(len(source))]
    with torch.no_grad():
        x = ((frontend(torch.from_numpy(np.stack(crops))) - mean) / std).unsqueeze(1)
    out = {}
    for name, norm in (("raw (reference)", None), ("normalized", (mean, std))):
        c = kmix_centroids(source, frontend, 1.0, clusters, 20, 15200, 0, norm)
        share = torch.bincount(assign_clusters(x, c), minlength=clusters).double() / len(x)
        entropy = float(-(share[share > 0] * share[share > 0].log()).sum()) / np.log(clusters)
        out[name] = {"entropy/logK": entropy, "largest share": float(share.max()),
                     "min centroid cosine": float((c @ c.t()).min())}
    return out


def double_enqueue_artefact(files: list[Path], batch: int = 32) -> dict[str, float]:
    """Reference mode enqueues direction 1's keys k2 = teacher(v2) before direction 2 scores
    q2 = student(v2): q2's own-view key becomes a negative. Measures its cosine against the positive's."""
    from slicer_embed.training.corpus_stats import norm_stats

    cfg = PRESETS["reference"].replace(batch_size=batch)
    source = FileSource(files)
    student, teacher = build_student_teacher(128, 128, 0, torch.device("cpu"))
    mean, std, _ = norm_stats(source, student.model.frontend, 500, 15200, 0)
    idx = np.random.default_rng(3).permutation(len(source))[:batch]
    wave = torch.from_numpy(np.stack([source.crop(int(i), 15200, np.random.default_rng([4, int(i)])) for i in idx]))
    views = ViewMaker(cfg.replace(augmentations="rrc"), (1, 64, 96), None, 0, torch.device("cpu"))
    with torch.no_grad():
        v1, v2 = views(log_mel_batch(student, wave, mean, std))
        q2 = student(v2)[0]
        k1, k2 = teacher(v1)[0], teacher(v2)[0]
    pos, own = (q2 * k1).sum(1), (q2 * k2).sum(1)
    return {"cos(q2, positive k1)": float(pos.mean()), "cos(q2, own-view key k2 in queue)": float(own.mean()),
            "share own > positive": float((own > pos).double().mean())}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="reference", choices=sorted(PRESETS))
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--files", type=int, default=128)
    p.add_argument("--device", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    p.add_argument("--recipe-checks", metavar="DATA", default=None,
                   help="instead of timing, measure the reference artefacts on a folder/CSV of audio")
    args = p.parse_args(argv)
    if args.recipe_checks:
        files = list_audio(args.recipe_checks)
        print(f"{len(files)} files from {args.recipe_checks}")
        for name, row in kmix_geometry(files).items():
            print(f"k-mix centroids on {name:<16}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
        art = double_enqueue_artefact(files)
        print("untrained student/teacher, RRC views: " + ", ".join(f"{k} {v:.3f}" for k, v in art.items()))
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, preset {args.preset}, "
          f"batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.files)
        data = {w: bench_data(files, 16, w, args.files // 16 - 1) for w in args.workers}
    model = {d: bench_model(args.preset, args.batch_size, args.steps, d) for d in args.device}
    print(f"\n{'stage':<28}" + "".join(f"{d:>14}" for d in args.device))
    for stage in next(iter(model.values())):
        print(f"{stage + ' (ms/step)':<28}" + "".join(f"{1000 * model[d][stage]:>14.0f}" for d in args.device))
    total = {d: sum(model[d].values()) for d in args.device}
    print(f"{'model step (ms/step)':<28}" + "".join(f"{1000 * total[d]:>14.0f}" for d in args.device))
    print(f"{'model clips/s':<28}" + "".join(f"{args.batch_size / total[d]:>14.1f}" for d in args.device))
    for w, rate in data.items():
        print(f"{f'data clips/s ({w} workers)':<28}{rate:>14.1f}   (decode+resample+crop, CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
