"""The tumour as the model segments it: BraTS label map on the model grid, the volume of every measured region
(``core.regions.MEASURED``) in millilitres, the whole tumour's centre in world millimetres, and the label map
written as NIfTI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from core.preprocess.grid import Grid
from core.regions import MEASURED


@dataclass(frozen=True)
class Tumour:
    """Volumes (ml) by region key (whole, core, enhancing, necrotic, oedema) and the whole-tumour centre (world
    mm, RAS; None when nothing is found)."""

    volumes_ml: dict[str, float]
    centre_mm: tuple[float, float, float] | None

    @classmethod
    def measure(cls, labels: np.ndarray, grid: Grid) -> Tumour:
        """Measure a BraTS label map lying on ``grid``."""
        voxel_ml = abs(float(np.linalg.det(grid.affine[:3, :3]))) / 1000.0
        volumes = {region.key: float(region.mask(labels).sum() * voxel_ml) for region in MEASURED}
        whole = np.argwhere(labels > 0)
        centre = None
        if len(whole):
            world = grid.affine[:3, :3] @ whole.mean(axis=0) + grid.affine[:3, 3]
            centre = tuple(float(v) for v in world)
        return cls(volumes, centre)

    @property
    def found(self) -> bool:
        return self.centre_mm is not None

    def to_json(self) -> dict[str, Any]:
        return {"volumes_ml": {k: round(v, 3) for k, v in self.volumes_ml.items()},
                "centre_mm": None if self.centre_mm is None else [round(v, 2) for v in self.centre_mm]}


def image_on_grid(values: np.ndarray, grid: Grid) -> nib.Nifti1Image:
    """A volume on the model grid as a NIfTI image with the grid's RAS affine (sform and qform)."""
    image = nib.Nifti1Image(values, grid.affine)
    image.set_sform(grid.affine, code=1)
    image.set_qform(grid.affine, code=1)
    return image


def segmentation_image(labels: np.ndarray, grid: Grid) -> nib.Nifti1Image:
    """The BraTS label map (uint8) as a NIfTI image with the grid's RAS affine."""
    return image_on_grid(np.asarray(labels, np.uint8), grid)


def export_segmentation(labels: np.ndarray, grid: Grid, path: Path) -> Path:
    """Write the BraTS label map (uint8) with the grid's RAS affine as NIfTI (for 3D Slicer or ITK-SNAP)."""
    return write_on_grid(np.asarray(labels, np.uint8), grid, path)


def write_on_grid(values: np.ndarray, grid: Grid, path: Path) -> Path:
    """Write a volume on the model grid with the grid's RAS affine (sform and qform) as NIfTI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image_on_grid(values, grid), path)
    return path
