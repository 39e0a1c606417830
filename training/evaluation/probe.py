"""The linear probe: one ``nn.Linear`` on frozen clip embeddings, selected on the validation split.

``fit_probe`` sees only train and valid arrays; it cannot see test data by construction. Each epoch
it trains on shuffled train mini-batches (Adam, cross-entropy) and scores valid; the weights of
the best validation epoch (accuracy, ties broken by lower valid loss, then the earlier epoch) are
returned. With ``patience`` it stops after that many epochs without a new best (EVAR's early stop).
Deterministic for a seed: init and shuffling draw from generators seeded with it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm


@dataclass(frozen=True)
class ProbeConfig:
    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 100
    weight_decay: float = 0.0
    standardize: bool = False  # z-score features with train statistics (EVAR / BYOL-A)
    patience: int | None = None  # early stop after this many epochs without a better valid score


@dataclass
class ProbeResult:
    """Best-on-valid linear classifier: logits = ((x - mean) / std) @ weight.T + bias."""

    weight: torch.Tensor  # (C, D)
    bias: torch.Tensor  # (C,)
    mean: torch.Tensor  # (D,) zeros unless standardize
    std: torch.Tensor  # (D,) ones unless standardize
    best_epoch: int  # 1-based
    valid_acc: list[float] = field(default_factory=list)  # per epoch
    train_loss: list[float] = field(default_factory=list)  # per epoch

    def logits(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(X, dtype=torch.float32)
        return ((x - self.mean) / self.std) @ self.weight.T + self.bias

    def predict(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        return self.logits(X).argmax(1).numpy()


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(pred) == np.asarray(y)).mean()) if len(y) else float("nan")


def fit_probe(X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
              n_classes: int, cfg: ProbeConfig, seed: int, progress: bool = False) -> ProbeResult:
    """Train a linear classifier on (N, D) float32 features with int labels in [0, n_classes)."""
    if len(X_train) == 0 or len(X_valid) == 0:
        raise ValueError(f"probe needs train and valid rows, got {len(X_train)} and {len(X_valid)}")
    xtr = torch.as_tensor(X_train, dtype=torch.float32)
    ytr = torch.as_tensor(y_train, dtype=torch.long)
    xva = torch.as_tensor(X_valid, dtype=torch.float32)
    yva = torch.as_tensor(y_valid, dtype=torch.long)
    D = xtr.shape[1]
    if cfg.standardize:
        mean, std = xtr.mean(0), xtr.std(0, unbiased=False).clamp_min(1e-6)
    else:
        mean, std = torch.zeros(D), torch.ones(D)
    xtr, xva = (xtr - mean) / std, (xva - mean) / std

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # nn.Linear's init draws from the global generator
        head = nn.Linear(D, n_classes)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best_key, best_state, best_epoch = None, None, 0
    result = ProbeResult(torch.empty(0), torch.empty(0), mean, std, 0)
    bar = tqdm(total=cfg.max_epochs, desc=f"probe seed {seed}", unit="epoch", file=sys.stderr,
               disable=not progress, leave=False)
    for epoch in range(1, cfg.max_epochs + 1):
        bar.update(1)
        head.train()
        total = 0.0
        for idx in torch.randperm(len(xtr), generator=gen).split(cfg.batch_size):
            opt.zero_grad()
            loss = loss_fn(head(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        head.eval()
        with torch.no_grad():
            logits = head(xva)
            v_loss = float(loss_fn(logits, yva))
            v_acc = float((logits.argmax(1) == yva).float().mean())
        result.train_loss.append(total / len(xtr))
        result.valid_acc.append(v_acc)
        key = (v_acc, -v_loss)
        if best_key is None or key > best_key:  # strict: the earliest of equal epochs wins
            best_key, best_epoch = key, epoch
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        elif cfg.patience is not None and epoch - best_epoch >= cfg.patience:
            break
    bar.close()
    result.weight, result.bias, result.best_epoch = best_state["weight"], best_state["bias"], best_epoch
    return result
