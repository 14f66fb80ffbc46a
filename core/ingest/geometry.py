"""Voxel-to-world geometry: DICOM headers to RAS affines, and what an affine says about a volume."""

from __future__ import annotations

import nibabel as nib
import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""DICOM's patient coordinates (LPS) to the RAS world of NIfTI, MONAI and nibabel."""

OBLIQUE_DEGREES = 10.0
"""A slice normal further than this from every anatomical axis makes a series oblique."""


def slice_normal(orientation: np.ndarray) -> np.ndarray:
    """The unit normal of slices whose ImageOrientationPatient is ``orientation`` (row, column cosines)."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    return normal / np.linalg.norm(normal)


def dicom_affine(
    orientation: np.ndarray,
    first_position: np.ndarray,
    pixel_spacing: tuple[float, float],
    slice_step: np.ndarray,
) -> np.ndarray:
    """RAS affine of a volume indexed ``[column, row, slice]`` from the headers of its slices.

    ``pixel_spacing`` is DICOM's (between rows, between columns); ``slice_step`` is the LPS vector from one
    slice's ImagePositionPatient to the next one's, so any slice direction (even sheared) is exact.
    """
    row_cos, col_cos = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    lps = np.eye(4)
    lps[:3, 0] = row_cos * float(pixel_spacing[1])
    lps[:3, 1] = col_cos * float(pixel_spacing[0])
    lps[:3, 2] = np.asarray(slice_step, float)
    lps[:3, 3] = np.asarray(first_position, float)
    return LPS_TO_RAS @ lps


def voxel_spacing(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size in millimetres along each array axis."""
    return tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))


def axis_codes(affine: np.ndarray) -> str:
    """Orientation codes such as ``'LPS'``: where each array axis points in the RAS world."""
    return "".join(nib.orientations.aff2axcodes(affine))


def acquisition_plane(affine: np.ndarray, slice_axis: int = 2) -> str:
    """``axial``, ``sagittal``, ``coronal`` or ``oblique``, from the direction of ``slice_axis``."""
    normal = np.asarray(affine[:3, slice_axis], float)
    normal = np.abs(normal / np.linalg.norm(normal))
    dominant = int(np.argmax(normal))
    if np.degrees(np.arccos(min(1.0, normal[dominant]))) > OBLIQUE_DEGREES:
        return "oblique"
    return ("sagittal", "coronal", "axial")[dominant]


def world_of_voxels(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    """World (RAS mm) coordinates of voxel indices ``ijk`` (N x 3)."""
    ijk = np.atleast_2d(np.asarray(ijk, float))
    return ijk @ affine[:3, :3].T + affine[:3, 3]
