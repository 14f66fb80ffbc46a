"""Write synthetic cases and cohorts in the RSNA-MICCAI layout (or BraTS NIfTI), with labels and truth.

Layout: ``OUT/train/<5-digit id>/{FLAIR,T1w,T1wCE,T2w}/Image-N.dcm`` (or
``OUT/train/<id>/BraTS2021_<id>_{flair,t1,t1ce,t2}.nii.gz``), ``OUT/train_labels.csv``
(``BraTS21ID,MGMT_value``, exactly as the competition's file), ``OUT/truth.csv`` and
``OUT/masks/<id>_seg.nii.gz`` (BraTS labels) and ``<id>_brain.nii.gz`` on the case's reference grid.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import nibabel as nib
import numpy as np

from core import SEQUENCES
from core.errors import InputError
from core.ingest.geometry import acquisition_plane
from core.regions import MEASURED
from core.synth.acquisition import SeriesPlan, acquire, plan_series
from core.synth.anatomy import deformed, head_layers
from core.synth.contrast import render_all
from core.synth.dicom_writer import PROTOCOLS, fake_patient, seeded_uid, write_series
from core.synth.tumour import (
    DEFAULT_SEPARATION,
    TumourTraits,
    best_achievable_auc,
    draw_traits,
    tumour_labels,
)

Size = Literal["small", "rsna"]
Format = Literal["dicom", "nifti"]
REFERENCE_SPACING_MM = {"small": 2.0, "rsna": 1.0}
PLANE_PREFIX = {"axial": "AX", "sagittal": "SAG", "coronal": "COR", "oblique": "OBL"}
NIFTI_SUFFIX = {"FLAIR": "flair", "T1w": "t1", "T1wCE": "t1ce", "T2w": "t2"}
TRUTH_COLUMNS = ["BraTS21ID", "MGMT_value", "latent_score", "necrotic_fraction", "oedema_extent", "radius_mm",
                 *[f"{region.key}_volume_ml" for region in MEASURED], "planes", "skull", "separation",
                 "best_achievable_auc"]
"""truth.csv: per case, the label and latent score, the traits they set, and every measured region's volume."""


@dataclass(frozen=True)
class CaseTruth:
    """What the generator knows about a case: label, latent score, tumour and every series' geometry."""

    case_id: str
    traits: TumourTraits
    plans: dict[str, SeriesPlan]
    reference_affine: np.ndarray
    volumes_ml: dict[str, float]
    skull: bool
    separation: float

    def row(self) -> dict[str, object]:
        planes = ";".join(f"{seq}:{plan.plane}" for seq, plan in self.plans.items())
        return {
            "BraTS21ID": int(self.case_id), "MGMT_value": self.traits.label,
            "latent_score": round(self.traits.score, 6),
            "necrotic_fraction": round(self.traits.necrotic_fraction, 4),
            "oedema_extent": round(self.traits.oedema_extent, 4), "radius_mm": round(self.traits.radius_mm, 2),
            **{f"{key}_volume_ml": round(volume, 3) for key, volume in self.volumes_ml.items()},
            "planes": planes, "skull": int(self.skull), "separation": self.separation,
            "best_achievable_auc": round(best_achievable_auc(self.separation), 4),
        }


def case_rng(seed: int, index: int) -> np.random.Generator:
    """Each case has its own stream, so case 7 is the same whatever the cohort size."""
    return np.random.default_rng([seed, index])


def _check_option(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"{name} is '{value}'; expected one of {', '.join(allowed)}{hint}.")


def _save_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, path)


def write_case(
    root: Path,
    index: int,
    seed: int = 0,
    size: Size = "small",
    fmt: Format = "dicom",
    skull: bool = False,
    separation: float = DEFAULT_SEPARATION,
    keep: dict[str, np.ndarray] | None = None,
) -> CaseTruth:
    """Write case ``index`` under ``root/train/<id>`` and its masks under ``root/masks``; return its truth.

    ``keep``, when given, receives the acquired series volumes (before quantisation) for tests.
    """
    _check_option("size", size, ("small", "rsna"))
    _check_option("format", fmt, ("dicom", "nifti"))
    rng = case_rng(seed, index)
    case_id = f"{index:05d}"
    anatomy = deformed(rng, REFERENCE_SPACING_MM[size])
    traits = draw_traits(rng, anatomy, separation)
    labels = tumour_labels(rng, anatomy, traits)
    layers = head_layers(anatomy.brain, anatomy.spacing) if skull else None
    images = render_all(anatomy, labels, layers)
    case_dir = root / "train" / case_id
    masks = root / "masks"
    masks.mkdir(parents=True, exist_ok=True)
    _save_nifti(labels, anatomy.affine, masks / f"{case_id}_seg.nii.gz")
    _save_nifti(anatomy.brain.astype(np.uint8), anatomy.affine, masks / f"{case_id}_brain.nii.gz")
    voxel_ml = anatomy.spacing**3 / 1000.0
    volumes = {region.key: float(region.mask(labels).sum() * voxel_ml) for region in MEASURED}
    centre = anatomy.affine[:3, :3] @ np.argwhere(anatomy.brain).mean(axis=0) + anatomy.affine[:3, 3]
    patient = fake_patient(rng)
    frame_uid = seeded_uid(rng)
    plans = {}
    for number, sequence in enumerate(SEQUENCES, start=1):
        plan = plan_series(rng, sequence, size, centre)
        if fmt == "nifti":  # BraTS files are co-registered: every sequence on the reference grid
            plan = SeriesPlan(sequence, acquisition_plane(anatomy.affine), anatomy.affine, anatomy.shape,
                              (1.0, 0.0), "ascending", plan.noise)
        plans[sequence] = plan
        volume = acquire(rng, images[sequence], anatomy.affine, plan)
        if keep is not None:
            keep[sequence] = volume
        if fmt == "nifti":
            case_dir.mkdir(parents=True, exist_ok=True)
            stored = np.rint(volume).astype(np.int16)  # BraTS 2021 images are int16
            _save_nifti(stored, anatomy.affine, case_dir / f"BraTS2021_{case_id}_{NIFTI_SUFFIX[sequence]}.nii.gz")
            continue
        protocol = replace(PROTOCOLS[sequence], description=PROTOCOLS[sequence].description.replace(
            "AX", PLANE_PREFIX[plan.plane], 1))
        write_series(volume, plan.affine, case_dir / sequence, patient=patient, protocol=protocol,
                     series_number=number, rescale=plan.rescale, order=plan.order, rng=rng,
                     frame_of_reference_uid=frame_uid)
    return CaseTruth(case_id, traits, plans, anatomy.affine, volumes, skull, separation)


def write_cohort(
    out: Path,
    cases: int,
    seed: int = 0,
    size: Size = "small",
    fmt: Format = "dicom",
    skull: bool = False,
    separation: float = DEFAULT_SEPARATION,
    progress: Callable[[CaseTruth], None] | None = None,
) -> list[CaseTruth]:
    """Write ``cases`` cases plus ``train_labels.csv`` and ``truth.csv``; return every case's truth."""
    out.mkdir(parents=True, exist_ok=True)
    truths = []
    for index in range(cases):
        truth = write_case(out, index, seed=seed, size=size, fmt=fmt, skull=skull, separation=separation)
        truths.append(truth)
        if progress:
            progress(truth)
    with open(out / "train_labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["BraTS21ID", "MGMT_value"])
        writer.writerows([int(t.case_id), t.traits.label] for t in truths)
    with open(out / "truth.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRUTH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(t.row() for t in truths)
    return truths
