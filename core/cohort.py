"""A cohort folder as downloaded: its case folders, by RSNA-MICCAI or BraTS naming, joined with a labels CSV.

Accepted as they are: the RSNA-MICCAI layout (``DATA/train/<id>/<sequence>/`` or ``DATA/<id>/``), the BraTS 2021
release (``DATA/BraTS2021_<id>/BraTS2021_<id>_{flair,t1,t1ce,t2,seg}.nii.gz``) and BraTS 2023 glioma names
(``DATA/BraTS-GLI-<id>-<timepoint>/``). Every naming reduces to the 5-digit BraTS21ID, the key of the
competition's ``train_labels.csv``; what does not join (a case without a label, a label without a case) is
counted and named, never silently dropped.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError

BROKEN_CASES = frozenset({"00109", "00123", "00709"})
"""Cases the RSNA-MICCAI organisers flagged as broken (FLAIR of 00109 and 00709, T1w of 00123)."""

CASE_FOLDER_NAMES = (
    re.compile(r"^(?P<id>\d{1,5})$"),  # RSNA-MICCAI: train/00000/
    re.compile(r"^BraTS2021_(?P<id>\d{1,5})$"),  # BraTS 2021 release
    re.compile(r"^BraTS-GLI-(?P<id>\d{5})-(?P<timepoint>\d{3})$"),  # BraTS 2023 glioma (ids are BraTS21IDs)
)
"""Folder names that carry a case's BraTS21ID."""

LAYOUTS_HELP = ("expected case folders named by BraTS21ID: train/<id>/<sequence>/ (RSNA-MICCAI), BraTS2021_<id>/ "
                "(BraTS 2021) or BraTS-GLI-<id>-<timepoint>/ (BraTS 2023)")


@dataclass(frozen=True)
class Case:
    """One study folder of a cohort, with its label when the labels CSV has one."""

    case_id: str
    label: int | None
    folder: Path


@dataclass(frozen=True)
class Cohort:
    """The cases to use, and everything that did not join, by name."""

    root: Path
    cases: tuple[Case, ...]
    unlabelled: tuple[str, ...] = ()  # case folders the labels CSV has no row for (labels given)
    without_case: tuple[str, ...] = ()  # label rows with no case folder
    broken: tuple[str, ...] = ()  # labelled cases the organisers flagged as broken, left out
    passed_over: tuple[str, ...] = field(default=())  # folders not read as cases, with why

    def notes(self) -> list[str]:
        """One ``<id>: why`` line per case left out, for the commands' ``skipped`` lists."""
        return ([f"{c}: flagged as broken by the organisers" for c in self.broken]
                + [f"{c}: no folder for this label under {self.root}" for c in self.without_case]
                + [f"{c}: case folder without a label, not used" for c in self.unlabelled]
                + list(self.passed_over))

    def summary(self) -> str:
        """One sentence: how many cases are used and how many did not join, named."""
        parts = [f"{len(self.cases)} case(s) under {self.root}"]
        for count, what in ((self.unlabelled, "case folder(s) without a label"),
                            (self.without_case, "label(s) without a case folder"),
                            (self.broken, "flagged broken by the organisers"),
                            (self.passed_over, "folder(s) passed over")):
            if count:
                names = [line.split(":")[0] for line in count]
                shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                parts.append(f"{len(count)} {what} ({shown})")
        return "; ".join(parts)

    def to_json(self) -> dict:
        """The join as counts and names (for metrics.json)."""
        return {"root": str(self.root), "n_cases": len(self.cases), "unlabelled": list(self.unlabelled),
                "without_case": list(self.without_case), "broken": list(self.broken),
                "passed_over": list(self.passed_over)}


def read_labels(path: Path) -> dict[str, int]:
    """``BraTS21ID,MGMT_value`` rows -> {5-digit case id: 0 or 1}."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise InputError(f"Labels file '{path}' cannot be read ({err}); expected a CSV with "
                         "BraTS21ID,MGMT_value.") from err
    if not rows or not {"BraTS21ID", "MGMT_value"} <= set(rows[0]):
        raise InputError(f"Labels file '{path}' has columns {list(rows[0]) if rows else []}; expected "
                         "BraTS21ID,MGMT_value (the competition's train_labels.csv).")
    labels = {}
    for number, row in enumerate(rows, start=2):
        try:
            labels[f"{int(row['BraTS21ID']):05d}"] = int(row["MGMT_value"])
        except ValueError as err:
            raise InputError(f"Line {number} of '{path}' is {row}; expected a case number and 0 or 1.") from err
    return labels


def case_id_of(name: str) -> str | None:
    """The 5-digit BraTS21ID a case folder's name carries, or None."""
    for pattern in CASE_FOLDER_NAMES:
        match = pattern.match(name)
        if match:
            return f"{int(match['id']):05d}"
    return None


def cohort_root(data_dir: Path) -> Path:
    """The folder holding the case folders: ``DATA/train`` when present (RSNA-MICCAI), else ``DATA``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"'{data_dir}' is not a folder; {LAYOUTS_HELP}.")
    return data_dir / "train" if (data_dir / "train").is_dir() else data_dir


def case_folders(root: Path) -> tuple[dict[str, Path], list[str]]:
    """{BraTS21ID: folder} of the case folders under ``root`` (first in name order wins, as BraTS 2023's timepoint
    000 does), and the other folders passed over, with why."""
    found: dict[str, Path] = {}
    passed_over = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        case_id = case_id_of(folder.name)
        if case_id is None:
            passed_over.append(f"{folder.name}: not a case folder name")
        elif case_id in found:
            passed_over.append(f"{folder.name}: a second folder of case {case_id} (using {found[case_id].name})")
        else:
            found[case_id] = folder
    return found, passed_over


def discover(data_dir: Path, labels: dict[str, int] | None = None) -> Cohort:
    """The cases of a cohort folder; with ``labels``, only labelled ones (the organisers' broken cases left out),
    with the cases and labels that did not join named. Without labels and with no folder named by BraTS21ID,
    every folder is a study named by its folder."""
    root = cohort_root(data_dir)
    found, passed_over = case_folders(root)
    if labels is None:
        if not found:
            found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
            passed_over = []
        if not found:
            raise InputError(f"'{root}' holds no study folder; {LAYOUTS_HELP}.")
        return Cohort(root, tuple(Case(c, None, f) for c, f in found.items()), passed_over=tuple(passed_over))
    labels = {f"{int(k):05d}" if k.isdigit() else k: v for k, v in labels.items()}
    usable = {c: f for c, f in found.items() if c not in BROKEN_CASES}
    cases = tuple(Case(c, labels[c], f) for c, f in usable.items() if c in labels)
    cohort = Cohort(root, cases, unlabelled=tuple(c for c in usable if c not in labels),
                    without_case=tuple(c for c in sorted(labels) if c not in found and c not in BROKEN_CASES),
                    broken=tuple(sorted(labels.keys() & BROKEN_CASES)), passed_over=tuple(passed_over))
    if not cases:
        raise InputError(f"No labelled case folder found under '{root}' ({len(labels)} labels, {len(found)} case "
                         f"folders, {len(passed_over)} other folders); {LAYOUTS_HELP}, with the ids of the labels "
                         "CSV's BraTS21ID column.")
    return cohort


def find_cases(data_dir: Path, labels: dict[str, int]) -> tuple[list[Case], list[str]]:
    """Labelled case folders under ``data_dir`` and a line per case or label left out, with why."""
    cohort = discover(data_dir, labels)
    return list(cohort.cases), cohort.notes()
