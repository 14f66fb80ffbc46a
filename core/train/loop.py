"""The training loop: class-balanced BCE on the methylation logit plus Dice + cross-entropy on the tumour
segmentation (when label maps are given), sequence dropout, augmentation, cosine schedule, early stopping on
validation AUC."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from monai.losses import DiceCELoss
from torch import nn
from tqdm import tqdm

from core.metrics import auc
from core.model.network import MGMTNet
from core.preprocess.settings import Preprocessing
from core.train.augment import segmentation_augmentations, sequence_dropout
from core.train.masks import label_channels

IGNORED = 255
"""Label-map value of a case without a mask: the segmentation loss skips it."""


@dataclass(frozen=True)
class TrainSettings:
    """Hyperparameters of one training run (recorded in the model's config.json)."""

    epochs: int = 20
    batch_size: int = 4
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.3
    widen_factor: float = 0.5
    architecture: str = "tumour-unet"
    patience: int = 5
    seed: int = 0
    augment: bool = True
    sequence_dropout: float = 0.5
    segmentation_weight: float = 1.0

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


def predict_logits(model: MGMTNet, images: np.ndarray, available: np.ndarray | None = None,
                   batch_size: int = 4) -> np.ndarray:
    """Uncalibrated logits (dropout off) for a stack of inputs; ``available`` (N, 4) blanks missing sequences."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.asarray(images[start:start + batch_size], np.float32)).to(device)
            present = None if available is None else torch.from_numpy(
                np.asarray(available[start:start + batch_size], np.float32)).to(device)
            out.append(model(batch, present).squeeze(1).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def predict_probabilities(model: MGMTNet, images: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Uncalibrated probabilities (dropout off) for a stack of inputs."""
    return 1.0 / (1.0 + np.exp(-predict_logits(model, images, batch_size=batch_size)))


def build_model(settings: TrainSettings, preprocessing: Preprocessing) -> MGMTNet:
    return MGMTNet(architecture=settings.architecture, widen_factor=settings.widen_factor,
                   dropout=settings.dropout, preprocessing=preprocessing,
                   labels=["unmethylated", "methylated"], training=settings.to_json())


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
    segmentations: np.ndarray | None = None,
) -> TrainResult:
    """Train from scratch; with ``validation``, keep the epoch of best AUC and stop after ``patience`` without gain.

    ``segmentations`` (N, D, H, W) BraTS label maps on the model grid (255: no mask) add the segmentation loss;
    without them only the methylation logit is trained. ``on_epoch(epoch, val_auc)`` may return True to stop
    early (Optuna pruning uses it).
    """
    seed_everything(settings.seed)
    device = device_for_training()
    model = build_model(settings, preprocessing).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    epochs = epochs or settings.epochs
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, epochs))
    positives = max(1, int(labels.sum()))
    bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([(len(labels) - positives) / positives], device=device))
    dice_ce = DiceCELoss(to_onehot_y=True, softmax=True, squared_pred=False, smooth_nr=1e-5, smooth_dr=1e-5)
    augment = segmentation_augmentations()
    augment.set_random_state(seed=settings.seed)
    rng = np.random.default_rng(settings.seed)
    result = TrainResult(model=model, best_epoch=0, best_auc=None)
    best_state, stale = None, 0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        order = rng.permutation(len(images))
        losses, seg_losses = _train_one_epoch(model, optimiser, (images, labels, segmentations), order, settings,
                                              (augment, rng), (bce, dice_ce), f"epoch {epoch}/{epochs}", progress)
        schedule.step()
        record = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - started}
        if seg_losses:
            record["segmentation_loss"] = float(np.mean(seg_losses))
        if validation is not None:
            record["val_auc"] = auc(validation[1], predict_logits(model, validation[0]))
        result.history.append(record)
        shown = f", val AUC {record['val_auc']:.3f}" if "val_auc" in record else ""
        shown += f", segmentation loss {record['segmentation_loss']:.3f}" if seg_losses else ""
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


def _train_one_epoch(model: nn.Module, optimiser: torch.optim.Optimizer,
                     data: tuple[np.ndarray, np.ndarray, np.ndarray | None], order: np.ndarray,
                     settings: TrainSettings, randomness: tuple[Any, np.random.Generator],
                     criteria: tuple[nn.Module, nn.Module], desc: str, progress: bool
                     ) -> tuple[list[float], list[float]]:
    """One pass over the cases in ``order`` (augmented, with sequence dropout): the loss and segmentation loss of
    each batch."""
    images, labels, segmentations = data
    augment, rng = randomness
    bce, dice_ce = criteria
    device = next(model.parameters()).device
    channels = images.shape[1]
    losses, seg_losses = [], []
    batches = range(0, len(order), settings.batch_size)
    for start in tqdm(batches, desc=desc, unit="batch", leave=False, disable=not progress):
        index = order[start:start + settings.batch_size]
        if len(index) < 2:
            continue  # batch norm needs two cases
        xs, segs = [], []
        for i in index:
            item = {"image": np.asarray(images[i], np.float32)}
            if segmentations is not None:
                item["label"] = segmentations[i][None]
            if settings.augment:
                item = augment(item)
            xs.append(np.asarray(item["image"], np.float32))
            if segmentations is not None:
                segs.append(np.asarray(item["label"])[0])
        available = np.stack([sequence_dropout(rng, channels, settings.sequence_dropout) for _ in index])
        x = torch.from_numpy(np.stack(xs)).to(device)
        present = torch.from_numpy(available).to(device)
        y = torch.from_numpy(labels[index].astype(np.float32)).to(device)
        optimiser.zero_grad(set_to_none=True)
        logits, seg_logits = model.outputs(x, present)
        loss = bce(logits.squeeze(1), y)
        if segmentations is not None:
            seg = np.rint(np.stack(segs)).astype(np.uint8)
            has_mask = ~(seg == IGNORED).any(axis=(1, 2, 3))
            if has_mask.any():
                target = torch.from_numpy(label_channels(seg[has_mask])[:, None]).to(device)
                seg_loss = dice_ce(seg_logits[torch.from_numpy(has_mask).to(device)], target)
                loss = loss + settings.segmentation_weight * seg_loss
                seg_losses.append(float(seg_loss.detach()))
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses, seg_losses
