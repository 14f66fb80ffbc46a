"""Tumour label maps for training and evaluation: BraTS-style files, resampled onto the model grid.

A masks folder holds one label file per case, named ``<id>_seg.nii.gz`` (as ``core synth`` writes them),
``BraTS2021_<id>_seg.nii.gz`` (BraTS 2021) or ``BraTS-GLI-<id>-<timepoint>-seg.nii.gz`` (BraTS 2023), flat or
inside the case's own folder, so ``--masks`` may name the cohort folder itself. Labels are BraTS values: 0
background and ``core.regions.LABELS`` (3, the BraTS 2023 value of enhancing tumour, is read as 4). They are put on
the model grid by nearest neighbour through world coordinates.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from core.errors import InputError
from core.ingest.study import Volume
from core.model.network import SEGMENT_LABELS
from core.preprocess.grid import Grid, ResampleToGrid
from core.regions import ENHANCING, LABELS, MEASURED

BRATS_VALUES = frozenset({0, 1, 2, 3, 4})


def mask_patterns(case_id: str) -> tuple[str, ...]:
    """Where a case's label file may be, relative to a masks folder: flat or inside the case's own folder."""
    synth, brats21, brats23 = f"{case_id}_seg", f"BraTS2021_{case_id}", f"BraTS-GLI-{case_id}-*"
    return (f"{synth}.nii.gz", f"{synth}.nii", f"{brats21}_seg.nii*", f"{brats21}/{brats21}_seg.nii*",
            f"{brats23}-seg.nii*", f"{brats23}/{brats23}-seg.nii*", f"{case_id}/*_seg.nii*")


def mask_names(case_id: str) -> str:
    """The label file names looked for, as a message says them."""
    return (f"{case_id}_seg.nii.gz, BraTS2021_{case_id}_seg.nii.gz or BraTS-GLI-{case_id}-<timepoint>-seg.nii.gz "
            "(flat, or inside the case's folder)")


def mask_path(masks_dir: Path, case_id: str) -> Path | None:
    """The label file of a case in ``masks_dir`` or its ``train/`` (any naming of ``mask_patterns``), or None."""
    for folder in (masks_dir, masks_dir / "train"):
        for pattern in mask_patterns(case_id):
            found = sorted(p for p in folder.glob(pattern) if p.is_file())
            if found:
                return found[0]
    return None


def read_mask(path: Path) -> Volume:
    """A label file as a Volume of BraTS values (uint8) with its RAS affine; InputError naming the file."""
    try:
        image = nib.load(path)
        array = np.asarray(image.dataobj)
    except (OSError, ValueError, EOFError, nib.filebasedimages.ImageFileError) as err:
        raise InputError(f"Label file '{path}' cannot be read ({err}); expected a BraTS-style .nii.gz label "
                         "map.") from err
    array = array.reshape(array.shape[:3]) if array.ndim == 4 and array.shape[3] == 1 else array
    if array.ndim != 3:
        raise InputError(f"Label file '{path}' has shape {array.shape}; expected one 3D label map.")
    found = set(np.unique(array).tolist())
    if not found <= BRATS_VALUES:
        named = ", ".join(f"{label.value} ({label.name})" for label in LABELS)
        raise InputError(f"Label file '{path}' holds values {sorted(found)}; expected BraTS labels 0, {named}; 3 "
                         f"is read as {ENHANCING}.")
    labels = np.asarray(array, np.uint8)
    labels[labels == 3] = ENHANCING
    return Volume("seg", labels, np.asarray(image.affine, float), str(path), "file name")


def mask_on_grid(path: Path, grid: Grid) -> np.ndarray:
    """BraTS label values (uint8) on ``grid``, nearest neighbour through world coordinates; 0 outside the file."""
    return np.rint(ResampleToGrid(grid, order=0)(read_mask(path))).astype(np.uint8)


def label_channels(labels: np.ndarray) -> np.ndarray:
    """BraTS values -> segmentation channel index (0 background, then ``SEGMENT_LABELS``' order)."""
    lookup = np.zeros(256, np.int64)
    for channel, value in enumerate(SEGMENT_LABELS):
        lookup[value] = channel
    return lookup[labels]


def channel_labels(channels: np.ndarray) -> np.ndarray:
    """Segmentation channel index -> BraTS values (uint8)."""
    return np.asarray(SEGMENT_LABELS, np.uint8)[channels]


def dice(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Dice overlap of two boolean maps (1.0 when both are empty)."""
    total = int(predicted.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(predicted, truth).sum()) / total


def region_dice(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Dice of each measured region (``core.regions.MEASURED``: whole tumour, tumour core, enhancing tumour, then
    the necrotic core and oedema) between two BraTS label maps, by region key."""
    return {region.key: dice(region.mask(predicted), region.mask(truth)) for region in MEASURED}
