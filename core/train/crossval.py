"""Stratified k-fold cross-validation: out-of-fold logits for every case from K fold models, which are what is
served (ensembled, as nnU-Net ships its fold models), so the calibration map and the decision rule fitted on those
out-of-fold logits are fitted on the served models' own out-of-sample outputs.

Inside each fold, early stopping watches an inner validation split of the training cases, never the held-out
fold, so the out-of-fold AUC is not tuned on the cases it is measured on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from core.metrics import Metrics, evaluate_predictions
from core.preprocess.settings import Preprocessing
from core.train.calibration import apply_calibration, fit_platt
from core.train.loop import TrainResult, TrainSettings, predict_logits, train_model


@dataclass
class CrossValidation:
    """Out-of-fold probabilities (uncalibrated) and logits, the fold of each case, per-fold and pooled metrics,
    the calibration map fitted on the logits, and the K fold models (fold k's model never saw fold k)."""

    oof: np.ndarray
    oof_logits: np.ndarray
    calibration: dict[str, Any]
    folds: np.ndarray
    fold_metrics: list[dict[str, Any]]
    metrics: Metrics
    members: list[TrainResult]
    final_epochs: int
    histories: list[list[dict[str, float]]] = field(default_factory=list)


def inner_split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of an 80/20 stratified split (plain when a class is too small to stratify)."""
    index = np.arange(len(labels))
    size = max(2, round(0.2 * len(labels)))  # at least one case of each class to watch
    stratify = labels if np.min(np.bincount(labels, minlength=2)) >= 2 else None
    return train_test_split(index, test_size=size, random_state=seed, stratify=stratify)


def cross_validate(
    images: np.ndarray,
    labels: np.ndarray,
    folds: int,
    settings: TrainSettings,
    preprocessing: Preprocessing,
    log: Callable[[str], None] = print,
    progress: bool = True,
    segmentations: np.ndarray | None = None,
    early_stopping: bool = True,
) -> CrossValidation:
    """K-fold out-of-fold logits and the K fold models. Without ``early_stopping`` every fold trains on all its
    training cases for ``settings.epochs`` epochs."""
    if np.min(np.bincount(labels, minlength=2)) < folds:
        raise ValueError(f"{folds} folds need at least {folds} cases of each class; got {np.bincount(labels)}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=settings.seed)
    oof = np.full(len(labels), np.nan)
    seg = (lambda index: None) if segmentations is None else (lambda index: segmentations[index])
    fold_of = np.full(len(labels), -1)
    fold_metrics, histories, best_epochs, members = [], [], [], []
    for fold, (train_index, test_index) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        log(f"fold {fold + 1}/{folds}: {len(train_index)} training cases, {len(test_index)} held out")
        if early_stopping:
            fit, watch = inner_split(labels[train_index], settings.seed + fold)
            fit, watch = train_index[fit], train_index[watch]
            validation = (images[watch], labels[watch])
        else:
            fit, validation = train_index, None
        result = train_model(images[fit], labels[fit], replace(settings, seed=settings.seed + fold), preprocessing,
                             validation=validation, log=log, progress=progress, segmentations=seg(fit))
        oof[test_index] = predict_logits(result.model, images[test_index])
        fold_of[test_index] = fold
        fold_auc = evaluate_predictions(labels[test_index], oof[test_index], rounds=200)
        fold_metrics.append({"fold": fold, "n": len(test_index), "auc": fold_auc.auc, "best_epoch": result.best_epoch})
        histories.append(result.history)
        best_epochs.append(result.best_epoch)
        members.append(result)
        log(f"fold {fold + 1}/{folds}: held-out AUC {fold_auc.auc:.3f} (best epoch {result.best_epoch})")
    final_epochs = max(1, int(np.median(best_epochs))) if early_stopping else settings.epochs
    calibration = fit_platt(oof, labels)
    probabilities = apply_calibration(oof, {"slope": 1.0, "intercept": 0.0})
    return CrossValidation(probabilities, oof, calibration, fold_of, fold_metrics,
                           evaluate_predictions(labels, probabilities), members, final_epochs, histories)
