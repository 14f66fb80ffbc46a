"""``python -m core evaluate DATA_DIR --labels CSV --model REPO_OR_DIR``: metrics of a model on labelled studies.

Beyond the classification metrics: expected calibration error (and Brier/ECE before calibration), Dice of the
tumour segmentation against ``masks/`` label maps, AUC with sequences missing (``--without``, or the whole
table with ``--missing-table``), and, on a synthetic cohort, the latent-score AUC of the same cases.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from functools import partial
from pathlib import Path

from core.cli import COMMANDS
from core.cohort import Cohort, discover, read_labels
from core.errors import InputError
from core.figures import calibration_figure, roc_figure
from core.inference import Predictor
from core.inference.decision import error_reject_curve
from core.metrics import calibration_curve, evaluate_predictions, roc_points
from core.model.card import write_evaluation_figures, write_heldout_section
from core.scoring import score_studies
from core.train.assessment import (
    Collected,
    assess_case,
    auc_table,
    calibration_summary,
    calls_summary,
    describe,
    dice_summary,
    latent_auc,
    missing_combinations,
    parse_without,
    recalibration,
)
from core.train.calibration import expected_calibration_error
from core.train.masks import mask_path

JSON_KEYS = ("n", "auc", "auc_ci95", "accuracy", "precision", "recall", "f1", "brier", "ece", "call_rate",
             "accuracy_among_calls")


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
    parser.add_argument("--without", metavar="SEQ[,SEQ]", help="evaluate as if these sequences were missing "
                        "(blanked, and the model told so)")
    parser.add_argument("--missing-table", action="store_true", help="also the AUC with each sequence and each "
                        "pair of sequences missing (one model pass per setting, one preprocessing per case)")
    parser.add_argument("--masks", type=Path, metavar="DIR", help="label maps for Dice (default: DATA_DIR/masks "
                        "when present, else DATA_DIR when its case folders hold them, as the BraTS releases do)")
    parser.add_argument("--card", metavar="TEXT", help="write these results into the model folder's card as its "
                        "held-out evaluation; TEXT describes the data (e.g. how it was generated)")
    parser.add_argument("--card-section", choices=["held-out", "validation"], default="held-out",
                        help="which card section --card writes: the held-out figure (a cohort used once) or the "
                             "validation figure (the cohort choices were made on)")
    parser.add_argument("--engine", default="local", metavar="local|ray", help="where the studies are scored: "
                        "threads of this process (default), or a Ray cluster (requirements-scale.txt)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="studies at once: threads, or Ray "
                        "workers each with its own copy of the model (default 1)")
    parser.add_argument("--address", metavar="ADDR", help="the Ray cluster to join (default: a local one started for "
                        "the run)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    without = parse_without(args.without)
    predictor = Predictor.load(args.model, args.revision)
    cohort = discover(args.data_dir, read_labels(args.labels))
    print(f"cohort: {cohort.summary()}", file=sys.stderr)
    cases, skipped = list(cohort.cases), cohort.notes()
    masks = args.masks or default_masks(args.data_dir, cohort)
    settings = [without] + ([m for m in missing_combinations() if m != without] if args.missing_table else [])
    collected, failed, kept = Collected(), list(skipped), []
    task = partial(assess_case, settings=tuple(settings), masks=masks)
    results = {result.case: result for result in score_studies(
        {case.case_id: case.folder for case in cases}, predictor, engine=args.engine, workers=args.workers,
        address=args.address, quiet=args.json, task=task)}
    for case in cases:  # in case order, whatever order the engine finished them in
        result = results[case.case_id]
        if result.reason is not None:
            failed.append(f"{case.case_id}: {result.reason}")
            continue
        collected.labels.append(case.label)
        collected.logits.append(result.details["logit"])
        collected.served.append(result.label)
        collected.abstained.append(result.abstained)
        for missing, probability in result.details["probabilities"]:
            collected.add(missing, probability)
        if result.details["dice"] is not None:
            collected.dice.append(result.details["dice"])
        kept.append(case)
    if not kept:
        raise InputError(f"No case of '{args.data_dir}' could be scored; first problem: {failed[0]}")
    labels, probabilities = collected.labels, collected.probabilities[without]
    threshold = args.threshold if args.threshold is not None else predictor.config.threshold
    metrics = evaluate_predictions(labels, probabilities, threshold=threshold)
    out = args.out or args.data_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    command = reproduce_command(args, predictor)
    report = {**metrics.to_json(), "ece": expected_calibration_error(labels, probabilities),
              "model": {"repo": predictor.source.repo, "revision": predictor.source.revision},
              "without": list(without), "skipped": failed, "cohort": cohort.to_json(),
              "calibration": calibration_curve(labels, probabilities),
              "calibration_before_after": calibration_summary(labels, collected.logits, probabilities),
              "dice": dice_summary(collected.dice),
              "latent_score": latent_auc(args.data_dir / "truth.csv", [c.case_id for c in kept], labels),
              "command": command, **calls_summary(labels, collected.served, predictor.config.labels),
              "abstained": int(sum(collected.abstained)), "recalibration": recalibration(labels, probabilities),
              "decision": _decision_report(predictor, labels, probabilities, collected.abstained),
              "cases": [{"id": case.case_id, "label": case.label, "probability": round(float(p), 9)}
                        for case, p in zip(kept, probabilities, strict=True)]}
    if report["latent_score"]:
        report["latent_score"]["ratio"] = metrics.auc / report["latent_score"]["auc"]
    if args.missing_table:
        report["missing_sequences"] = auc_table(labels, collected.probabilities, reference=without)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    _write_predictions(out / "predictions.csv", kept, collected, without)
    roc_figure(roc_points(labels, probabilities), metrics).write_html(out / "roc.html", include_plotlyjs=True)
    calibration_figure(report["calibration"]).write_html(out / "calibration.html", include_plotlyjs=True)
    if args.card:
        if predictor.source.revision != "local":
            raise InputError("--card writes into a local model folder; the model came from the Hub.")
        write_heldout_section(predictor.source.folder, report, args.card, command, section=args.card_section)
        write_evaluation_figures(predictor.source.folder, report, args.card_section, args.card, command)
    if args.json:
        print(json.dumps({k: report[k] for k in JSON_KEYS}))
        return 0
    _print_table(report, predictor, metrics, threshold, failed, out)
    return 0


def default_masks(data_dir: Path, cohort: Cohort) -> Path | None:
    """``DATA_DIR/masks`` when present (``core synth``), else ``DATA_DIR`` when a case folder holds its label file
    (the BraTS releases), else None (no Dice)."""
    if (data_dir / "masks").is_dir():
        return data_dir / "masks"
    first = cohort.cases[0]
    return data_dir if mask_path(data_dir, first.case_id) is not None else None


def reproduce_command(args: argparse.Namespace, predictor: Predictor) -> str:
    """The command line that reproduces these figures, with the data folder named as from its parent and a local
    model by its folder name (as a card states it: ``python -m core evaluate heldout --labels heldout/...``)."""
    data = args.data_dir.name
    inside = args.labels.resolve().parent == args.data_dir.resolve()
    labels = f"{data}/{args.labels.name}" if inside else str(args.labels)
    model = predictor.source.folder.name if predictor.source.revision == "local" else predictor.source.repo
    parts = ["python -m core evaluate", data, "--labels", labels, "--model", model]
    if args.revision:
        parts += ["--revision", args.revision]
    if args.without:
        parts += ["--without", ",".join(parse_without(args.without))]
    if args.missing_table:
        parts.append("--missing-table")
    if args.masks:
        parts += ["--masks", str(args.masks)]
    if args.threshold is not None:
        parts += ["--threshold", str(args.threshold)]
    return " ".join(parts + ["--json"])


def _decision_report(predictor: Predictor, labels: list[int], probabilities: list[float],
                     abstained: list[bool]) -> dict | None:
    """The model's decision rule and its error-reject curve on these cases (an abstained study is never called)."""
    rule = predictor.decision_rule
    if rule is None:
        return None
    curve = error_reject_curve(rule, probabilities, labels, abstained=abstained)
    return {**rule.to_json(), "error_reject": curve}


