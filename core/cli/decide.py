"""``python -m core decide MODEL_DIR --target-error E``: fit the decision rule of a model folder on its out-of-fold
predictions (``oof.csv``), without retraining, and write the card again so it states the rule."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import COMMANDS
from core.inference.decision import DEFAULT_TARGET_ERROR


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("decide", help=COMMANDS["decide"], description=__doc__)
    parser.add_argument("model_dir", type=Path, help="a model folder written by `python -m core train`")
    parser.add_argument("--target-error", type=float, default=DEFAULT_TARGET_ERROR, metavar="E",
                        help="at most this share of each true class gets the wrong call (default %(default)s)")
    parser.add_argument("--calibrate-on", type=Path, metavar="CSV", help="the predictions.csv `evaluate` wrote for "
                        "a labelled cohort the served model never trained on: the calibration map and the rule are "
                        "fitted on those predictions instead of oof.csv")
    parser.add_argument("--cohort", default="", metavar="TEXT", help="how the card names that cohort (e.g. the "
                        "synth command)")
    parser.add_argument("--data-note", metavar="TEXT", help="the card's sentence on where the training data came "
                        "from (the card is written again, keeping its protocol and evaluation sections)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import InputError
    from core.train.decision_fit import fit_decision

    if not 0 < args.target_error < 1:
        raise InputError(f"--target-error is {args.target_error}; expected a number between 0 and 1.")
    from core.model.card import rewrite_trained_card

    rule = fit_decision(args.model_dir, args.target_error, args.calibrate_on, args.cohort)
    rewrite_trained_card(args.model_dir, args.data_note, decision=rule.card_sentences)
    low, high = rule.call_region
    print(f"wrote {args.model_dir / 'decision.json'}: {rule.n} cases, target error {rule.target_error:g}; calls "
          f"unmethylated at P <= {low:.3f} and methylated at P >= {high:.3f}")
    print(rule.guarantee)
    print(f"rewrote {args.model_dir / 'README.md'} (the card states the rule)")
    return 0
