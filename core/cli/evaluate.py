"""``python -m core evaluate DATA_DIR --labels CSV --model REPO_OR_DIR``: metrics of a model on labelled studies."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from tqdm import tqdm

from core.cli import COMMANDS
from core.errors import InputError
from core.figures import calibration_figure, roc_figure
from core.inference import Predictor
from core.ingest import load_study
from core.metrics import calibration_curve, evaluate_predictions, roc_points
from core.model.card import write_heldout_section
from core.train.dataset import find_cases, read_labels


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help=COMMANDS["evaluate"],
        description="Run a model on every labelled study (the full predict path) and report its metrics.")
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    parser.add_argument("--labels", type=Path, required=True, metavar="CSV")
    parser.add_argument("--model", required=True, metavar="REPO_OR_DIR")
    parser.add_argument("--revision", metavar="REV")
    parser.add_argument("--threshold", type=float, help="decision threshold (default: the model's)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write metrics.json, predictions.csv, roc.html, "
                        "calibration.html here (default: DATA_DIR/evaluation)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--card", metavar="TEXT", help="write these results into the model folder's card as its "
                        "held-out evaluation; TEXT describes the data (e.g. how it was generated)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    predictor = Predictor.load(args.model, args.revision)
    cases, skipped = find_cases(args.data_dir, read_labels(args.labels))
    labels, probabilities, failed, kept = [], [], list(skipped), []
    for case in tqdm(cases, desc="evaluate", unit="case", disable=args.json):
        try:
            probability = predictor.predict(load_study(case.folder), with_cam=False).probability
        except InputError as err:
            failed.append(f"{case.case_id}: {err.user_message.splitlines()[0]}")
            continue
        labels.append(case.label)
        probabilities.append(probability)
        kept.append(case)
    if not kept:
        raise InputError(f"No case of '{args.data_dir}' could be scored; first problem: {failed[0]}")
    threshold = args.threshold if args.threshold is not None else predictor.config.threshold
    metrics = evaluate_predictions(labels, probabilities, threshold=threshold)
    out = args.out or args.data_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    report = {**metrics.to_json(), "model": {"repo": predictor.source.repo, "revision": predictor.source.revision},
              "skipped": failed, "calibration": calibration_curve(labels, probabilities)}
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    with open(out / "predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["BraTS21ID", "MGMT_value", "probability"])
        writer.writerows([int(c.case_id), c.label, f"{p:.6f}"] for c, p in zip(kept, probabilities, strict=True))
    roc_figure(roc_points(labels, probabilities), metrics).write_html(out / "roc.html", include_plotlyjs=True)
    calibration_figure(report["calibration"]).write_html(out / "calibration.html", include_plotlyjs=True)
    if args.card:
        if predictor.source.revision != "local":
            raise InputError("--card writes into a local model folder; the model came from the Hub.")
        data = args.data_dir.name
        command = (f"python -m core evaluate {data} --labels {data}/{args.labels.name} "
                   f"--model {predictor.source.folder.name} --json")
        write_heldout_section(predictor.source.folder, metrics.to_json(), args.card, command)
    if args.json:
        print(json.dumps({k: report[k] for k in ("n", "auc", "auc_ci95", "accuracy", "precision", "recall", "f1",
                                                 "brier")}))
        return 0
    low, high = metrics.auc_ci95
    print(f"model {predictor.source.repo} @ {predictor.source.revision}; {metrics.n} cases "
          f"({len(failed)} skipped)")
    rows = [("ROC AUC", f"{metrics.auc:.3f} (95% CI {low:.3f}-{high:.3f})"), ("accuracy", f"{metrics.accuracy:.3f}"),
            ("precision", f"{metrics.precision:.3f}"), ("recall", f"{metrics.recall:.3f}"), ("F1", f"{metrics.f1:.3f}"),
            ("Brier", f"{metrics.brier:.3f}"), ("threshold", f"{threshold}"),
            ("confusion", " ".join(f"{k}={v}" for k, v in metrics.confusion.items()))]
    for name, value in rows:
        print(f"  {name:<10} {value}")
    print(f"wrote {out}/metrics.json, predictions.csv, roc.html, calibration.html")
    return 0