def _write_predictions(path: Path, kept: list, collected: Collected, without: tuple[str, ...]) -> None:
    """Per case: the served probability, label and abstention (what ``predict`` answers), the logit and Dice."""
    regions = list(collected.dice[0]) if collected.dice and len(collected.dice) == len(kept) else []
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["BraTS21ID", "MGMT_value", "probability", "logit", "label", "abstained"]
                        + [f"dice_{r}" for r in regions])
        for i, case in enumerate(kept):
            writer.writerow([int(case.case_id), case.label, f"{collected.probabilities[without][i]:.9g}",
                             f"{collected.logits[i]:.6f}", collected.served[i], str(collected.abstained[i]).lower()]
                            + [f"{collected.dice[i][r]:.4f}" for r in regions])


def _print_table(report: dict, predictor: Predictor, metrics, threshold: float, failed: list, out: Path) -> None:
    low, high = metrics.auc_ci95
    print(f"model {predictor.source.repo} @ {predictor.source.revision}; {metrics.n} cases "
          f"({len(failed)} skipped); {describe(tuple(report['without']))}")
    before, after = report["calibration_before_after"]["before"], report["calibration_before_after"]["after"]
    rows = [("ROC AUC", f"{metrics.auc:.3f} (95% CI {low:.3f}-{high:.3f})"), ("accuracy", f"{metrics.accuracy:.3f}"),
            ("precision", f"{metrics.precision:.3f}"), ("recall", f"{metrics.recall:.3f}"), ("F1", f"{metrics.f1:.3f}"),
            ("Brier", f"{metrics.brier:.3f} (uncalibrated {before['brier']:.3f})"),
            ("ECE", f"{report['ece']:.3f} (uncalibrated {before['ece']:.3f}; a perfectly calibrated model would "
                    f"show {after['ece_if_perfectly_calibrated']:.3f} from sampling alone)"),
            ("threshold", f"{threshold}"),
            ("calls", f"{report['calls']} of {metrics.n} studies ({report['call_rate']:.0%}), "
                      + (f"{report['accuracy_among_calls']:.0%} right" if report["calls"] else "none made")
                      + f"; {report['abstained']} abstained"),
            ("recalibr.", f"intercept {report['recalibration']['intercept']:+.2f}, slope "
                          f"{report['recalibration']['slope']:.2f} (calibrated: 0 and 1)"),
            ("confusion", " ".join(f"{k}={v}" for k, v in metrics.confusion.items()))]
    if report["latent_score"]:
        latent = report["latent_score"]
        rows.append(("latent AUC", f"{latent['auc']:.3f} (model/latent {latent['ratio']:.3f})"))
    if report["dice"]["n"]:
        rows.append(("Dice", ", ".join(f"{k} {v['median']:.3f}" for k, v in report["dice"].items() if k != "n")
                     + f" (medians over {report['dice']['n']} cases)"))
    for name, value in rows:
        print(f"  {name:<10} {value}")
    for row in report.get("missing_sequences", []):
        low, high = row["auc_ci95"]
        print(f"  {row['setting']:<28} AUC {row['auc']:.3f} ({low:.3f}-{high:.3f})"
              + (f", {row['ratio_to_all_four']:.3f} of all four" if row["ratio_to_all_four"] else ""))
    print(f"wrote {out}/metrics.json, predictions.csv, roc.html, calibration.html")
    print(f"reproduce: {report['command']}")
