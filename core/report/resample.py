"""The model's label map brought onto the slices of a source DICOM series, through world coordinates.

Each source pixel's centre is placed in DICOM patient coordinates (LPS: ImagePositionPatient plus column and row
steps along ImageOrientationPatient), turned into the RAS world of the model grid, and looked up there. Each label's
indicator is interpolated (trilinear) and the strongest taken, so the outline follows the tumour smoothly instead
of showing the model grid's cubes.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from core.ingest.geometry import LPS_TO_RAS
from core.ingest.identity import SeriesGeometry


def pixel_to_lps(geometry: SeriesGeometry, index: int) -> np.ndarray:
    """4x4 map from (column, row, 0, 1) of instance ``index`` to its LPS position in mm."""
    orientation = np.asarray(geometry.orientation, float)
    between_rows, between_columns = geometry.pixel_spacing
    placed = np.eye(4)
    placed[:3, 0] = orientation[:3] * between_columns  # along a row: the column index grows
    placed[:3, 1] = orientation[3:] * between_rows  # down a column: the row index grows
    placed[:3, 3] = geometry.positions[index]
    return placed


def labels_on_slices(labels: np.ndarray, grid_affine: np.ndarray, geometry: SeriesGeometry,
                     values: tuple[int, ...]) -> np.ndarray:
    """(slices, rows, columns) uint8 map of ``labels`` (a label map on the RAS grid ``grid_affine``) on the source
    series' instances, in ``geometry.order()``; each pixel holds one of ``values`` or 0."""
    out = np.zeros((len(geometry.positions), geometry.rows, geometry.columns), np.uint8)
    found = np.argwhere(np.isin(labels, values))
    if not len(found):
        return out
    low = np.maximum(found.min(axis=0) - 2, 0)
    high = np.minimum(found.max(axis=0) + 3, labels.shape)
    crop = labels[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    indicators = np.stack([(crop == value).astype(np.float32) for value in (0, *values)])
    to_crop = np.linalg.inv(grid_affine) @ LPS_TO_RAS
    columns, rows = np.meshgrid(np.arange(geometry.columns), np.arange(geometry.rows))
    pixels = np.stack([columns.ravel(), rows.ravel(), np.zeros(columns.size), np.ones(columns.size)])
    shown = np.asarray((0, *values), np.uint8)
    for frame, index in enumerate(geometry.order()):
        ijk = (to_crop @ pixel_to_lps(geometry, int(index)) @ pixels)[:3] - low[:, None]
        inside = np.all((ijk >= -0.5) & (ijk <= (high - low)[:, None] - 0.5), axis=0)
        if not inside.any():
            continue
        points = ijk[:, inside]
        strength = np.stack([map_coordinates(channel, points, order=1, mode="nearest") for channel in indicators])
        plane = out[frame].reshape(-1)
        plane[inside] = shown[np.argmax(strength, axis=0)]
    return out
