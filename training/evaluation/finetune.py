"""Basic fine-tuning (``--finetune``): encoder + linear head trained end to end on fixed crops.

Deliberately simple, and documented as such: the same deterministic centre crops as the linear
protocol (no augmentation, no mixup, no SpecAugment, no lr schedule), Adam with a smaller learning
rate for the encoder than for the head, epoch chosen on ``valid``, test scored once with the best
weights. Each seed starts from a fresh copy of the frozen model; the caller's model is never changed.
Only SLICER models can be fine-tuned (the ``logmel`` baseline has no weights).
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from slicer_embed.audio import load_audio
from slicer_embed.encoder import pool_frames

from .embedders import ModelEmbedder, fixed_crop
from .manifest import Row, Task, TaskError, check_classes, ensure_valid
from .probe import accuracy
from .protocol import summary


@dataclass(frozen=True)
class FinetuneConfig:
    lr_encoder: float = 1e-4
    lr_head: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 20


def load_crops(task: Task, n: int, sample_rate: int) -> tuple[np.ndarray, list[int], dict[int, str]]:
    """All rows' centre crops (M, n) float32, the row indices they belong to, and per-row errors."""
    waves, keep, errors = [], [], {}
    for i, r in enumerate(task.rows):
        try:
            waves.append(fixed_crop(load_audio(task.path(r), sample_rate), n))
            keep.append(i)
        except Exception as e:  # missing or undecodable: reported and skipped, like the linear protocol
            errors[i] = str(e)
    return (np.stack(waves) if waves else np.zeros((0, n), np.float32)), keep, errors


class _Classifier(nn.Module):
    def __init__(self, model: nn.Module, n_classes: int, pooling: str):
        super().__init__()
        self.model, self.pooling = model, pooling
        self.head = nn.Linear(model.embedding_dim, n_classes)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(pool_frames(self.model(wave), self.pooling, dim=1))


@torch.no_grad()
def _predict(net: _Classifier, X: torch.Tensor, batch: int, device: Any) -> np.ndarray:
    net.eval()
    return torch.cat([net(X[i:i + batch].to(device)).argmax(1).cpu() for i in range(0, len(X), batch)]).numpy()


def finetune_once(embedder: ModelEmbedder, X: torch.Tensor, y: torch.Tensor, split: np.ndarray, n_classes: int,
                  cfg: FinetuneConfig, seed: int, progress: bool) -> tuple[_Classifier, int, list[float]]:
    """Train one seed on train rows, select the epoch on valid rows; returns (best net, best epoch, valid accs)."""
    device = embedder.device
    tr, va = np.flatnonzero(split == "train"), np.flatnonzero(split == "valid")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # head init and dropout
        net = _Classifier(copy.deepcopy(embedder.model), n_classes, embedder.pooling).to(device)
        opt = torch.optim.Adam([{"params": net.model.parameters(), "lr": cfg.lr_encoder},
                                {"params": net.head.parameters(), "lr": cfg.lr_head}])
        gen = torch.Generator().manual_seed(seed)
        best, best_epoch, accs = -1.0, 0, []
        best_state = None
        for epoch in tqdm(range(1, cfg.max_epochs + 1), desc=f"finetune seed {seed}", file=sys.stderr,
                          disable=not progress, leave=False):
            net.train()
            for idx in torch.from_numpy(tr)[torch.randperm(len(tr), generator=gen)].split(cfg.batch_size):
                opt.zero_grad()
                loss = nn.functional.cross_entropy(net(X[idx].to(device)), y[idx].to(device))
                loss.backward()
                opt.step()
            acc = accuracy(_predict(net, X[va], cfg.batch_size, device), y[va].numpy())
            accs.append(acc)
            if acc > best:  # earliest best epoch wins ties
                best, best_epoch = acc, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return net.eval(), best_epoch, accs


def run_finetune_task(embedder: Any, task: Task, crop: float, cfg: FinetuneConfig, seeds: list[int],
                      valid_fraction: float, split_seed: int, progress: bool = True) -> dict[str, Any]:
    """Fine-tune and score one task; same result layout as ``protocol.run_task``."""
    if not isinstance(embedder, ModelEmbedder):
        raise TaskError(f"task {task.name}: --finetune needs a SLICER model (got {embedder.name!r})")
    waves, keep, errors = load_crops(task, int(round(crop * embedder.sample_rate)), embedder.sample_rate)
    skipped = [{"file": task.rows[i].file_name, "split": task.rows[i].split, "error": m} for i, m in errors.items()]
    for s in skipped:
        print(f"slicer-embed eval: {task.name}: skipped {s['file']} ({s['split']}): {s['error']}", file=sys.stderr)
    rows: list[Row] = [task.rows[i] for i in keep]
    rows, carve = ensure_valid(task.name, rows, valid_fraction, split_seed)
    classes = check_classes(task.name, rows)
    index = {c: k for k, c in enumerate(classes)}
    y = torch.tensor([index[r.label] for r in rows])
    split = np.array([r.split for r in rows])
    X = torch.from_numpy(waves)
    tests = sorted({s for s in split if s.startswith("test")})
    per_seed: dict[str, list[float]] = {t: [] for t in tests}
    best_epochs, valid_accs = [], []
    for seed in seeds:
        net, best_epoch, accs = finetune_once(embedder, X, y, split, len(classes), cfg, seed, progress)
        best_epochs.append(best_epoch)
        valid_accs.append(accs[best_epoch - 1])
        for t in tests:  # the only place test rows are touched
            m = np.flatnonzero(split == t)
            per_seed[t].append(accuracy(_predict(net, X[m], cfg.batch_size, embedder.device), y[m].numpy()))
    return {"task": task.name, "source": str(task.root), "crop_seconds": crop, "classes": classes,
            "n": {s: int((split == s).sum()) for s in sorted(set(split))}, "n_skipped": len(skipped),
            "skipped": skipped, "valid_carve": carve, "accuracy": {t: summary(v) for t, v in per_seed.items()},
            "valid_accuracy": summary(valid_accs), "best_epochs": best_epochs, "seeds": list(seeds),
            "task_info": dict(task.info), "finetune": True}
