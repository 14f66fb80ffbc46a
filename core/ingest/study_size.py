"""The voxels a study will hold, from its headers, checked against ``MGMT_MAX_STUDY_VOXELS`` before any series is
read: each sequence within ``MGMT_MAX_VOXELS`` is not enough, four of them together must fit the slot's memory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np

from core.config import Settings
from core.errors import UploadTooLarge
from core.ingest.dicom_files import DicomSeries


def dicom_shape(series: DicomSeries) -> tuple[int, ...]:
    """Columns x rows x slices as the first file's header says; () when it does not (the reader says why later)."""
    try:
        return int(series.first.Columns), int(series.first.Rows), len(series.slices)
    except (AttributeError, KeyError, TypeError, ValueError):
        return ()


def nifti_shape(path: Path) -> tuple[int, ...]:
    """The shape in a NIfTI header (read without the voxels); () when it cannot be read (the reader says why)."""
    try:
        return tuple(int(n) for n in nib.load(path).shape)
    except Exception:  # noqa: BLE001 - any unreadable header is refused, with its reason, by load_nifti_volume
        return ()


def check_study_size(shapes: Mapping[str, tuple[int, ...]], shown: str, settings: Settings) -> None:
    """UploadTooLarge when the sequences' voxels together pass ``settings.max_study_voxels``."""
    voxels = {name: int(np.prod(shape, dtype=np.int64)) if shape else 0 for name, shape in shapes.items()}
    total = sum(voxels.values())
    if total > settings.max_study_voxels:
        listed = ", ".join(f"{name} {' x '.join(map(str, shapes[name]))}" for name in shapes if voxels[name])
        raise UploadTooLarge(f"'{shown}' holds {total:,} voxels ({listed}); expected at most "
                             f"{settings.max_study_voxels:,} for one study (MGMT_MAX_STUDY_VOXELS: the memory a "
                             "study may take).")
