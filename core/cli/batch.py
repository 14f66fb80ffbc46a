"""``python -m core batch DATA_DIR``: score every study folder of a cohort into the store's cohort tables.

The cohort is then shown beside the model's training cohort on the dashboard. A study that cannot be read
is listed and skipped; the rest are scored (``--engine local``: preprocessing on ``--workers`` threads, model
passes one at a time; ``--engine ray``: ``--workers`` Ray workers, see ``core.scoring``) and written in one
transaction, replacing an earlier cohort of the same name and model. ``--out`` also writes every case's result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from core.cli import COMMANDS
from core.cohort import discover, read_labels
from core.config import get_settings
from core.errors import InputError
from core.inference import Predictor
from core.metrics import auc, bootstrap_auc_interval
from core.notice import RESEARCH_NOTICE
from core.scoring import ENGINES, score_studies, write_results
from core.scoring.engines import checked_engine
from core.store import Store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch", help=COMMANDS["batch"],
        description="Run the model on every study folder of DATA_DIR (RSNA layout: DATA_DIR/train/<id>/ or "
                    "DATA_DIR/<id>/; BraTS 2021 DATA_DIR/BraTS2021_<id>/; BraTS 2023 DATA_DIR/BraTS-GLI-<id>-<tp>/) "
                    f"and store the probabilities as a cohort (MGMT_DB). {RESEARCH_NOTICE}")
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    parser.add_argument("--labels", type=Path, metavar="CSV", help="BraTS21ID,MGMT_value: score only the labelled "
                        "cases and report the ROC AUC (default: every case folder, labels unknown)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="studies read and preprocessed at once "
                        "(default 1); with --engine ray, the number of Ray workers, each with its own model")
    parser.add_argument("--engine", default="local", metavar="|".join(ENGINES), help="local: threads of this "
                        "process (default); ray: a Ray cluster (pip install -r requirements-scale.txt)")
    parser.add_argument("--address", metavar="ADDR", help="with --engine ray: the cluster to join (e.g. "
                        "ray://head:10001); default: a Ray started on this machine for the run")
    parser.add_argument("--out", type=Path, metavar="FILE.csv", help="also write case, probability, label, status "
                        "(and the reason of a failure) per case")
    parser.add_argument("--model", metavar="REPO_OR_DIR", help="model folder or Hub repo (default: weights/, "
                        "or MGMT_MODEL_REPO)")
    parser.add_argument("--revision", metavar="REV", help="Hub branch, tag or commit (default: MGMT_MODEL_REVISION)")
    parser.add_argument("--name", metavar="NAME", help="cohort name (default: the name of DATA_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def study_folders(data_dir: Path, labels_csv: Path | None) -> tuple[dict[str, Path], dict[str, int], list[str]]:
    """The study folder of each case to score, the labels known (none without a CSV), and what was passed over;
    the cohort's join is summarised on stderr."""
    cohort = discover(data_dir, read_labels(labels_csv) if labels_csv is not None else None)
    print(f"cohort: {cohort.summary()}", file=sys.stderr)
    labels = {c.case_id: c.label for c in cohort.cases if c.label is not None}
    return {c.case_id: c.folder for c in cohort.cases}, labels, cohort.notes()


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise InputError(f"--workers is {args.workers}; expected at least 1.")
    checked_engine(args.engine)
    folders, labels, skipped = study_folders(args.data_dir, args.labels)
    name = args.name or args.data_dir.resolve().name
    store = Store(get_settings().store_location)  # opened first: a busy or foreign store fails before the scoring
    predictor = Predictor.load(args.model, args.revision)
    source = predictor.source
    store.import_training_cohort(source, predictor.config.metrics_json)
    results = score_studies(folders, predictor, engine=args.engine, workers=args.workers, address=args.address,
                            quiet=args.quiet)
    if args.out is not None:
        write_results(args.out, results, labels)
    probabilities = {result.case: result.probability for result in results if result.probability is not None}
    failed = sorted(f"{result.case}: {result.reason}" for result in results if result.reason is not None)
    for line in skipped + failed:
        print(f"skipped {line}", file=sys.stderr)
    if not probabilities:
        raise InputError(f"No case of '{args.data_dir}' could be scored; first problem: {(skipped + failed)[0]}")
    scored = [case for case in folders if case in probabilities]
    frame = pd.DataFrame({"case": scored, "fold": [None] * len(scored), "label": [labels.get(c) for c in scored],
                          "probability": [probabilities[c] for c in scored]})
    written = store.replace_cohort(name, source.repo, source.revision, frame)
    abstained = sum(result.abstained for result in results)
    print(f"scored {written} case(s) of '{args.data_dir}' into cohort '{name}' of {source.repo} @ "
          f"{source.revision} in {store.path}; skipped {len(skipped) + len(failed)}; the model abstained on "
          f"{abstained} (their probabilities are stored all the same; --out lists them as 'abstained')")
    if labels:
        truth, scores = frame["label"].to_numpy(int), frame["probability"].to_numpy()
        if len(set(truth)) < 2:
            print(f"ROC AUC undefined: all {len(truth)} scored cases have label {truth[0]}")
        else:
            low, high = bootstrap_auc_interval(truth, scores)
            print(f"ROC AUC {auc(truth, scores):.3f} (95% CI {low:.3f}-{high:.3f}) on {len(truth)} labelled cases")
    print(RESEARCH_NOTICE)
    return 0
