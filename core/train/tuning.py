"""Bayesian hyperparameter search with Optuna (TPE), pruning poor trials by their validation AUC per epoch.

Each trial trains on a stratified 80% of the cases and is judged on the other 20% (the same split for every
trial). The study lives in an SQLite file, so a search can be stopped and resumed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import optuna

from core.preprocess.settings import Preprocessing
from core.train.crossval import inner_split
from core.train.loop import TrainSettings, train_model

SEARCH_SPACE = {
    "learning_rate": (1e-4, 3e-3),
    "weight_decay": (1e-6, 1e-2),
    "dropout": (0.0, 0.6),
    "widen_factor": (0.25, 0.5, 0.75),
    "architecture": ("tumour-unet",),
    "batch_size": (2, 4, 8),
}
"""Learning rate and weight decay on a log scale; network width and depth and batch size as choices."""


def suggest(trial: optuna.Trial, base: TrainSettings) -> TrainSettings:
    """The trial's hyperparameters on top of ``base``."""
    return replace(
        base,
        learning_rate=trial.suggest_float("learning_rate", *SEARCH_SPACE["learning_rate"], log=True),
        weight_decay=trial.suggest_float("weight_decay", *SEARCH_SPACE["weight_decay"], log=True),
        dropout=trial.suggest_float("dropout", *SEARCH_SPACE["dropout"]),
        widen_factor=trial.suggest_categorical("widen_factor", SEARCH_SPACE["widen_factor"]),
        architecture=trial.suggest_categorical("architecture", SEARCH_SPACE["architecture"]),
        batch_size=trial.suggest_categorical("batch_size", SEARCH_SPACE["batch_size"]),
    )


def tune(
    images: np.ndarray,
    labels: np.ndarray,
    trials: int,
    storage: str,
    study_name: str,
    base: TrainSettings,
    preprocessing: Preprocessing,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> optuna.Study:
    """Run ``trials`` more trials of the (possibly resumed) study; return it."""
    fit, watch = inner_split(labels, base.seed)
    study = optuna.create_study(
        study_name=study_name, storage=storage, load_if_exists=True, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=base.seed + len(_finished(storage, study_name))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )

    def objective(trial: optuna.Trial) -> float:
        settings = suggest(trial, base)

        def report(epoch: int, value: float) -> bool:
            trial.report(value, epoch)
            return trial.should_prune()

        result = train_model(images[fit], labels[fit], settings, preprocessing, validation=(images[watch],
                             labels[watch]), log=lambda line: log(f"trial {trial.number}: {line}"),
                             progress=progress, on_epoch=report)
        if trial.should_prune():
            raise optuna.TrialPruned()
        return float(result.best_auc or 0.0)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=trials)
    return study


def _finished(storage: str, study_name: str) -> list:
    """Trials already in storage (so a resumed search does not replay the same TPE draws)."""
    try:
        return optuna.load_study(study_name=study_name, storage=storage).trials
    except KeyError:
        return []
