"""``python -m core inspect PATH [--json] [--export DIR]``: what ingest makes of a study, and its geometry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from core.cli import COMMANDS

if TYPE_CHECKING:  # ingest brings pydicom and scipy: imported when the command runs
    from core.ingest import Study


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help=COMMANDS["inspect"],
        description="Read one study (folder, .zip, or folder of four NIfTI files) and report its geometry.",
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="study folder, .zip of one, or NIfTI folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="write each sequence as DIR/<sequence>.nii.gz (volume as loaded, with its affine)")
    parser.set_defaults(run=run)


def export_nifti(study: Study, folder: Path) -> list[Path]:
    """Write each sequence as ``<sequence>.nii.gz`` with its RAS affine (a DICOM-to-NIfTI conversion)."""
    import nibabel as nib

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, volume in study.volumes.items():
        image = nib.Nifti1Image(volume.array, volume.affine)  # integer or float32, as loaded
        image.header.set_slope_inter(*volume.rescale)  # readers apply it, as they did RescaleSlope
        image.set_qform(volume.affine, code=1)
        image.set_sform(volume.affine, code=1)
        path = folder / f"{name}.nii.gz"
        nib.save(image, path)
        written.append(path)
    return written


def format_table(study: Study) -> str:
    """A readable report: one block per sequence, then the warnings."""
    lines = [f"Study {study.study_hash} (salted hash; no patient identifiers are kept)", ""]
    header = f"{'sequence':<8} {'plane':<9} {'axcodes':<7} {'shape':<16} {'spacing mm':<20} source"
    lines += [header, "-" * len(header)]
    for name, volume in study.volumes.items():
        shape = "x".join(map(str, volume.shape))
        spacing = " x ".join(f"{s:.3g}" for s in volume.spacing_mm)
        lines.append(f"{name:<8} {volume.plane:<9} {volume.axcodes:<7} {shape:<16} {spacing:<20} {volume.source}")
    lines.append("")
    for name, volume in study.volumes.items():
        lines.append(f"{name}: identified by {volume.identified_by}; RAS affine (voxel -> world mm):")
        lines += ["    " + "  ".join(f"{v:10.4f}" for v in row) for row in volume.affine]
    if study.warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in study.warnings]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from core.ingest import load_study

    study = load_study(args.path)
    report = study.summary()
    if args.export:
        report["exported"] = [str(p) for p in export_nifti(study, args.export)]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(study))
        for path in report.get("exported", []):
            print(f"wrote {path}")
    return 0
