"""``python -m core synth``: write a synthetic glioma cohort in the RSNA-MICCAI layout."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.cli import COMMANDS
from core.errors import InputError
from core.synth.latent import DEFAULT_SEPARATION, best_achievable_auc


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help=COMMANDS["synth"],
        description="Synthetic glioma MRI studies on real MNI152 anatomy, with a known best achievable AUC.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--cases", type=int, required=True, metavar="N", help="number of cases")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (same seed, same bytes)")
    parser.add_argument("--format", choices=["dicom", "nifti"], default="dicom", help="DICOM series or BraTS NIfTI")
    parser.add_argument("--size", choices=["small", "rsna"], default="small",
                        help="small: ~1 s per case; rsna: the size of RSNA case 00000 (512x512, 970 slices)")
    parser.add_argument("--skull", action="store_true", help="keep scalp and skull (default: skull-stripped, as RSNA)")
    parser.add_argument("--separation", type=float, default=DEFAULT_SEPARATION, metavar="D",
                        help=f"class separation of the latent score (default {DEFAULT_SEPARATION}: AUC ceiling "
                             f"{best_achievable_auc(DEFAULT_SEPARATION):.3f})")
    parser.set_defaults(run=run)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(args: argparse.Namespace) -> int:
    if args.cases < 1:
        raise InputError(f"--cases is {args.cases}; expected at least 1.")
    if args.separation < 0:
        raise InputError(f"--separation is {args.separation}; expected 0 or more.")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out '{args.out}' is a file; expected a new or existing folder.")
    stale = sorted(p.name for p in (args.out / "train").glob("*") if not p.name.isdigit() or int(p.name) >= args.cases)
    if stale:
        print(f"warning: {args.out / 'train'} already holds {len(stale)} folder(s) that are not in this cohort "
              f"({', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''}); train_labels.csv will not list them.",
              file=sys.stderr)
    from tqdm import tqdm

    from core.synth.cases import write_cohort

    started = time.perf_counter()
    with tqdm(total=args.cases, unit="case", desc="synth") as bar:
        truths = write_cohort(args.out, args.cases, seed=args.seed, size=args.size, fmt=args.format,
                              skull=args.skull, separation=args.separation, progress=lambda _: bar.update())
    seconds = time.perf_counter() - started
    methylated = sum(t.traits.label for t in truths)
    print(f"wrote {len(truths)} {args.size} {args.format} case(s) to {args.out} in {seconds:.1f} s "
          f"({seconds / len(truths):.2f} s per case, {_folder_bytes(args.out) / 1e6:.1f} MB)")
    print(f"labels: {methylated} methylated, {len(truths) - methylated} unmethylated; "
          f"best achievable AUC {best_achievable_auc(args.separation):.3f} (separation {args.separation})")
    print(f"files: {args.out / 'train_labels.csv'}, {args.out / 'truth.csv'}, {args.out / 'masks'}/")
    return 0
