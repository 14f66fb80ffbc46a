"""``python -m core tune DATA_DIR --labels CSV --trials N``: Bayesian hyperparameter search, resumable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli import COMMANDS
from core.cli.train import add_data_options, load_training_data
from core.errors import InputError
from core.train.loop import TrainSettings
from core.train.tuning import tune


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune", help=COMMANDS["tune"],
        description="Trials train on 80% of the cases and are scored by AUC on the rest; the study is stored "
                    "in SQLite and resumes where it stopped. Train the final model with --params DIR/best.json.")
    add_data_options(parser)
    parser.add_argument("--trials", type=int, required=True, metavar="N", help="trials to run now")
    parser.add_argument("--out", type=Path, default=Path("data/tuning"), metavar="DIR",
                        help="folder of the study database (tune.db) and best.json")
    parser.add_argument("--study", default="mgmt", metavar="NAME", help="study name inside the database")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.trials < 1:
        raise InputError(f"--trials is {args.trials}; expected at least 1.")
    preprocessing, images, labels, _, _, _ = load_training_data(args)
    args.out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(args.out / 'tune.db').resolve()}"
    study = tune(images, labels, args.trials, storage, args.study, TrainSettings(epochs=args.epochs, seed=args.seed),
                 preprocessing, progress=not args.quiet)
    finished = [t for t in study.trials if t.value is not None]
    if not finished:
        raise InputError(f"All {len(study.trials)} trials of study '{args.study}' were pruned or failed; run more.")
    best = study.best_trial
    (args.out / "best.json").write_text(json.dumps({
        "study": args.study, "storage": storage, "trial": best.number, "validation_auc": best.value,
        "params": best.params, "trials": len(study.trials)}, indent=2))
    pruned = sum(t.state.name == "PRUNED" for t in study.trials)
    print(f"study '{args.study}': {len(study.trials)} trials ({pruned} pruned); best #{best.number} with validation "
          f"AUC {best.value:.3f}: {best.params}")
    print(f"wrote {args.out / 'best.json'}; train with: python -m core train ... --params {args.out / 'best.json'}")
    return 0
