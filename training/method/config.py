"""Typed pretraining configuration: one frozen dataclass, three presets, and an argparse bridge.

``PretrainConfig`` holds every knob of a SLICER pretraining run (docs/method.md section numbers in the
field comments). Presets:

- ``reference``: the LAPE reference code's values, artefacts included as options (two EMA updates and
  two enqueues per step, k-mix centroids on un-normalised log-mel, SGD 3e-4, batch 512, 50 epochs, fp32).
- ``default``: our recommended recipe = ``reference`` with the artefacts fixed (see docs/reproduction.md).
- ``smoke``: seconds on a CPU, for tests and first contact.

``add_config_arguments``/``config_from_args`` turn every field into a ``--field-name VALUE`` flag, so
``--lr 1e-3 --augmentations mixup,rrc`` overrides a preset without a config framework.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class PretrainConfig:
    """All hyper-parameters of one pretraining run. Sizes are global (summed over DDP ranks)."""

    seed: int = 0
    # -- data (docs/method.md section 1) --
    crop_samples: int = 15200  # 0.95 s at 16 kHz -> 96 log-mel frames
    num_workers: int = 2  # DataLoader workers: decode + crop only (augmentation runs in the main process)
    norm_clips: int = 2000  # random crops used to compute the scalar log-mel mean/std before training
    # share of each domain in the crops of a pass, from the manifest's `domain` column: "speech=1,music=1,env=1";
    # "" draws one crop per file per pass (the files' own mix)
    domain_weights: str = ""
    # -- optimisation (section 6) --
    batch_size: int = 512  # global batch; per rank = batch_size // world_size
    epochs: int = 50
    max_steps: int = 0  # 0: run `epochs` epochs
    stop_at_step: int = 0  # >0: stop (checkpoint + export) after this step; the LR schedule still spans the run
    optimizer: str = "sgd"  # "sgd" | "adamw"
    lr: float = 3e-4
    momentum: float = 0.9  # SGD only
    weight_decay: float = 1e-4
    lr_schedule: str = "constant"  # "constant" | "cosine" (after `warmup_steps` of linear warm-up)
    warmup_steps: int = 0
    grad_clip: float = 0.0  # 0: off
    amp: bool = False  # bf16 autocast on CUDA, and on CPUs with native bf16 (AMX / avx512_bf16)
    channels_last: bool = False  # NHWC convolutions: with amp on a CPU, ~3x faster steps (oneDNN + AMX)
    fast_encoder: bool = False  # the encoder's train-mode forward through training.speed.fast_encoder (same maths)
    # -- heads and losses (sections 3-4) --
    objective: str = "slicer"  # "slicer": InfoNCE vs a queue (+ cluster loss); "byol": BYOL-A's predictor + MSE
    instance_dim: int = 128
    projector_hidden: int = 0  # 0: the instance head is one Linear (LAPE); >0: Linear-BN-ReLU-Linear (BYOL-A 4096)
    predictor_hidden: int = 4096  # objective "byol": the student's predictor MLP, instance_dim -> this -> instance_dim
    n_clusters: int = 128
    queue_size: int = 65536
    temperature: float = 0.07
    symmetric: str = "sum"  # how the two instance directions combine: "sum" (LAPE) | "mean" (research code)
    cluster_temperature: float = 1.0
    cluster_entropy: bool = False  # add Contrastive Clustering's entropy term (off in the reference)
    cluster_weight: float = 1.0
    ema_momentum: float = 0.999
    ema_in_forward: bool = True  # reference: one EMA update inside each direction (2 per step, before the step)
    enqueue_per_direction: bool = True  # reference: direction 2 already sees direction 1's keys as negatives
    # -- augmentations (section 5), applied in this order; any subset of mixup, rrc, kmix --
    augmentations: str = "mixup,rrc,kmix"
    memory_size: int = 2048  # entries in each memory bank (mixup and k-mix)
    mixup_ratio: float = 0.4
    rrc_virtual_scale: tuple[float, float] = (1.0, 1.5)  # canvas (freq, time) as a multiple of the input
    rrc_freq_scale: tuple[float, float] = (0.6, 1.5)
    rrc_time_scale: tuple[float, float] = (0.6, 1.5)
    rrc_freq_views: int = 2  # views whose RRC stretches frequency (2: both, as BYOL-A; 1: view 1 only; 0: none)
    kmix_ratio: float = 0.4
    kmix_clusters: int = 4
    kmix_iters: int = 20
    kmix_fraction: float = 0.05  # share of the training files clustered for the k-mix centroids
    kmix_top_k: int = 128  # warm-up threshold and candidate cap
    kmix_features: str = "raw"  # centroids on "raw" (reference) or "normalized" log-mel time-means
    # -- run bookkeeping --
    log_every: int = 10
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    keep_steps: str = ""  # comma list of steps that are also checkpointed and never pruned (learning curves)
    progress: bool = True
    stall_after_step: int = 0  # testing hook: sleep forever after this step's checkpoint (kill -9 tests)

    def validate(self) -> "PretrainConfig":
        checks = [
            (self.crop_samples > 1024, "crop_samples", "must exceed the STFT size (1024)"),
            (self.batch_size >= 2, "batch_size", "must be >= 2"),
            (self.optimizer in ("sgd", "adamw"), "optimizer", "must be 'sgd' or 'adamw'"),
            (self.lr_schedule in ("constant", "cosine"), "lr_schedule", "must be 'constant' or 'cosine'"),
            (self.symmetric in ("sum", "mean"), "symmetric", "must be 'sum' or 'mean'"),
            (self.objective in ("slicer", "byol"), "objective", "must be 'slicer' or 'byol'"),
            (self.objective != "byol" or not self.ema_in_forward, "objective",
             "'byol' updates the teacher once per step: set --ema-in-forward false"),
            (self.projector_hidden >= 0 and self.predictor_hidden >= 1, "projector_hidden",
             "must be >= 0 (and predictor_hidden >= 1)"),
            (self.kmix_features in ("raw", "normalized"), "kmix_features", "must be 'raw' or 'normalized'"),
            (self.queue_size >= 1, "queue_size", "must be >= 1"),
            (0.0 <= self.ema_momentum <= 1.0, "ema_momentum", "must be in [0, 1]"),
            (self.temperature > 0 and self.cluster_temperature > 0, "temperature", "must be > 0"),
            (self.memory_size >= 1, "memory_size", "must be >= 1"),
            (self.rrc_freq_views in (0, 1, 2), "rrc_freq_views", "must be 0, 1 or 2"),
            (0.0 < self.kmix_fraction <= 1.0, "kmix_fraction", "must be in (0, 1]"),
            (self.checkpoint_every >= 1 and self.log_every >= 1, "checkpoint_every", "must be >= 1"),
        ]
        for ok, name, why in checks:
            if not ok:
                raise ValueError(f"config {name} = {getattr(self, name)!r} {why}")
        try:
            self.keep_step_set
        except ValueError:
            raise ValueError(f"config keep_steps = {self.keep_steps!r}: expected a comma list of positive "
                             f"integers") from None
        from ..infra.domains import parse_domain_weights  # one parser for the config check and the sampler

        try:
            parse_domain_weights(self.domain_weights)
        except ValueError as e:
            raise ValueError(f"config domain_weights: {e}") from None
        unknown = set(self.augmentation_list) - {"mixup", "rrc", "kmix"}
        if unknown:
            raise ValueError(f"config augmentations = {self.augmentations!r}: unknown {sorted(unknown)}; "
                             f"use a comma list of mixup, rrc, kmix")
        return self

    @property
    def augmentation_list(self) -> list[str]:
        return [a.strip() for a in self.augmentations.split(",") if a.strip()]

    @property
    def keep_step_set(self) -> frozenset[int]:
        steps = frozenset(int(s) for s in self.keep_steps.split(",") if s.strip())
        if any(s <= 0 for s in steps):
            raise ValueError("keep_steps must be positive")
        return steps

    def replace(self, **changes: Any) -> "PretrainConfig":
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PretrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"training config has unknown keys {unknown}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**values).validate()


REFERENCE = PretrainConfig()

# Recommended recipe: the reference with its artefacts removed (docs/reproduction.md has the reasons).
DEFAULT = REFERENCE.replace(
    ema_in_forward=False,  # one EMA update per optimiser step, after it (MoCo v3 / DINO)
    enqueue_per_direction=False,  # both directions see the same negatives; enqueue 2B keys afterwards
    kmix_features="normalized",  # centroids in the same (normalised) space as the mixed views
    amp=True,  # bf16 autocast on CUDA and on bf16-capable CPUs (frontend, augmentations, losses in fp32)
    channels_last=True,
    fast_encoder=True,  # block 1 as one fused CPU kernel, dropout from torch.rand (docs/performance.md)
)

SMOKE = REFERENCE.replace(
    batch_size=8, epochs=1000, max_steps=30, optimizer="adamw", lr=1e-3, weight_decay=0.0,
    queue_size=64, memory_size=32, kmix_top_k=8, kmix_fraction=0.5, kmix_iters=5, norm_clips=16,
    num_workers=0, log_every=1, checkpoint_every=10, keep_checkpoints=2,
    ema_in_forward=False, enqueue_per_direction=False, ema_momentum=0.99,
)

# The recipe of the shipped default model (docs/results.md): full SLICER (`default`: instance + cluster
# loss, mixup + RRC + k-mix) on a CPU budget: AdamW and a cosine schedule over 30 passes (they move in a
# few hundred steps where SGD 3e-4 barely does), a queue and EMA sized for batch 64. At 10 passes the
# cluster loss is level with the instance loss alone (valid means over two training seeds each: 78.6
# against 78.4); at 300 steps it had not paid. About an hour for 30 passes on 2 cores.
CPU = DEFAULT.replace(
    batch_size=64, epochs=30, max_steps=0, optimizer="adamw", lr=1e-3, weight_decay=1e-4, lr_schedule="cosine",
    warmup_steps=50, queue_size=8192, ema_momentum=0.99, cluster_weight=1.0, num_workers=1,
    checkpoint_every=500, keep_checkpoints=3, log_every=10,
)

# BYOL-A's recipe (Niizumi et al. 2021) on the same CPU budget, for the comparison in docs/results.md:
# its projector (2048 -> 4096 -> 256) and predictor, BYOL's normalised MSE against the EMA teacher of the
# other view (no queue, no cluster loss), mixup + RRC (no k-mix); optimiser, schedule, batch, EMA as ``cpu``.
CPU_BYOL = CPU.replace(objective="byol", instance_dim=256, projector_hidden=4096, predictor_hidden=4096,
                       augmentations="mixup,rrc", cluster_weight=0.0)

PRESETS: dict[str, PretrainConfig] = {"reference": REFERENCE, "default": DEFAULT, "smoke": SMOKE, "cpu": CPU,
                                      "cpu-byol": CPU_BYOL}


# -- dataclass -> argparse bridge ---------------------------------------------------------------

def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _parse_pair(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two comma-separated numbers, got {text!r}")
    return float(parts[0]), float(parts[1])


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--field-name`` flag per ``PretrainConfig`` field; default None means 'keep the preset'."""
    group = parser.add_argument_group("recipe overrides (default: the preset's value)")
    for f in dataclasses.fields(PretrainConfig):
        default = f.default
        if isinstance(default, bool):
            kind: Any = _parse_bool
        elif isinstance(default, tuple):
            kind = _parse_pair
        else:
            kind = type(default)
        flag = "--" + f.name.replace("_", "-")
        group.add_argument(flag, dest=f"cfg_{f.name}", type=kind, default=None, metavar=type(default).__name__.upper(),
                           help=f"(reference: {default!r})" if not isinstance(default, str) else f"(reference: {default})")


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--field`` values the user actually gave."""
    out = {}
    for f in dataclasses.fields(PretrainConfig):
        value = getattr(args, f"cfg_{f.name}", None)
        if value is not None:
            out[f.name] = value
    return out


def config_from_args(preset: str, args: argparse.Namespace) -> PretrainConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset].replace(**overrides_from_args(args))
