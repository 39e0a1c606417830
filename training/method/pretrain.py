"""SLICER pretraining loop, in the shape of DINO's ``train_dino``: one flat, sectioned function.

Per step (docs/method.md section 9): waveform crops -> the model's own log-mel frontend -> scalar
normalisation with corpus statistics -> two augmented views -> student on both views (one DDP
forward) -> teacher keys (EMA first when ``ema_in_forward``) -> InfoNCE against the queue in both
directions + cluster loss -> backward, optimiser step (-> EMA) -> enqueue the keys of all ranks.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..infra import checkpoint as ckpt
from ..infra import distributed as dist_utils
from ..infra.cache import CacheSource, build_cache, is_cache
from ..infra.corpus_record import corpus_record
from ..infra.data import CropDataset, FileSource, RunBatches, check_files, list_audio, read_domains
from ..infra.domains import DomainPlan, domain_plan, parse_domain_weights
from ..infra.run_log import RunLog
from ..speed import native
from .config import PretrainConfig
from .corpus_stats import kmix_centroids, norm_stats
from .ema import ema_update_
from .losses import byol_loss, cluster_loss, combine_directions, instance_loss
from .queue import KeyQueue
from .schedules import learning_rate
from .student_teacher import PredictorViews, SlicerNet, TwoViews, build_predictor, build_student_teacher
from .views import ViewMaker

# Fields that may change when a run is resumed; anything else would break exact continuation.
RESUMABLE_OVERRIDES = {"max_steps", "epochs", "num_workers", "progress", "log_every", "checkpoint_every",
                       "keep_checkpoints", "stall_after_step", "keep_steps", "stop_at_step"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf; a checkpoint of the state before the bad step was written."""


@dataclass
class Position:
    """Where the run is: optimiser steps done, data position and clips consumed (all ranks)."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    clips_seen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def make_optimizer(cfg: PretrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    # the fused kernel: one pass over the parameters instead of ~10 (CPU step 23 -> 3.5 ms for this model)
    fused = _torch_at_least(2, 4) and all(p.device.type in ("cpu", "cuda") for p in params)  # CPU: torch >= 2.4
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def _torch_at_least(major: int, minor: int) -> bool:
    parts = torch.__version__.split("+")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


def log_mel_batch(student: SlicerNet, wave: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Waveforms (B, samples) -> normalised log-mel (B, 1, 64, frames) with the model's own frontend (fp32)."""
    with torch.no_grad():
        return ((student.model.frontend(wave.float()) - mean) / std).unsqueeze(1)


