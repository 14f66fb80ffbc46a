"""The common grid all four sequences are put on, and resampling straight onto it through world coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from monai.transforms import Transform
from scipy import ndimage

from core.ingest.study import Study, Volume


@dataclass(frozen=True)
class Grid:
    """A RAS voxel grid: ``affine`` maps voxel indices to world millimetres."""

    affine: np.ndarray
    shape: tuple[int, int, int]

    @classmethod
    def centred(cls, centre_mm: np.ndarray, spacing_mm: tuple[float, ...], shape: tuple[int, ...]) -> Grid:
        """RAS-aligned grid of ``shape`` voxels of ``spacing_mm`` whose middle is ``centre_mm``."""
        affine = np.diag([*map(float, spacing_mm), 1.0])
        affine[:3, 3] = np.asarray(centre_mm, float) - affine[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
        return cls(affine, tuple(int(n) for n in shape))

    def world(self) -> np.ndarray:
        """World coordinates of every voxel, (3, N) float32, in C order of ``shape``."""
        ijk = np.indices(self.shape, dtype=np.float32).reshape(3, -1)
        return (self.affine[:3, :3] @ ijk + self.affine[:3, 3:4]).astype(np.float32)


def foreground_centre(study: Study, stride: int = 4) -> np.ndarray:
    """World centre of the head: mean position of voxels above 10% of the robust maximum, over all sequences."""
    points, weights = [], []
    for volume in study.volumes.values():
        sub = np.asarray(volume.array[::stride, ::stride, ::stride], dtype=np.float32)
        threshold = 0.1 * np.percentile(sub, 99.5)
        ijk = np.argwhere(sub > threshold) * stride
        if len(ijk):
            points.append((ijk.mean(axis=0) @ volume.affine[:3, :3].T) + volume.affine[:3, 3])
            weights.append(len(ijk) * np.prod(volume.spacing_mm) * stride**3)
    if not points:
        return np.zeros(3)
    return np.average(np.array(points), axis=0, weights=np.array(weights))


class ResampleToGrid(Transform):
    """Trilinear resampling of a Volume onto a Grid through world coordinates; zero outside the volume.

    It samples only the grid's voxels (cost follows the output, not the 100-million-voxel input) and
    applies the volume's rescale afterwards, which trilinear interpolation commutes with. ``order=0``
    (nearest neighbour) is for label maps.
    """

    def __init__(self, grid: Grid, order: int = 1) -> None:
        self.grid = grid
        self.order = order

    def __call__(self, volume: Volume) -> np.ndarray:
        to_voxel = np.linalg.inv(volume.affine) @ np.vstack([self.grid.affine[:3], [0, 0, 0, 1]])
        ijk = to_voxel[:3, :3].astype(np.float32) @ np.indices(self.grid.shape, dtype=np.float32).reshape(3, -1)
        ijk += to_voxel[:3, 3:4].astype(np.float32)
        values = ndimage.map_coordinates(volume.array, ijk, order=self.order, mode="constant", cval=0.0,
                                         output=np.float32)
        slope, intercept = volume.rescale
        if (slope, intercept) != (1.0, 0.0):
            inside = _inside(ijk, volume.shape)
            values[inside] = values[inside] * np.float32(slope) + np.float32(intercept)
        return values.reshape(self.grid.shape)


def _inside(ijk: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    upper = np.asarray(shape, np.float32)[:, None] - 1
    return np.all((ijk >= 0) & (ijk <= upper), axis=0)
