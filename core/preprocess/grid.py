"""The common grid all four sequences are put on, and resampling straight onto it through world coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from monai.transforms import Transform
from scipy import ndimage

from core.ingest.content import SUBSAMPLE_VOXELS, SeriesContent
from core.ingest.study import Study, Volume
from core.parallel import each_sequence

BACKGROUND_SHARE = 0.2
"""A value filling at least this share of a series is its background (the zeros around a skull-stripped brain, or
whatever value a pipeline stored them as); a skull-stripped brain fills about 5-30% of a series' field of view."""


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


def background_level(volume: Volume, content: SeriesContent | None = None) -> float:
    """The stored value of a series' voxels outside the head: its most common value when that fills at least
    BACKGROUND_SHARE (skull-stripped, whether stored raw, z-scored or rescaled), else its 1st percentile (the noise
    floor of air around a head). Intensities are taken relative to it, so a linear rescaling changes nothing."""
    content = content or SeriesContent.measure(volume.array)
    if content.dominant_fraction >= BACKGROUND_SHARE:
        return content.dominant_value
    stride = max(1, round((volume.array.size / SUBSAMPLE_VOXELS) ** (1 / 3)))
    return float(np.percentile(volume.array[::stride, ::stride, ::stride], 1))


def foreground_centre(study: Study, stride: int = 4) -> np.ndarray:
    """World centre of the head: mean position of voxels above 10% of the robust maximum (relative to the
    background level, or any voxel off a constant background), over all sequences."""
    def centre(name: str) -> tuple[np.ndarray, float] | None:
        """The world centre of one sequence's tissue voxels and their volume (mm^3), or None without tissue."""
        volume = study.volumes[name]
        sub = np.asarray(volume.array[::stride, ::stride, ::stride], dtype=np.float32)
        content = study.content.get(name) or SeriesContent.measure(volume.array)
        level = np.float32(background_level(volume, content))
        tissue = sub - level > 0.1 * (np.percentile(sub, 99.5) - level)
        ijk = np.argwhere(tissue) * stride
        if not len(ijk):
            return None
        point = (ijk.mean(axis=0) @ volume.affine[:3, :3].T) + volume.affine[:3, 3]
        return point, len(ijk) * np.prod(volume.spacing_mm) * stride**3

    found = [result for result in each_sequence(centre, study.volumes) if result is not None]
    if not found:
        return np.zeros(3)
    return np.average(np.array([point for point, _ in found]), axis=0, weights=np.array([w for _, w in found]))


class ResampleToGrid(Transform):
    """Trilinear resampling of a Volume onto a Grid through world coordinates.

    It samples only the grid's voxels (cost follows the output, not the 100-million-voxel input) and
    applies the volume's rescale afterwards, which trilinear interpolation commutes with. With ``background``
    (a stored value, see ``background_level``) intensities come out relative to it, 0 outside the head and outside
    the volume, whatever offset the series was stored with; without, 0 outside the volume. ``order=0``
    (nearest neighbour) is for label maps.
    """

    def __init__(self, grid: Grid, order: int = 1, background: float | None = None) -> None:
        self.grid = grid
        self.order = order
        self.background = background

    def __call__(self, volume: Volume) -> np.ndarray:
        to_voxel = np.linalg.inv(volume.affine) @ np.vstack([self.grid.affine[:3], [0, 0, 0, 1]])
        ijk = to_voxel[:3, :3].astype(np.float32) @ np.indices(self.grid.shape, dtype=np.float32).reshape(3, -1)
        ijk += to_voxel[:3, 3:4].astype(np.float32)
        level = 0.0 if self.background is None else float(self.background)
        values = ndimage.map_coordinates(volume.array, ijk, order=self.order, mode="constant", cval=level,
                                         output=np.float32)
        slope, intercept = volume.rescale
        if self.background is not None:
            values -= np.float32(level)
            if slope != 1.0:
                values *= np.float32(slope)
        elif (slope, intercept) != (1.0, 0.0):
            inside = _inside(ijk, volume.shape)
            values[inside] = values[inside] * np.float32(slope) + np.float32(intercept)
        return values.reshape(self.grid.shape)


def _inside(ijk: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    upper = np.asarray(shape, np.float32)[:, None] - 1
    return np.all((ijk >= 0) & (ijk <= upper), axis=0)