def bf16_autocast_supported(dev: torch.device) -> bool:
    """bf16 autocast pays on CUDA and on CPUs with native bf16 (oneDNN: AMX or avx512_bf16);
    on other CPUs it is emulated and slower than fp32, so ``amp`` is ignored there."""
    if dev.type == "cuda":
        return True
    if dev.type != "cpu":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def slicer_losses(cfg: PretrainConfig, student_views: TwoViews, student: SlicerNet, teacher: SlicerNet,
                  queue: KeyQueue, v1: torch.Tensor, v2: torch.Tensor, info: dist_utils.DistInfo,
                  autocast: Any) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for one batch of view pairs (docs/method.md 4.1-4.4)."""
    with autocast():
        q1, c1, q2, c2 = student_views(v1, v2)
    keys = []

    def direction(q: torch.Tensor, other_view: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), autocast():
            if cfg.ema_in_forward:  # the reference updates the teacher inside every forward call
                ema_update_(teacher, student, cfg.ema_momentum)
            k = teacher(other_view)[0].float()
        loss = instance_loss(q, k, queue.keys.clone(), cfg.temperature)
        if cfg.enqueue_per_direction:  # the reference: direction 2 sees direction 1's keys as negatives
            queue.enqueue(dist_utils.gather_keys(k, info))
        else:
            keys.append(k)
        return loss

    l12 = direction(q1, v2)
    l21 = direction(q2, v1)
    if keys:
        queue.enqueue(dist_utils.gather_keys(torch.cat(keys), info))
    l_inst = combine_directions(l12, l21, cfg.symmetric)
    l_clu = cluster_loss(c1, c2, cfg.cluster_temperature, cfg.cluster_entropy)
    loss = l_inst + cfg.cluster_weight * l_clu
    parts = torch.stack([loss.detach(), l_inst.detach(), l_clu.detach()])
    parts = dist_utils.all_reduce_mean(parts, info).tolist()
    return loss, {"loss": parts[0], "loss_instance": parts[1], "loss_cluster": parts[2]}


def byol_losses(online: torch.nn.Module, teacher: SlicerNet, v1: torch.Tensor, v2: torch.Tensor,
                info: dist_utils.DistInfo, autocast: Any) -> tuple[torch.Tensor, dict[str, float]]:
    """BYOL-A's loss for one batch of view pairs: each view's prediction against the teacher's projection
    of the other view, ``byol_loss(p1, z2) + byol_loss(p2, z1)``. No queue, no cluster loss."""
    with autocast():
        p1, p2 = online(v1, v2)
    with torch.no_grad(), autocast():
        z1, z2 = teacher(v1)[0].float(), teacher(v2)[0].float()
    loss = byol_loss(p1, z2) + byol_loss(p2, z1)
    value = dist_utils.all_reduce_mean(loss.detach(), info).item()
    return loss, {"loss": value, "loss_instance": value, "loss_cluster": 0.0}


def training_state(cfg: PretrainConfig, student: SlicerNet, teacher: SlicerNet, opt: torch.optim.Optimizer,
                   queue: KeyQueue, views: ViewMaker, pos: Position, stats: dict[str, Any],
                   predictor: torch.nn.Module | None = None, builds: list[dict[str, Any]] | None = None
                   ) -> dict[str, Any]:
    """Everything needed to continue exactly (and to export the encoder). ``builds``: which encoder path,
    torch and compiler made the weights, one entry per stretch of the run (``record_build``)."""
    return {
        "format": "slicer-embed-train/1",
        "config": cfg.to_dict(), "stats": stats,
        "student": student.state_dict(), "teacher": teacher.state_dict(), "optimizer": opt.state_dict(),
        "queue": queue.state_dict(), "views": views.state_dict(),
        "position": {"step": pos.step, "epoch": pos.epoch, "batch_in_epoch": pos.batch_in_epoch,
                     "clips_seen": pos.clips_seen},
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        **({"predictor": predictor.state_dict()} if predictor is not None else {}),
        "builds": list(builds or []),
    }


def record_build(builds: list[dict[str, Any]], current: dict[str, Any], step: int) -> tuple[list[dict[str, Any]], bool]:
    """``builds`` with ``current`` (training.speed.native.build_info) appended from ``step`` when it differs from
    the last entry; and whether it did after step 0 (a resume on another path, torch or compiler: the
    weights then are not bit-identical to an uninterrupted run's)."""
    last = {k: v for k, v in builds[-1].items() if k != "from_step"} if builds else None
    if last == current:
        return builds, False
    return [*builds, {"from_step": step, **current}], bool(builds)


def restore_state(state: dict[str, Any], student: SlicerNet, teacher: SlicerNet, opt: torch.optim.Optimizer,
                  queue: KeyQueue, views: ViewMaker, predictor: torch.nn.Module | None = None) -> Position:
    student.load_state_dict(state["student"])
    teacher.load_state_dict(state["teacher"])
    if predictor is not None:
        predictor.load_state_dict(state["predictor"])
    opt.load_state_dict(state["optimizer"])
    queue.load_state_dict(state["queue"])
    views.load_state_dict(state["views"])
    torch.set_rng_state(state["rng_cpu"])
    if state["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return Position(**state["position"])


def corpus_statistics(cfg: PretrainConfig, source: FileSource | CacheSource, student: SlicerNet, data_desc: str,
                      log: RunLog) -> tuple[dict[str, Any], torch.Tensor | None]:
    """Normalisation mean/std and (if k-mix is on) k-mix centroids, computed on the training data."""
    t0 = time.perf_counter()
    frontend = student.model.frontend
    mean, std, n = norm_stats(source, frontend, cfg.norm_clips, cfg.crop_samples, cfg.seed)
    stats = {"mean": mean, "std": std, "clips": n, "source": f"{data_desc}: {n} random 0.95 s crops"}
    centroids = None
    if "kmix" in cfg.augmentation_list:
        norm = (mean, std) if cfg.kmix_features == "normalized" else None
        centroids = kmix_centroids(source, frontend, cfg.kmix_fraction, cfg.kmix_clusters, cfg.kmix_iters,
                                   cfg.crop_samples, cfg.seed, norm)
    log.info(f"corpus statistics: log-mel mean {mean:.4f}, std {std:.4f} over {n} crops"
             f"{'' if centroids is None else f'; {len(centroids)} k-mix centroids'} "
             f"({time.perf_counter() - t0:.1f} s)")
    return stats, centroids


def pass_plan(cfg: PretrainConfig, data: str | Path, files: list[Path]) -> DomainPlan | None:
    """The domain plan of ``cfg.domain_weights`` for ``files`` (their domains from the manifest ``data``)."""
    weights = parse_domain_weights(cfg.domain_weights)
    if not weights:
        return None
    domains = read_domains(data) if Path(data).is_file() else {}
    if not domains:
        raise ValueError(f"--domain-weights {cfg.domain_weights}: {data} is not a manifest with a 'domain' column "
                         f"(slicer-embed data corpus writes one)")
    unknown = [f for f in files if f not in domains]
    if unknown:
        raise ValueError(f"--domain-weights: {len(unknown)} training file(s) have no domain in {data}, "
                         f"e.g. {unknown[0]}")
    return domain_plan([domains[f] for f in files], weights)


def resolve_data(data: str | Path, out: Path, info: dist_utils.DistInfo) -> list[Path]:
    files, bad = check_files(list_audio(data))
    if bad and info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "bad_files.txt").write_text("\n".join(bad) + "\n", encoding="utf-8")
    if not files:
        raise FileNotFoundError(f"{data}: none of the listed files can be read as audio (see {out}/bad_files.txt)")
    return files


RUN_FILES = ("checkpoints", "model", "metrics.jsonl", "train.log", "train_config.json", "tensorboard",
             "bad_files.txt")


class RunFolderInUse(ValueError):
    """The run folder already holds a run (and neither resume nor overwrite was asked for)."""


def check_run_folder(out: Path, resume: bool, overwrite: bool) -> None:
    """A new run never mixes with an old one: refuse a folder holding a run unless told what to do."""
    if resume:
        return
    if not (ckpt.list_checkpoints(out) or (out / "metrics.jsonl").is_file()):
        return  # no run here (an empty folder, or one whose start failed before the first step)
    found = [name for name in RUN_FILES if (out / name).exists()]
    if not overwrite:
        raise RunFolderInUse(f"{out} already holds a training run ({', '.join(found)}); pass --resume to continue "
                             f"it, --overwrite to delete it and start over, or choose another --out")
    import shutil
    for name in found:
        target = out / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


def train(cfg: PretrainConfig, data: str | Path, out: str | Path, *, preset: str = "custom",
          resume: bool = False, device: str = "auto", cache: str | Path | None = None,
          overwrite: bool = False) -> Path:
    """Run (or resume) pretraining into the run folder ``out``; returns ``out/model`` (exported student).

    ``cache``: a preprocessed-audio folder (training.infra.cache); built from ``data`` first if it does not exist.
    ``out`` must not hold another run unless ``resume`` (continue it) or ``overwrite`` (delete it first).
    The run holds ``out/.lock`` while it runs: a second ``train`` into the same folder is refused.
    """
    from slicer_embed.locking import OutputLock, OutputLocked

    out = Path(out)
    lock = OutputLock(out / ".lock", f"the training run {out}")
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        try:
            lock.acquire()
        except OutputLocked as e:
            raise RunFolderInUse(str(e)) from None
    try:
        if is_main:
            check_run_folder(out, resume, overwrite)
        return _train(cfg, data, out, preset=preset, resume=resume, device=device, cache=cache)
    finally:
        lock.release()


def _train(cfg: PretrainConfig, data: str | Path, out: Path, *, preset: str, resume: bool, device: str,
           cache: str | Path | None) -> Path:
    from slicer_embed.hub import resolve_device

    # ---------------- distributed, device, run folder ----------------
    dev = resolve_device(None if device == "auto" else device)
    info = dist_utils.init(dev.type)
    if dev.type == "cuda" and info.enabled:
        dev = torch.device("cuda", info.local_rank)
    torch.manual_seed(cfg.seed * 1009 + info.rank)  # dropout draws from the global generator (restored on resume)
    state = None
    skipped: list[str] = []
    if resume:
        found = ckpt.list_checkpoints(out)
        if not found:
            raise FileNotFoundError(f"--resume: {out} has no checkpoints/step_*.pt to resume from")
        for candidate in reversed(found):  # a truncated newest one (disk full, copy cut short): use the one before
            try:
                state = ckpt.load_checkpoint(candidate)
                break
            except ValueError as e:
                skipped.append(f"{candidate.name} ({str(e).split(' (')[0]}), renamed to {candidate.name}.unreadable")
                if info.is_main:  # out of the way of latest_checkpoint and prune
                    os.replace(candidate, candidate.with_name(candidate.name + ".unreadable"))
        if state is None:
            raise ValueError(f"--resume: none of the checkpoints in {out / ckpt.CKPT_DIR} can be read: "
                             f"{'; '.join(skipped)}")
        cfg = _resumed_config(state, cfg)
    log = RunLog(out, info.is_main, cfg.progress)
    for text in skipped:
        log.info(f"--resume: skipped the unreadable checkpoint {text}")
    log.write_json("train_config.json", {"preset": preset, "data": str(data), "config": cfg.to_dict()})

    # ---------------- data ----------------
    source = _clip_source(data, out, cache, info)
    files = source.files
    per_rank = cfg.batch_size // info.world_size
    if per_rank * info.world_size > len(files):
        raise ValueError(f"{data}: {len(files)} readable files but one step needs batch_size={cfg.batch_size}")
    steps_per_epoch = len(files) // (per_rank * info.world_size)
    total_steps = cfg.max_steps if cfg.max_steps > 0 else cfg.epochs * steps_per_epoch
    dataset = CropDataset(source, cfg.crop_samples, cfg.seed)
    plan = pass_plan(cfg, data, files)
    if plan is not None:
        log.info("crops per pass by domain: " + ", ".join(
            f"{d} {c} ({100 * share:.1f} %)" for d, (c, share) in plan.mix().items()))

    # ---------------- student, teacher, corpus statistics ----------------
    student, teacher = build_student_teacher(cfg.instance_dim, cfg.n_clusters, cfg.seed, dev, cfg.projector_hidden)
    student.fast = teacher.fast = cfg.fast_encoder
    byol = cfg.objective == "byol"
    predictor = build_predictor(cfg.instance_dim, cfg.predictor_hidden, cfg.seed, dev) if byol else None
    if state is None:
        stats, centroids = corpus_statistics(cfg, source, student, str(data), log)
        stats["preset"] = preset
        stats["corpus"] = corpus_record(data, files, plan)
    else:
        stats, centroids = state["stats"], state["views"]["centroids"]
    student_views: torch.nn.Module = PredictorViews(student, predictor) if predictor is not None else TwoViews(student)
    if info.enabled:
        student_views = torch.nn.parallel.DistributedDataParallel(
            student_views, device_ids=[dev.index] if dev.type == "cuda" else None)

    # ---------------- queue, memory banks, optimiser, resume ----------------
    queue = KeyQueue(cfg.instance_dim, cfg.queue_size, torch.Generator().manual_seed(cfg.seed + 1), dev)
    n_frames = 1 + cfg.crop_samples // student.model.config.frontend.hop_length
    views = ViewMaker(cfg, (1, student.model.config.frontend.n_mels, n_frames), centroids,
                      cfg.seed + 1000 + info.rank, dev)
    params = [p for p in student.parameters() if p.requires_grad]
    if byol:  # the cluster head takes no part in BYOL: leave it out of the optimiser (and its weight decay)
        head = {id(p) for p in student.cluster_head.parameters()}
        params = [p for p in params if id(p) not in head] + list(predictor.parameters())
    opt = make_optimizer(cfg, params)
    pos = Position()
    builds: list[dict[str, Any]] = []
    if state is not None:
        pos = restore_state(state, student, teacher, opt, queue, views, predictor)
        builds = list(state.get("builds", []))
        log.info(f"resumed from step {pos.step} (epoch {pos.epoch}, batch {pos.batch_in_epoch})")
        del state
    builds, changed = record_build(builds, native.build_info(cfg.fast_encoder, dev), pos.step)
    log.info(f"encoder path: {builds[-1]['encoder_path']} (torch {builds[-1]['torch']}"
             f"{', ' + builds[-1]['compiler'] if 'compiler' in builds[-1] else ''})")
    if changed:
        log.info(f"--resume: this run continues on another build than the one that wrote its checkpoint "
                 f"({builds[-2]} -> {builds[-1]}); the weights will not be bit-identical to an uninterrupted run")
    use_amp = cfg.amp and bf16_autocast_supported(dev)
    autocast = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if use_amp else _no_autocast
    if cfg.channels_last:
        student.to(memory_format=torch.channels_last)
        teacher.to(memory_format=torch.channels_last)
    log.info(f"training {total_steps} steps ({steps_per_epoch}/epoch, {len(files)} files, batch "
             f"{cfg.batch_size} = {info.world_size} x {per_rank}) on {dev}{' bf16' if use_amp else ''}")

    # ---------------- loop ----------------
    keep_steps = cfg.keep_step_set
    end = min(total_steps, cfg.stop_at_step) if cfg.stop_at_step > 0 else total_steps
    if end < total_steps:
        log.info(f"stopping after step {end} of the {total_steps}-step schedule (stop_at_step)")
    log.start_progress(end, pos.step)
    window = log.new_window()
    # One DataLoader for the whole run: its workers live across epochs (a corpus of a few batches per
    # epoch used to restart them every epoch: 96 files ran at 32 instead of 73 crops/s)
    sampler = RunBatches(len(files), per_rank, cfg.seed, pos.epoch, pos.batch_in_epoch, info.rank, info.world_size,
                         plan)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.num_workers,
                        pin_memory=dev.type == "cuda", generator=torch.Generator().manual_seed(0))
    t_data = time.perf_counter()
    for wave, _ in (loader if pos.step < end else ()):
        window.data_s += time.perf_counter() - t_data
        t_model = time.perf_counter()
        lr = learning_rate(pos.step, cfg.lr, total_steps, cfg.lr_schedule, cfg.warmup_steps)
        for group in opt.param_groups:
            group["lr"] = lr
        x = log_mel_batch(student, wave.to(dev, non_blocking=True), stats["mean"], stats["std"])
        v1, v2 = views(x)
        if cfg.channels_last:
            v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
        if byol:
            loss, parts = byol_losses(student_views, teacher, v1, v2, info, autocast)
        else:
            loss, parts = slicer_losses(cfg, student_views, student, teacher, queue, v1, v2, info, autocast)
        if not all(math.isfinite(v) for v in parts.values()):
            bad = ckpt.checkpoint_path(out, pos.step).with_name(f"diverged_step_{pos.step + 1:08d}.pt")
            if info.is_main:
                snapshot = training_state(cfg, student, teacher, opt, queue, views, pos, stats, predictor, builds)
                ckpt.save_checkpoint(snapshot, bad)
            raise TrainingDiverged(f"loss is not finite at step {pos.step + 1} ({parts}); the state before "
                                   f"this step is saved in {bad}. Lower --lr or check the data.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        if not cfg.ema_in_forward:  # one EMA update per step, after the optimiser (MoCo v3 / DINO)
            ema_update_(teacher, student, cfg.ema_momentum)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        pos.step += 1
        pos.batch_in_epoch += 1
        pos.clips_seen += per_rank * info.world_size
        if pos.batch_in_epoch >= steps_per_epoch:
            pos.epoch, pos.batch_in_epoch = pos.epoch + 1, 0
        window.add(time.perf_counter() - t_model, per_rank * info.world_size, parts)
        if pos.step % cfg.log_every == 0 or pos.step == end:
            log.metrics(pos, lr, window)
            window = log.new_window()
        log.advance(parts["loss"])
        if pos.step % cfg.checkpoint_every == 0 or pos.step == end or pos.step in keep_steps:
            _checkpoint(cfg, out, info,
                        training_state(cfg, student, teacher, opt, queue, views, pos, stats, predictor, builds))
            if cfg.stall_after_step == pos.step:
                _stall()
        t_data = time.perf_counter()
        if pos.step >= end:
            break

    # ---------------- export ----------------
    log.close()
    model_dir = out / "model"
    if info.is_main:
        from ..infra.export import export_run
        export_run(out, model_dir)
        log.info(f"exported the student encoder to {model_dir}")
    dist_utils.barrier(info)
    dist_utils.shutdown()
    return model_dir


def _clip_source(data: str | Path, out: Path, cache: str | Path | None,
                 info: dist_utils.DistInfo) -> FileSource | CacheSource:
    """Crops from the files, or from the preprocessed cache (built by rank 0 when missing)."""
    if cache is None:
        return FileSource(resolve_data(data, out, info))
    if not is_cache(cache):
        if info.is_main:
            build_cache(resolve_data(data, out, info), cache)
        dist_utils.barrier(info)
    return CacheSource(cache)


def _checkpoint(cfg: PretrainConfig, out: Path, info: dist_utils.DistInfo, state: dict[str, Any]) -> None:
    if info.is_main:
        ckpt.save_checkpoint(state, ckpt.checkpoint_path(out, state["position"]["step"]))
        ckpt.prune(out, cfg.keep_checkpoints, protect=cfg.keep_step_set)
    dist_utils.barrier(info)


def _resumed_config(state: dict[str, Any], requested: PretrainConfig) -> PretrainConfig:
    """Check that ``requested`` differs from the checkpoint's config only in fields that keep the maths."""
    saved = state["config"]
    saved = PretrainConfig().to_dict() | saved  # a field the checkpoint predates had its default value in that run
    changed = sorted(k for k, v in requested.to_dict().items() if saved[k] != v
                     and not (isinstance(v, tuple) and tuple(saved[k]) == v))
    fixed = [k for k in changed if k not in RESUMABLE_OVERRIDES]
    if fixed:
        raise ValueError(f"--resume cannot change {fixed} (the run was started with "
                         f"{ {k: saved[k] for k in fixed} }); only {sorted(RESUMABLE_OVERRIDES)} may change")
    return requested


def _stall() -> None:
    """Testing hook (``stall_after_step``): wait to be killed, as if the machine died mid-run."""
    while True:
        time.sleep(60)


class _no_autocast:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
