"""NIfTI files of a study (BraTS naming): load one sequence with its affine, checked for sanity."""

from __future__ import annotations

import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.spatialimages import HeaderDataError

from core.config import Settings
from core.errors import InputError
from core.ingest.dicom_volume import check_volume_size, check_voxel_size


def load_nifti_volume(path: Path, shown: str, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """A 3D NIfTI as float32 ``[i, j, k]`` with its RAS affine (sform, else qform, as nibabel chooses)."""
    try:
        image = nib.load(path, keep_file_open=True)  # slabs are read one after the other from one open stream
        shape = tuple(int(n) for n in image.shape)
    except (nib.filebasedimages.ImageFileError, HeaderDataError, OSError, ValueError, EOFError) as err:
        raise InputError(f"NIfTI file '{shown}' cannot be read ({err}); expected a .nii or .nii.gz image.") from err
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise InputError(f"NIfTI file '{shown}' is {len(shape)}D with shape {shape}; expected one 3D volume "
                         "per sequence (split 4D series into one file per sequence).")
    check_volume_size(shape, f"NIfTI file '{shown}'", settings)
    try:
        array = _read_in_slabs(image, shape)
    except (OSError, ValueError, EOFError, MemoryError, zlib.error) as err:
        raise InputError(f"NIfTI file '{shown}' is damaged or truncated ({err}); expected a complete image.") from err
    bad = _count_not_finite(array)
    if bad:
        raise InputError(f"NIfTI file '{shown}' has {bad:,} NaN or infinite voxels; expected finite intensities.")
    affine = np.asarray(image.affine, dtype=float)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-6:
        raise InputError(f"NIfTI file '{shown}' has a degenerate affine; expected voxel sizes and orientation "
                         "in its header (sform or qform).")
    check_voxel_size(affine, f"NIfTI file '{shown}'")
    return array, affine


SLAB_VOXELS = 1 << 22
"""Voxels read at a time (16 MiB as float32): the volume is the only full-size array reading it makes."""


def _read_in_slabs(image: nib.Nifti1Image, shape: tuple[int, ...]) -> np.ndarray:
    """The voxels as float32, filled slab by slab along the last axis (the file's order), so that a float64 or
    scaled file never exists whole in memory beside its float32 copy."""
    array = np.empty(shape, dtype=np.float32, order="F")
    step = max(1, SLAB_VOXELS // max(1, shape[0] * shape[1]))
    for start in range(0, shape[2], step):
        stop = min(shape[2], start + step)
        slab = image.dataobj[:, :, start:stop, 0] if len(image.shape) == 4 else image.dataobj[:, :, start:stop]
        array[:, :, start:stop] = slab
    return array


def _count_not_finite(array: np.ndarray) -> int:
    """NaN and infinite voxels, counted slab by slab (no volume-size mask)."""
    return sum(int(np.count_nonzero(~np.isfinite(array[:, :, k:k + 16]))) for k in range(0, array.shape[2], 16))
