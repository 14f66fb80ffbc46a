"""``python -m core predict PATH``: the probability of MGMT methylation for one study (research use only)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.cli import COMMANDS
from core.errors import EXIT_INPUT, InputError
from core.notice import RESEARCH_NOTICE
from core.regions import LABELS

if TYPE_CHECKING:
    from core.inference.report import PredictionResult
    from core.service import Outcome


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help=COMMANDS["predict"],
        description=f"Run the model on one study (folder, .zip, or folder of four NIfTI files). {RESEARCH_NOTICE}",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="study folder, .zip of one, or NIfTI folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--model", metavar="REPO_OR_DIR", help="model folder or Hub repo (default: weights/, "
                        "or MGMT_MODEL_REPO)")
    parser.add_argument("--revision", metavar="REV", help="Hub branch, tag or commit (default: MGMT_MODEL_REVISION)")
    parser.add_argument("--no-log", action="store_true",
                        help="do not record this prediction in the prediction log (the DuckDB file MGMT_DB, default "
                             "MGMT_DATA_DIR/mgmt.duckdb); by default every attempt is logged, without patient data")
    parser.add_argument("--no-cam", action="store_true", help="skip the explanation map (faster)")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="also write into DIR, named by the study's salted hash: the one-page PDF report, the "
                             "DICOM SEG of the tumour on a source series and the DICOM Structured Report (TID 1500) "
                             "whose volumes reference it (both for a PACS; they carry the study's patient module); a "
                             "NIfTI study gets the PDF and the label map as NIfTI with its RAS affine (an SR needs the "
                             "DICOM study's UIDs)")
    parser.add_argument("--export-seg", type=Path, metavar="FILE.nii.gz", help="write the tumour segmentation "
                        "(BraTS labels " + ", ".join(f"{label.value} {label.name}" for label in LABELS)
                        + ") on the model grid, with its RAS affine")
    parser.add_argument("--export-cam", type=Path, metavar="FILE.nii.gz", help="write the explanation map (where "
                        "the logit comes from, 0 to 1) on the model grid, with its RAS affine")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.inference.report import Timings
    from core.report import ReportRequest
    from core.service import Service

    if args.export_cam and args.no_cam:
        raise InputError("--export-cam writes the explanation map, which --no-cam skips; drop one of them.")
    started = time.perf_counter()
    service = Service(model=args.model, revision=args.revision, import_cohort=False).start(background=False)
    loaded = time.perf_counter()
    progress = (lambda stage: None) if args.json else (lambda stage: print(f"... {stage}", file=sys.stderr))
    outcome = service.predict(args.path, user="cli", channel="cli", with_cam=not args.no_cam, log=not args.no_log,
                              progress=progress, reports=ReportRequest() if args.report else None)
    prediction = outcome.prediction.with_result(
        timings=Timings.of({"load_model": loaded - started}) + outcome.prediction.result.timings
        + Timings.of({"total": time.perf_counter() - started}))
    if args.export_seg:
        from core.inference.tumour import export_segmentation

        export_segmentation(prediction.artefacts.segmentation, prediction.artefacts.prepared.grid, args.export_seg)
    if args.export_cam:
        from core.inference.attribution import export_attribution

        export_attribution(prediction.artefacts.cam, prediction.artefacts.prepared.grid, args.export_cam)
    if not args.no_log and not prediction.result.logged:
        print(f"warning: the prediction was not logged into '{service.store.path}' (the message above says why)",
              file=sys.stderr)
    if args.json:
        print(json.dumps(prediction.to_json(), indent=2))
    else:
        print_result(prediction.result, args.export_seg, args.export_cam)
    return write_reports(outcome, args.report)


def print_result(result: PredictionResult, exported: Path | None, exported_cam: Path | None = None) -> None:
    """The result as lines for a person: the answer, provenance, sequences, timings, tumour, checks, notice."""
    from core.inference.report import sequence_table

    low, high = result.uncertainty.interval90
    print(f"P(methylated) = {result.probability:.3f}  (interval {low:.3f} to {high:.3f}; "
          f"threshold {result.threshold}) -> {result.label}")
    if result.label == "indeterminate" and not result.abstained:
        print("no call: " + " ".join(result.reasons))
    provenance = result.provenance
    print(f"model: {provenance.repo} @ {provenance.revision}, preprocessing v{provenance.preprocessing_version}")
    for row in sequence_table(result.sequences):
        print(f"  {row['sequence']:<6} {row['plane']:<9} {row['shape'].replace(' ', ''):<12} {row['source']}")
    print("timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings))
    if result.tumour:
        volumes = result.tumour.volumes_ml
        centre = result.tumour.centre_mm
        where = "" if centre is None else " centred at " + ", ".join(f"{v:.0f}" for v in centre) + " mm (RAS)"
        print("tumour: " + ", ".join(f"{k} {v:.1f} ml" for k, v in volumes.items()) + where)
    if exported:
        print(f"segmentation written to {exported}")
    if exported_cam:
        print(f"explanation map written to {exported_cam}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for check in result.quality:  # the checks that did not pass say why the tool abstains
        if check.status != "pass":
            print(f"quality {check.status}: {check.detail}")
    if result.abstained:
        print("ABSTAINED (the probability above is not a call): " + " ".join(result.reasons))
    print(RESEARCH_NOTICE)


def write_reports(outcome: Outcome, folder: Path | None) -> int:
    """Write the documents made into ``folder`` (paths on stderr); 2 when a kind was refused (its reason said)."""
    if folder is None or outcome.documents is None:
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for document in outcome.documents.made.values():
        (folder / document.file_name).write_bytes(document.data)
        print(f"report: {folder / document.file_name}", file=sys.stderr)
    for message in outcome.documents.refused.values():
        print(f"error: {message}", file=sys.stderr)
    return EXIT_INPUT if outcome.documents.refused else 0
