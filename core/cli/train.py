"""``python -m core train DATA_DIR --labels CSV --out DIR``: cross-validate, then train and save the model."""

from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.cli import COMMANDS
from core.errors import InputError
from core.model.card import write_trained_card
from core.model.config import Preprocessing
from core.model.network import MGMTNet
from core.train.crossval import cross_validate
from core.train.dataset import TensorCache, find_cases, load_cohort, read_labels
from core.train.loop import TrainSettings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help=COMMANDS["train"],
        description="Train on an RSNA-layout folder with its labels CSV: stratified k-fold out-of-fold "
                    "predictions, then a final model on all cases.")
    add_data_options(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="model folder to write")
    parser.add_argument("--folds", type=int, default=5, metavar="K")
    parser.add_argument("--params", type=Path, metavar="JSON", help="hyperparameters found by `tune` (best.json)")
    defaults = TrainSettings()
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--widen", type=float, default=defaults.widen_factor, help="ResNet width factor")
    parser.add_argument("--architecture", default=defaults.architecture)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--no-augment", action="store_true")
    parser.set_defaults(run=run)


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Options ``train`` and ``tune`` share: the data, the grid, the cache, the seed."""
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    parser.add_argument("--labels", type=Path, required=True, metavar="CSV", help="BraTS21ID,MGMT_value file")
    parser.add_argument("--cache", type=Path, default=Path("data/cache"), metavar="DIR",
                        help="preprocessed tensors (keyed by preprocessing and case content)")
    parser.add_argument("--epochs", type=int, default=TrainSettings().epochs)
    parser.add_argument("--seed", type=int, default=TrainSettings().seed)
    parser.add_argument("--input-shape", type=int, default=Preprocessing().input_shape[0], metavar="N",
                        help="cubic input size in voxels")
    parser.add_argument("--spacing", type=float, default=Preprocessing().spacing_mm[0], metavar="MM")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def load_training_data(args: argparse.Namespace) -> tuple[Preprocessing, np.ndarray, np.ndarray, list, list[str]]:
    """Preprocessing config, inputs, labels, kept cases and skipped-case notes for ``train`` and ``tune``."""
    preprocessing = Preprocessing(input_shape=(args.input_shape,) * 3, spacing_mm=(args.spacing,) * 3)
    cases, skipped = find_cases(args.data_dir, read_labels(args.labels))
    cache = TensorCache(args.cache, preprocessing)
    with tqdm(total=len(cases), desc="preprocess", unit="case", disable=args.quiet) as bar:
        images, labels, kept, failed = load_cohort(cases, cache, progress=lambda _: bar.update())
    for line in skipped + failed:
        print(f"skipped {line}")
    return preprocessing, images, labels, kept, skipped + failed


def settings_from(args: argparse.Namespace) -> tuple[TrainSettings, dict | None]:
    """Hyperparameters from the options, overridden by a ``tune`` result when ``--params`` is given."""
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                             weight_decay=args.weight_decay, dropout=args.dropout, widen_factor=args.widen,
                             architecture=args.architecture, patience=args.patience, seed=args.seed,
                             augment=not args.no_augment)
    if not args.params:
        return settings, None
    try:
        tuned = json.loads(args.params.read_text())
        return replace(settings, **tuned["params"]), tuned
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"Hyperparameter file '{args.params}' is not a `tune` result ({err}); expected the "
                         "best.json that `python -m core tune` writes.") from err


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    settings, tuned = settings_from(args)
    preprocessing, images, labels, kept, skipped = load_training_data(args)
    if min(labels.sum(), len(labels) - labels.sum()) < args.folds:
        raise InputError(f"{args.folds}-fold cross-validation needs {args.folds} cases of each class; the labels give "
                         f"{int(labels.sum())} methylated and {int(len(labels) - labels.sum())} unmethylated.")
    result = cross_validate(images, labels, args.folds, settings, preprocessing, progress=not args.quiet)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = result.metrics.to_json()
    model = MGMTNet(architecture=settings.architecture, widen_factor=settings.widen_factor, dropout=settings.dropout,
                    preprocessing=preprocessing, labels=["unmethylated", "methylated"],
                    training={**settings.to_json(), "tuning": tuned},
                    metrics={"cv_folds": args.folds, **metrics})  # config.json records the metrics too
    model.load_state_dict(result.final.model.cpu().state_dict())
    truth = args.data_dir / "truth.csv"
    ceiling = _ceiling(truth)
    write_trained_card(args.out, metrics=metrics, settings=settings.to_json(), preprocessing=preprocessing,
                       folds=args.folds, final_epochs=result.final_epochs, synthetic=ceiling is not None,
                       ceiling=ceiling)
    model.save_pretrained(args.out)
    from core.train.ood_reference import OOD_CASES, fit_ood_reference  # the OOD gate's reference (ood.json)

    fit_ood_reference(args.out, [case.folder for case in kept][:OOD_CASES])
    with open(args.out / "oof.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["BraTS21ID", "MGMT_value", "fold", "probability"])
        for case, label, fold, probability in zip(kept, labels, result.folds, result.oof, strict=True):
            writer.writerow([int(case.case_id), int(label), int(fold), f"{probability:.6f}"])
    (args.out / "metrics.json").write_text(json.dumps({
        "oof": metrics, "folds": result.fold_metrics, "final_epochs": result.final_epochs,
        "settings": settings.to_json(), "tuning": tuned, "skipped": skipped, "histories": result.histories,
        "best_achievable_auc": ceiling, "seconds": round(time.perf_counter() - started, 1)}, indent=2))
    low, high = metrics["auc_ci95"]
    print(f"out-of-fold AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f}) over {metrics['n']} cases"
          + (f"; best achievable {ceiling:.3f}" if ceiling else "") + f"; wrote {args.out} in "
          f"{time.perf_counter() - started:.0f} s")
    return 0


def _ceiling(truth: Path) -> float | None:
    """The synthetic cohort's best achievable AUC, when DATA_DIR has a truth.csv."""
    if not truth.exists():
        return None
    with open(truth, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[0]["best_achievable_auc"]) if rows and "best_achievable_auc" in rows[0] else None
