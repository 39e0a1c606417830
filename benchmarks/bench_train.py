"""Pretraining throughput of a recipe on this machine: end to end, per stage, against the FLOP limit.

    python benchmarks/bench_train.py --data data/corpus/manifest.csv --cache data/corpus_cache
        [--preset cpu] [--steps 80] [--rounds 3] [--peer "--fast-encoder false"] [--json logs/bench_train.json]
    python benchmarks/bench_train.py --recipe-checks DATA      # the reference artefacts (no timing)

(a) end to end: ``slicer-embed train`` of the preset, one run using every core, on the real corpus;
    crops/s at steady state (metrics.jsonl windows after the first 20 steps), ``--rounds`` times, each
    run between two measurements of the in-process inference rate (``embed`` of 512 ready windows,
    extract's bf16 fast path and thread layout): training crops/s over inference windows/s, per round
    and its median, is the ratio that survives machine noise (issue 13 asks >= 0.15); the machine's
    speed drifts within minutes, so each ratio pairs figures taken seconds apart. Then a peer
    configuration (default: the plain module path, ``--fast-encoder false``) and ``slicer-embed
    extract`` end to end on 30 min of audio with the same model architecture.
(b) split, in this process, one step at a time with every core: data (DataLoader from the cache or
    files), log-mel, each augmentation (mixup, RRC, k-mix), student forward+backward, teacher, losses,
    optimiser, EMA.
(c) FLOPs per crop (student 3x forward on two views + teacher on two views) and this machine's
    measured peaks (bf16/fp32 2048^3 matmul, 64->64 3x3 conv): the crops/s each would allow.
(e) ``--sections kernels``: the model step with each compiled kernel on or off, alternated in one process
    (``--rounds`` rounds): what each kernel saves of a step. ``--sections against --against DIR``: training
    from this checkout and from DIR (another commit's tree, outside this repository) alternated, ``--rounds``
    pairs, the ratio per pair; it prints which files each side imports.
(d) ``--sections block1`` (not in the default set): the whole model step (views, student, teacher,
    losses, backward, AdamW, EMA) on one fixed batch, block 1's kernel writing bf16 under autocast (A)
    against it writing float32 that the next conv casts (B, the path before 2026-12-02; the same bits),
    alternated A B B A ... in one process; per-round A/B ratios.
Benchmark on a quiet machine (pause a background run with kill -STOP); figures drift +-10%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from slicer_embed.training.infra.data import CropDataset, EpochBatches, FileSource, list_audio
from slicer_embed.training.method.config import PRESETS, PretrainConfig
from slicer_embed.training.method.ema import ema_update_
from slicer_embed.training.method.pretrain import bf16_autocast_supported, log_mel_batch, make_optimizer
from slicer_embed.training.method.queue import KeyQueue
from slicer_embed.training.method.student_teacher import TwoViews, build_student_teacher
from slicer_embed.training.method.views import ViewMaker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extract import peak_rows  # noqa: E402 - the same peaks, read as crops/s at the step's FLOPs
from bench_step import fixed_batch_step  # noqa: E402 - one fixed-batch model step, also for other checkouts


def flops_per_crop(cfg: PretrainConfig, n_mels: int = 64, channels: int = 64, blocks: int = 3) -> dict[str, float]:
    """Multiply-adds x 2 of one training crop: encoder forward per view, and the whole step."""
    h, w = n_mels, cfg.crop_samples // 160 + 1
    fwd, c_in = 0.0, 1
    for _ in range(blocks):
        fwd += 2.0 * 9 * c_in * channels * h * w
        h, w, c_in = h // 2, w // 2, channels
    fwd += 2.0 * w * (channels * h * 2048 + 2048 * 2048)
    heads = 2.0 * 2048 * cfg.instance_dim + (2.0 * 2048 * 2048 + 2.0 * 2048 * cfg.n_clusters)
    view = fwd + heads
    # student: forward + backward (~2x forward) on both views; teacher: forward on both views
    return {"encoder_forward": fwd, "step": 2 * 3 * view + 2 * view}


def steady_rate(run: Path, skip_steps: int = 20) -> float:
    """Crops/s over the metric windows after ``skip_steps`` (start-up, warm-up and allocator growth)."""
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    rows = [r for r in rows if r["step"] > skip_steps]
    if len(rows) < 2:
        raise RuntimeError(f"{run}: too few metric lines after step {skip_steps}; raise --steps")
    t = rows[-1]["time"] - rows[0]["time"]
    return (rows[-1]["clips_seen"] - rows[0]["clips_seen"]) / t


def run_train(data: str, cache: str | None, preset: str, steps: int, extra: Sequence[str], out: Path,
              root: Path = ROOT) -> float:
    """Crops/s of ``slicer-embed train`` run from the checkout ``root`` (its own slicer_embed and training)."""
    data, cache = os.path.abspath(data), os.path.abspath(cache) if cache else None  # the run starts in ``root``
    cmd = [sys.executable, "-m", "slicer_embed", "train", "--data", data, "--out", str(out), "--preset", preset,
           "--max-steps", str(steps), "--progress", "false", "--log-every", "10", "--checkpoint-every",
           str(10 * steps), *(["--cache", cache] if cache else []), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=checkout_env(root))
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return steady_rate(out)


def checkout_env(root: Path) -> dict[str, str]:
    """The environment that makes ``python -m slicer_embed`` import ``root``'s package: its folder first on
    the path, and its training/ as slicer_embed.training (an editable install would map that to its own)."""
    root = Path(root).resolve()
    if root != ROOT.resolve():
        link = root / "slicer_embed" / "training"
        if not link.exists():
            link.symlink_to(root / "training")
    return {**os.environ, "PYTHONPATH": str(root)}


def imported_from(root: Path) -> str:
    """Where ``slicer_embed`` and ``slicer_embed.training`` resolve for a process started in ``root``."""
    code = "import slicer_embed, slicer_embed.training as t; print(slicer_embed.__file__, t.__file__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                          env=checkout_env(root))
    return done.stdout.strip() or done.stderr.strip()[-300:]


def extract_windows_per_s(tmp: Path, minutes: float = 30.0, precision: str = "bfloat16") -> float:
    """``slicer-embed extract --precision PRECISION`` on ``minutes`` of 10 s files: windows per second
    end to end (decoding and start-up included)."""
    import soundfile as sf

    import slicer_embed
    src = tmp / "audio"
    src.mkdir()
    rng = np.random.default_rng(0)
    n = int(minutes * 6)
    for i in range(n):
        sf.write(str(src / f"c{i:04d}.wav"), (0.1 * rng.standard_normal(160000)).astype(np.float32), 16000)
    model = tmp / "model"
    slicer_embed.create_model(seed=0).save_pretrained(model)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "slicer_embed", "extract", str(src), str(tmp / "e.npy"),
                           "--model", str(model), "--precision", precision], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"extract failed: {done.stderr[-2000:]}")
    seconds = time.perf_counter() - t0
    return n * 10.0 / 0.96 / seconds  # 0.96 s windows


def encoder_windows_per_s(precision: str = "bfloat16", windows: int = 512, repeats: int = 3) -> float:
    """Windows per second of ``embed`` on ready waveforms (frontend + encoder, extract's fast path and
    thread layout): the inference rate a training step is compared with."""
    import slicer_embed
    from slicer_embed.runtime import recommended_options
    cores = torch.get_num_threads()
    try:
        model = slicer_embed.create_model(seed=0)
        model.set_inference_options(recommended_options(precision=precision))  # sets 1 torch thread per worker
        x = (0.1 * np.random.default_rng(0).standard_normal((windows, model.config.window_samples))).astype(np.float32)
        model.embed(x[:64], 16000)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.embed(x, 16000)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(cores)
    return windows / best


def build_nets(cfg: PretrainConfig, dev: torch.device) -> tuple[Any, Any]:
    """Seed-0 student and teacher as the training loop sets them up (fast path, memory format)."""
    student, teacher = build_student_teacher(cfg.instance_dim, cfg.n_clusters, 0, dev)
    student.fast = teacher.fast = cfg.fast_encoder
    if cfg.channels_last:
        student.to(memory_format=torch.channels_last)
        teacher.to(memory_format=torch.channels_last)
    return student, teacher


def step_parts(cfg: PretrainConfig, student: Any, centroids: torch.Tensor,
               dev: torch.device) -> tuple[KeyQueue, ViewMaker, torch.optim.Optimizer, bool, Any]:
    """Queue, views, optimiser, whether bf16 autocast runs, and its context factory, as in a training step."""
    queue = KeyQueue(cfg.instance_dim, cfg.queue_size, torch.Generator().manual_seed(1), dev)
    views = ViewMaker(cfg, (1, 64, 96), centroids, 0, dev)
    opt = make_optimizer(cfg, [p for p in student.parameters() if p.requires_grad])
    amp = cfg.amp and bf16_autocast_supported(dev)
    dtype = torch.bfloat16 if amp else None
    autocast = lambda: torch.autocast("cpu", dtype=dtype, enabled=amp)  # noqa: E731
    return queue, views, opt, amp, autocast


def split_rows(preset: str, data: str, cache: str | None, steps: int) -> dict[str, float]:
    """Milliseconds per step of each stage (mean over ``steps`` after two warm-up steps), every core."""
    from slicer_embed.training.infra.cache import CacheSource
    from slicer_embed.training.method.corpus_stats import kmix_centroids, norm_stats

    cfg = PRESETS[preset]
    dev = torch.device("cpu")
    source = CacheSource(cache) if cache else FileSource(list_audio(data))
    student, teacher = build_nets(cfg, dev)
    mean, std, _ = norm_stats(source, student.model.frontend, 256, cfg.crop_samples, 0)
    centroids = kmix_centroids(source, student.model.frontend, min(1.0, 512 / len(source)), cfg.kmix_clusters,
                               cfg.kmix_iters, cfg.crop_samples, 0, (mean, std))
    queue, views, opt, _, autocast = step_parts(cfg, student, centroids, dev)
    loader = iter(DataLoader(CropDataset(source, cfg.crop_samples, 0),
                             batch_sampler=EpochBatches(len(source), cfg.batch_size, 0, 0),
                             num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0))
    stages = ["data (DataLoader wait)", "log-mel frontend", "mixup", "RRC", "k-mix", "student forward",
              "teacher (2 views)", "losses", "backward", "optimiser", "EMA"]
    times = dict.fromkeys(stages, 0.0)
    for i in range(steps + 2):
        t = [time.perf_counter()]
        wave, _ = next(loader); t.append(time.perf_counter())
        x = log_mel_batch(student, wave, mean, std); t.append(time.perf_counter())
        out = []
        with torch.no_grad():
            for _ in range(2):  # ViewMaker's chain, timed per augmentation (same calls, same order)
                v = x
                marks = {}
                for name in views.chain:
                    s0 = time.perf_counter()
                    v = views.apply(name, v)
                    marks[name] = time.perf_counter() - s0
                out.append(v)
                for name, dt in marks.items():
                    if i >= 2:
                        times[{"mixup": "mixup", "rrc": "RRC", "kmix": "k-mix"}[name]] += dt / steps
        v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in out)
        t.append(time.perf_counter())
        with autocast():
            q1, c1, q2, c2 = TwoViews(student)(v1, v2)
        t.append(time.perf_counter())
        with torch.no_grad(), autocast():
            k1, k2 = teacher(v1)[0].float(), teacher(v2)[0].float()
        t.append(time.perf_counter())
        from slicer_embed.training.method.losses import cluster_loss, combine_directions, instance_loss
        negatives = queue.keys.clone()
        loss = combine_directions(instance_loss(q1, k2, negatives, cfg.temperature),
                                  instance_loss(q2, k1, negatives, cfg.temperature), cfg.symmetric)
        loss = loss + cfg.cluster_weight * cluster_loss(c1, c2, cfg.cluster_temperature, cfg.cluster_entropy)
        queue.enqueue(torch.cat([k2, k1]))
        t.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward(); t.append(time.perf_counter())
        opt.step(); t.append(time.perf_counter())
        ema_update_(teacher, student, cfg.ema_momentum); t.append(time.perf_counter())
        if i >= 2:
            spans = dict(zip(["data (DataLoader wait)", "log-mel frontend", "augment", "student forward",
                              "teacher (2 views)", "losses", "backward", "optimiser", "EMA"],
                             np.diff(t)))
            for k, v in spans.items():
                if k != "augment":
                    times[k] += v / steps
    return {k: 1000 * v for k, v in times.items()}


def block1_rows(preset: str, rounds: int = 12) -> dict[str, Any]:
    """Paired in-process timing of the model step with block 1 writing bf16 (A) or float32 (B)."""
    import statistics

    from slicer_embed.training.speed import fast_encoder

    model_step, amp = fixed_batch_step(preset)
    real = fast_encoder._autocast_dtype

    def step(bf16_out: bool) -> None:
        fast_encoder._autocast_dtype = real if bf16_out else (lambda device_type: torch.float32)
        model_step()

    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for flag in (True, False, True, False):
            step(flag)
        for r in range(rounds):
            for flag in ((True, False) if r % 2 == 0 else (False, True)):
                t0 = time.perf_counter()
                step(flag)
                step(flag)
                times[flag].append((time.perf_counter() - t0) / 2)
    finally:
        fast_encoder._autocast_dtype = real
    ratios = sorted(a / b for a, b in zip(times[True], times[False]))
    return {"bf16_ms": 1000 * statistics.median(times[True]), "float32_ms": 1000 * statistics.median(times[False]),
            "ratio_min": ratios[0], "ratio_median": statistics.median(ratios), "ratio_max": ratios[-1],
            "rounds": rounds, "amp": amp}


def kernel_rows(preset: str, rounds: int = 8) -> dict[str, Any]:
    """Paired in-process timing of the model step with each compiled kernel on or off (the torch ops),
    variants alternated in every round (A B C D, then D C B A): per-variant medians and per-round ratios
    to the step with every kernel."""
    import statistics

    from slicer_embed.training.speed import block1_kernel, native, pool_kernel

    if native.ops() is None:
        raise RuntimeError(f"the kernels are unavailable here: {native.error()}")
    model_step, amp = fixed_batch_step(preset)
    real = (block1_kernel.available, pool_kernel.usable)
    variants = {"every kernel": (True, True), "no block-1 kernel": (False, True),
                "no pool kernel": (True, False), "no kernel (torch ops)": (False, False)}

    def step(block1: bool, pool: bool) -> None:
        block1_kernel.available = real[0] if block1 else (lambda: False)
        pool_kernel.usable = real[1] if pool else (lambda h, p: False)
        model_step()

    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for flags in variants.values():
            step(*flags)
        for r in range(rounds):
            for name in (list(variants) if r % 2 == 0 else list(variants)[::-1]):
                t0 = time.perf_counter()
                step(*variants[name])
                step(*variants[name])
                times[name].append((time.perf_counter() - t0) / 2)
    finally:
        block1_kernel.available, pool_kernel.usable = real
    base = times["every kernel"]
    out: dict[str, Any] = {"rounds": rounds, "amp": amp}
    for name, t in times.items():
        ratios = sorted(a / b for a, b in zip(t, base))
        out[name] = {"ms": 1000 * statistics.median(t), "ratio_min": ratios[0],
                     "ratio_median": statistics.median(ratios), "ratio_max": ratios[-1]}
    return out


def kmix_geometry(files: list[Path], clusters: int = 4) -> dict[str, dict[str, float]]:
    """Occupancy of the k-mix clusters by normalised crops (what the online step assigns), for centroids
    computed on raw (reference) vs normalised log-mel. Balanced = entropy/log K near 1."""
    from slicer_embed.training.method.corpus_stats import kmix_centroids, norm_stats
    from slicer_embed.training.method.kmix import assign_clusters

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
    from slicer_embed.training.method.corpus_stats import norm_stats

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
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="training corpus: folder or CSV (e.g. data/corpus/manifest.csv)")
    p.add_argument("--cache", default=None, help="the preprocessed-audio cache of --data (as train --cache)")
    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    p.add_argument("--steps", type=int, default=80, help="steps per end-to-end run (default 80)")
    p.add_argument("--rounds", type=int, default=3,
                   help="end-to-end training runs, each between two inference measurements (default 3)")
    p.add_argument("--split-steps", type=int, default=6, help="steps timed in the split (default 6)")
    p.add_argument("--peer", default="--fast-encoder false",
                   help="train overrides of the peer end-to-end run ('' for none; default: the module path)")
    p.add_argument("--sections", default="e2e,split,peak",
                   help="comma list from e2e,split,peak,block1,kernels,against")
    p.add_argument("--against", type=Path, default=None,
                   help="section 'against': another checkout (e.g. `git archive` of an older commit, outside this "
                        "repository), its training alternated with this one's, --rounds pairs")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
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
    if not args.data:
        p.error("--data is required (or --recipe-checks)")
    sections = {s.strip() for s in args.sections.split(",")}
    cfg = PRESETS[args.preset]
    fl = flops_per_crop(cfg)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, preset {args.preset} (batch "
          f"{cfg.batch_size}, fast_encoder {cfg.fast_encoder}), load average {os.getloadavg()[0]:.2f}")
    result: dict[str, Any] = {"preset": args.preset, "flops_per_crop": fl["step"]}
    if "e2e" in sections:
        rounds = []  # (train crops/s, inference windows/s around it): the pair shares the machine's state
        with tempfile.TemporaryDirectory(dir=ROOT / "runs" if (ROOT / "runs").is_dir() else None) as tmp:
            tmp = Path(tmp)
            for r in range(args.rounds):
                before = encoder_windows_per_s()
                rate = run_train(args.data, args.cache, args.preset, args.steps, [], tmp / f"recipe{r}")
                rounds.append((rate, (before + encoder_windows_per_s()) / 2))
            peer = run_train(args.data, args.cache, args.preset, args.steps, args.peer.split(), tmp / "peer") \
                if args.peer.strip() else None
            peer_encoder = encoder_windows_per_s() if peer is not None else None
            windows = extract_windows_per_s(tmp)
        ratios = sorted(rate / enc for rate, enc in rounds)
        rate, encoder = (float(np.median([x[i] for x in rounds])) for i in (0, 1))
        result.update(train_crops_per_s=rate, peer_crops_per_s=peer, extract_windows_per_s=windows,
                      encoder_windows_per_s=encoder, rounds=[{"train_crops_per_s": a, "encoder_windows_per_s": b}
                                                             for a, b in rounds],
                      ratio_median=float(np.median(ratios)), ratio_min=ratios[0], ratio_max=ratios[-1])
        print(f"\n| round | train --preset {args.preset} (crops/s) | embed, bf16 fast path, 512 ready windows, "
              f"in process (windows/s, before and after) | training / inference |\n|---|---:|---:|---:|")
        for r, (a, b) in enumerate(rounds, 1):
            print(f"| {r} | {a:.1f} | {b:.0f} | {a / b:.3f} |")
        print(f"training / inference over {len(rounds)} rounds: median {np.median(ratios):.3f} "
              f"(min {ratios[0]:.3f}, max {ratios[-1]:.3f})")
        print("\n| end to end | crops/s or windows/s | training / inference (bf16 embed) |\n|---|---:|---:|")
        print(f"| train --preset {args.preset} (median of the rounds) | {rate:.1f} crops/s | {rate / encoder:.3f} |")
        if peer is not None:
            print(f"| train --preset {args.preset} {args.peer} (peer) | {peer:.1f} crops/s | "
                  f"{peer / peer_encoder:.3f} |")
        print(f"| embed, bf16 fast path, 512 ready windows (in process) | {encoder:.0f} windows/s | 1 |")
        print(f"| slicer-embed extract --precision bfloat16, 30 min of 10 s WAV files | {windows:.0f} windows/s "
              f"| {encoder / windows:.2f} |")
    if "split" in sections:
        split = split_rows(args.preset, args.data, args.cache, args.split_steps)
        total = sum(split.values())
        result["split_ms"] = split
        print(f"\n| stage (ms per step of {cfg.batch_size} crops) | ms | share |\n|---|---:|---:|")
        for k, v in split.items():
            print(f"| {k} | {v:.1f} | {100 * v / total:.0f}% |")
        print(f"| **total** | {total:.1f} | {cfg.batch_size / total * 1000:.1f} crops/s |")
    if "against" in sections:
        if args.against is None:
            p.error("section 'against' needs --against DIR")
        print(f"this checkout imports {imported_from(ROOT)}\n--against imports {imported_from(args.against)}")
        pairs = []
        with tempfile.TemporaryDirectory(dir=ROOT / "runs" if (ROOT / "runs").is_dir() else None) as tmp:
            for r in range(args.rounds):
                order = [("this", ROOT), ("against", args.against)]
                rates = {}
                for name, root in (order if r % 2 == 0 else order[::-1]):
                    rates[name] = run_train(args.data, args.cache, args.preset, args.steps, [],
                                            Path(tmp) / f"{name}{r}", root)
                pairs.append((rates["this"], rates["against"]))
        ratios = sorted(a / b for a, b in pairs)
        result["against"] = {"dir": str(args.against), "pairs": pairs, "ratio_median": float(np.median(ratios)),
                             "ratio_min": ratios[0], "ratio_max": ratios[-1]}
        print(f"\n| round | train --preset {args.preset}, this checkout (crops/s) | {args.against} (crops/s) | ratio |"
              f"\n|---|---:|---:|---:|")
        for r, (a, b) in enumerate(pairs, 1):
            print(f"| {r} | {a:.1f} | {b:.1f} | {a / b:.3f} |")
        print(f"this / against over {len(pairs)} alternated rounds: median {np.median(ratios):.3f} "
              f"(min {ratios[0]:.3f}, max {ratios[-1]:.3f})")
    if "kernels" in sections:
        kr = kernel_rows(args.preset, args.rounds)
        result["kernels"] = kr
        print(f"\n| model step, one batch of {cfg.batch_size} (bf16 autocast: {kr['amp']}) | ms (median) | "
              f"/ every kernel, per round: median (min-max) |\n|---|---:|---:|")
        for name, row in kr.items():
            if isinstance(row, dict):
                print(f"| {name} | {row['ms']:.1f} | {row['ratio_median']:.3f} ({row['ratio_min']:.3f}-"
                      f"{row['ratio_max']:.3f}) |")
    if "block1" in sections:
        ab = block1_rows(args.preset)
        result["block1"] = ab
        print(f"\n| model step, one batch of {cfg.batch_size} (bf16 autocast: {ab['amp']}) | ms (median) | crops/s |"
              f"\n|---|---:|---:|")
        print(f"| A: block 1 writes bf16 | {ab['bf16_ms']:.1f} | {cfg.batch_size / ab['bf16_ms'] * 1000:.1f} |")
        print(f"| B: block 1 writes float32, the next conv casts | {ab['float32_ms']:.1f} | "
              f"{cfg.batch_size / ab['float32_ms'] * 1000:.1f} |")
        print(f"A/B per round over {ab['rounds']} rounds: min {ab['ratio_min']:.3f}, median {ab['ratio_median']:.3f}, "
              f"max {ab['ratio_max']:.3f}")
    if "peak" in sections:
        peaks = peak_rows(fl["step"], 5)
        result["peaks"] = peaks
        print(f"\nFLOPs: {fl['encoder_forward'] / 1e9:.3f} GFLOP per encoder forward of one crop, "
              f"{fl['step'] / 1e9:.2f} GFLOP per crop per training step")
        print("\n| peak kernel | GFLOP/s | FLOP-limit crops/s (all cores) |\n|---|---:|---:|")
        for name, g, c in peaks:
            print(f"| {name} | {g:.0f} | {c:.0f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
