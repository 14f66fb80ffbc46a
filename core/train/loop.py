"""The training loop: class-balanced loss, augmentation, cosine schedule, early stopping on validation AUC."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.metrics import auc
from core.model.config import Preprocessing
from core.model.network import MGMTNet
from core.preprocess import training_augmentations


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters of one training run (recorded in the model's config.json)."""

    epochs: int = 20
    batch_size: int = 4
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    widen_factor: float = 0.5
    architecture: str = "resnet10"
    patience: int = 5
    seed: int = 0
    augment: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """The best model (by validation AUC, or the last epoch without validation) and the per-epoch record."""

    model: MGMTNet
    best_epoch: int
    best_auc: float | None
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device_for_training() -> torch.device:
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        return torch.device("cuda")
    return torch.device("cpu")


def predict_probabilities(model: MGMTNet, images: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Probabilities (dropout off) for a stack of inputs."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.asarray(images[start:start + batch_size], np.float32)).to(device)
            out.append(torch.sigmoid(model(batch)).squeeze(1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_model(
    images: np.ndarray,
    labels: np.ndarray,
    settings: TrainSettings,
    preprocessing: Preprocessing,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: int | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    on_epoch: Callable[[int, float], bool] | None = None,
) -> TrainResult:
    """Train from scratch; with ``validation``, keep the epoch of best AUC and stop after ``patience`` without gain.

    ``on_epoch(epoch, val_auc)`` may return True to stop early (Optuna pruning uses it).
    """
    seed_everything(settings.seed)
    device = device_for_training()
    model = MGMTNet(architecture=settings.architecture, widen_factor=settings.widen_factor,
                    dropout=settings.dropout, preprocessing=preprocessing,
                    labels=["unmethylated", "methylated"], training=settings.to_json()).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    epochs = epochs or settings.epochs
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, epochs))
    positives = max(1, int(labels.sum()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([(len(labels) - positives) / positives], device=device))
    augment = training_augmentations(preprocessing)
    augment.set_random_state(seed=settings.seed)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    rng = np.random.default_rng(settings.seed)
    result = TrainResult(model=model, best_epoch=0, best_auc=None)
    best_state, stale = None, 0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        order = rng.permutation(len(images))
        losses = []
        batches = range(0, len(order), settings.batch_size)
        for start in tqdm(batches, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False, disable=not progress):
            index = order[start:start + settings.batch_size]
            batch = [np.asarray(images[i], np.float32) for i in index]
            if settings.augment:
                batch = [np.asarray(augment({"image": b})["image"], np.float32) for b in batch]
            x = torch.from_numpy(np.stack(batch)).to(device)
            y = torch.from_numpy(labels[index].astype(np.float32)).to(device)
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=device.type == "cuda"):
                loss = loss_fn(model(x).squeeze(1), y)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            losses.append(float(loss.detach()))
        schedule.step()
        record = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - started}
        if validation is not None:
            record["val_auc"] = auc(validation[1], predict_probabilities(model, validation[0]))
        result.history.append(record)
        shown = f", val AUC {record['val_auc']:.3f}" if "val_auc" in record else ""
        log(f"epoch {epoch}/{epochs}: loss {record['loss']:.4f}{shown}, {record['seconds']:.1f} s")
        if validation is None:
            result.best_epoch = epoch
            continue
        if result.best_auc is None or record["val_auc"] > result.best_auc:
            result.best_auc, result.best_epoch, stale = record["val_auc"], epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if stale >= settings.patience or (on_epoch and on_epoch(epoch, record["val_auc"])):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
