"""``python -m core train DATA_DIR --labels CSV --out DIR``: cross-validate, then train and save the model."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.cli import COMMANDS
from core.cohort import Cohort, discover, read_labels
from core.errors import InputError
from core.inference.decision import DEFAULT_TARGET_ERROR
from core.model.card import rewrite_trained_card, write_trained_card
from core.model.network import MGMTNet
from core.preprocess.settings import Preprocessing
from core.train.calibration import apply_calibration, cross_fitted, expected_calibration_error
from core.train.crossval import cross_validate
from core.train.dataset import TensorCache, load_cohort, load_segmentations
from core.train.loop import TrainSettings
from core.train.masks import mask_names


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help=COMMANDS["train"],
        description="Train on a cohort folder (RSNA-MICCAI train/<id>/, BraTS2021_<id>/ or BraTS-GLI-<id>-<tp>/ "
                    "case folders) with its labels CSV: stratified k-fold cross-validation whose "
                    "K fold models are saved together and ensembled when served; a Platt calibration map and a "
                    "conformal decision rule fitted on their out-of-fold predictions; the out-of-distribution "
                    "gate. With --masks, the tumour segmentation is trained too.")
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
    parser.add_argument("--masks", type=Path, metavar="DIR", help="BraTS-style label maps (<id>_seg.nii.gz, "
                        "BraTS2021_<id>_seg.nii.gz or BraTS-GLI-<id>-<tp>-seg.nii.gz, flat or in the case folders, so "
                        "DATA_DIR itself for a BraTS release): train the tumour segmentation too (default: "
                        "classification only)")
    parser.add_argument("--sequence-dropout", type=float, default=defaults.sequence_dropout, metavar="P",
                        help="share of training cases with one or two sequences blanked (the model is told which)")
    parser.add_argument("--segmentation-weight", type=float, default=defaults.segmentation_weight, metavar="W")
    parser.add_argument("--no-early-stopping", action="store_true", help="folds train on all their training cases "
                        "for --epochs epochs (no inner split), and so does the final model")
    parser.add_argument("--target-error", type=float, default=DEFAULT_TARGET_ERROR, metavar="E",
                        help="the decision rule's error per true class: a call is made only where conformal "
                             "prediction leaves one label at this error (default %(default)s)")
    parser.add_argument("--data-note", metavar="TEXT", help="a sentence for the card on where the data came from "
                        "(e.g. the synth command and seed)")
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


def load_training_data(
    args: argparse.Namespace,
) -> tuple[Preprocessing, np.ndarray, np.ndarray, list, list[str], Cohort]:
    """Preprocessing config, inputs, labels, kept cases, skipped-case notes and the cohort's join for ``train`` and
    ``tune``; the join's summary goes to stderr."""
    preprocessing = Preprocessing(input_shape=(args.input_shape,) * 3, spacing_mm=(args.spacing,) * 3)
    cohort = discover(args.data_dir, read_labels(args.labels))
    print(f"cohort: {cohort.summary()}", file=sys.stderr)
    cases, skipped = list(cohort.cases), cohort.notes()
    cache = TensorCache(args.cache, preprocessing)
    with tqdm(total=len(cases), desc="preprocess", unit="case", disable=args.quiet) as bar:
        images, labels, kept, failed = load_cohort(cases, cache, progress=lambda _: bar.update())
    for line in skipped + failed:
        print(f"skipped {line}")
    return preprocessing, images, labels, kept, skipped + failed, cohort


