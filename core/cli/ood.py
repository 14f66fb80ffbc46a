"""``python -m core ood MODEL_DIR DATA_DIR``: fit the out-of-distribution gate of an existing model folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ood", help="fit the out-of-distribution gate of a model folder (ood.json)",
                                   description=__doc__)
    parser.add_argument("model_dir", type=Path, help="a model folder (config.json, model.safetensors)")
    parser.add_argument("data_dir", type=Path, help="in-distribution cases: a cohort folder "
                        "(RSNA train/<id>/, BraTS2021_<id>/ or BraTS-GLI-<id>-<tp>/)")
    parser.add_argument("--cases", type=int, default=None, help="how many cases to fit on (default 150)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from core.train.ood_reference import OOD_CASES, case_folders, fit_ood_reference

    folders = case_folders(args.data_dir, args.cases or OOD_CASES)
    reference = fit_ood_reference(args.model_dir, folders,
                                  progress=lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr))
    print(f"\nwrote {args.model_dir / 'ood.json'}: {reference.n_cases} cases, layer {reference.layer}, threshold "
          f"{reference.threshold:.2f} (the {reference.percentile:g}th percentile of out-of-fold distances)")
    return 0
