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
        image = nib.load(path)
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
        array = np.asarray(image.dataobj, dtype=np.float32).reshape(shape)
    except (OSError, ValueError, EOFError, MemoryError, zlib.error) as err:
        raise InputError(f"NIfTI file '{shown}' is damaged or truncated ({err}); expected a complete image.") from err
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"NIfTI file '{shown}' has {bad:,} NaN or infinite voxels; expected finite intensities.")
    affine = np.asarray(image.affine, dtype=float)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-6:
        raise InputError(f"NIfTI file '{shown}' has a degenerate affine; expected voxel sizes and orientation "
                         "in its header (sform or qform).")
    check_voxel_size(affine, f"NIfTI file '{shown}'")
    return array, affine