def settings_from(args: argparse.Namespace) -> tuple[TrainSettings, dict | None]:
    """Hyperparameters from the options, overridden by a ``tune`` result when ``--params`` is given."""
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                             weight_decay=args.weight_decay, dropout=args.dropout, widen_factor=args.widen,
                             architecture=args.architecture, patience=args.patience, seed=args.seed,
                             augment=not args.no_augment,
                             sequence_dropout=getattr(args, "sequence_dropout", TrainSettings().sequence_dropout),
                             segmentation_weight=getattr(args, "segmentation_weight",
                                                         TrainSettings().segmentation_weight))
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
    preprocessing, images, labels, kept, skipped, cohort = load_training_data(args)
    if min(labels.sum(), len(labels) - labels.sum()) < args.folds:
        raise InputError(f"{args.folds}-fold cross-validation needs {args.folds} cases of each class; the labels give "
                         f"{int(labels.sum())} methylated and {int(len(labels) - labels.sum())} unmethylated.")
    segmentations, segmentation_note = _segmentations(args, kept, preprocessing)
    print(segmentation_note)
    result = cross_validate(images, labels, args.folds, settings, preprocessing, progress=not args.quiet,
                            segmentations=segmentations, early_stopping=not args.no_early_stopping)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save({"members": [fold.model.state_dict() for fold in result.members], "oof_logits": result.oof_logits,
                "folds": result.folds, "labels": labels, "cases": [case.case_id for case in kept]},
               args.out / "crossval.pt")  # the fold models as trained, kept until the folder is complete
    metrics = result.metrics.to_json()
    calibrated = apply_calibration(result.oof_logits, result.calibration)
    crossfit = cross_fitted(result.oof_logits, labels, result.folds)
    calibration_figures = {
        "before": {"brier": metrics["brier"], "ece": expected_calibration_error(labels, result.oof)},
        "after_in_sample": {"brier": float(np.mean((calibrated - labels) ** 2)),
                            "ece": expected_calibration_error(labels, calibrated)},
        "after_cross_fitted": {"brier": float(np.mean((crossfit - labels) ** 2)),
                               "ece": expected_calibration_error(labels, crossfit)}}
    model = _served_model(result, settings, preprocessing, args.folds, {
        **settings.to_json(), "tuning": tuned, "segmentation": segmentation_note, "final_epochs": result.final_epochs},
        {"cv_folds": args.folds, **metrics, "ece": calibration_figures["before"]["ece"]})
    ceiling = _ceiling(args.data_dir / "truth.csv")
    write_trained_card(args.out, metrics={**metrics, "ece": calibration_figures["before"]["ece"]},
                       settings=settings.to_json(), preprocessing=preprocessing, folds=args.folds,
                       final_epochs=result.final_epochs, synthetic=ceiling is not None, ceiling=ceiling,
                       calibration=result.calibration, segmentation=segmentation_note, data_note=args.data_note,
                       minutes=(time.perf_counter() - started) / 60, threads=torch.get_num_threads(),
                       early_stopping=not args.no_early_stopping)
    model.save_pretrained(args.out)
    _write_oof(args.out / "oof.csv", kept, labels, result, calibrated, crossfit)
    (args.out / "metrics.json").write_text(json.dumps({
        "oof": metrics, "folds": result.fold_metrics, "final_epochs": result.final_epochs,
        "settings": settings.to_json(), "tuning": tuned, "skipped": skipped, "cohort": cohort.to_json(),
        "histories": result.histories,
        "best_achievable_auc": ceiling, "calibration": {**result.calibration, **calibration_figures},
        "segmentation": segmentation_note, "seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(), "early_stopping": not args.no_early_stopping}, indent=2))
    from core.train.decision_fit import fit_decision  # the decision rule (decision.json), from oof.csv
    from core.train.ood_reference import OOD_CASES, fit_ood_reference  # the OOD gate's reference (ood.json)

    rule = fit_decision(args.out, args.target_error)
    rewrite_trained_card(args.out, args.data_note, decision=rule.card_sentences)  # the card states the rule
    fit_ood_reference(args.out, [case.folder for case in kept][:OOD_CASES])
    (args.out / "crossval.pt").unlink()
    low, high = metrics["auc_ci95"]
    print(f"out-of-fold AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f}) over {metrics['n']} cases"
          + (f"; best achievable {ceiling:.3f}" if ceiling else "") + f"; wrote {args.out} in "
          f"{time.perf_counter() - started:.0f} s")
    return 0


def _served_model(result, settings: TrainSettings, preprocessing: Preprocessing, folds: int, training: dict,
                  metrics: dict) -> MGMTNet:
    """The K fold models in one network (ensembled when served), with the calibration map of their out-of-fold
    logits; config.json records the metrics and the calibration too."""
    model = MGMTNet(architecture=settings.architecture, widen_factor=settings.widen_factor, dropout=settings.dropout,
                    preprocessing=preprocessing, labels=["unmethylated", "methylated"], training=training,
                    metrics=metrics, calibration=result.calibration, members=folds)
    for member, fold in zip(model.members, result.members, strict=True):
        member.load_state_dict(fold.model.members[0].cpu().state_dict())
    return model.eval()


def _write_oof(path: Path, kept: list, labels: np.ndarray, result, calibrated: np.ndarray,
               crossfit: np.ndarray) -> None:
    """Per training case: its fold, the out-of-fold probability and logit, calibrated by the map fitted on all
    folds and cross-fitted (by a map fitted on the other folds)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["BraTS21ID", "MGMT_value", "fold", "probability", "logit", "calibrated",
                         "calibrated_cross_fitted"])
        for case, label, fold, probability, logit, fitted, crossed in zip(
                kept, labels, result.folds, result.oof, result.oof_logits, calibrated, crossfit, strict=True):
            writer.writerow([int(case.case_id), int(label), int(fold), f"{probability:.6f}", f"{logit:.6f}",
                             f"{fitted:.6f}", f"{crossed:.6f}"])


def _segmentations(args: argparse.Namespace, kept: list,
                   preprocessing: Preprocessing) -> tuple[np.ndarray | None, str]:
    """Label maps on each case's model grid when ``--masks`` is given, and a sentence saying what is trained."""
    if not args.masks:
        return None, ("No --masks: classification only (the segmentation output stays untrained; tumour volumes "
                      "of this model mean nothing)")
    if not args.masks.is_dir():
        raise InputError(f"--masks '{args.masks}' is not a folder; expected BraTS-style label files "
                         f"({mask_names('<id>')}).")
    cache = TensorCache(args.cache, preprocessing)
    with tqdm(total=len(kept), desc="masks", unit="case", disable=args.quiet) as bar:
        maps, missing = load_segmentations(kept, cache, args.masks, progress=lambda _: bar.update())
    for line in missing:
        print(f"no mask {line}")
    if len(missing) == len(kept):
        raise InputError(f"No case has a label file in '{args.masks}'; expected {mask_names('<id>')} per case.")
    return maps, (f"Segmentation trained on the label maps of {len(kept) - len(missing)} of {len(kept)} cases "
                  f"(--masks {args.masks.name})")


def _ceiling(truth: Path) -> float | None:
    """The synthetic cohort's best achievable AUC, when DATA_DIR has a truth.csv."""
    if not truth.exists():
        return None
    with open(truth, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[0]["best_achievable_auc"]) if rows and "best_achievable_auc" in rows[0] else None
