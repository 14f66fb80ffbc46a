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
    series' instances, in ``geometry.order()``; each pixel holds one of ``values`` or 0. Only the pixels of a slice
    that the tumour's bounding box (on the grid) can reach are looked up."""
    out = np.zeros((len(geometry.positions), geometry.rows, geometry.columns), np.uint8)
    found = np.argwhere(np.isin(labels, values))
    if not len(found):
        return out
    low = np.maximum(found.min(axis=0) - 2, 0)
    high = np.minimum(found.max(axis=0) + 3, labels.shape)
    crop = labels[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    indicators = np.stack([(crop == value).astype(np.float32) for value in (0, *values)])
    shown = np.asarray((0, *values), np.uint8)
    to_crop = np.linalg.inv(grid_affine) @ LPS_TO_RAS
    corners = np.stack(np.meshgrid(*[(a - 0.5, b - 0.5) for a, b in zip(low, high, strict=True)],
                                   indexing="ij")).reshape(3, -1)
    box_lps = (np.linalg.inv(to_crop) @ np.vstack([corners, np.ones(corners.shape[1])]))[:3]
    for frame, index in enumerate(geometry.order()):
        placed = pixel_to_lps(geometry, int(index))
        reach = _pixels_reached(placed, box_lps, geometry)
        if reach is None:
            continue
        (row0, row1), (col0, col1) = reach
        columns, rows = np.meshgrid(np.arange(col0, col1), np.arange(row0, row1))
        pixels = np.stack([columns.ravel(), rows.ravel(), np.zeros(columns.size), np.ones(columns.size)])
        ijk = (to_crop @ placed @ pixels)[:3] - low[:, None]
        inside = np.all((ijk >= -0.5) & (ijk <= (high - low)[:, None] - 0.5), axis=0)
        if not inside.any():
            continue
        strength = np.stack([map_coordinates(channel, ijk[:, inside], order=1, mode="nearest")
                             for channel in indicators])
        plane = np.zeros(columns.size, np.uint8)
        plane[inside] = shown[np.argmax(strength, axis=0)]
        out[frame, row0:row1, col0:col1] = plane.reshape(columns.shape)
    return out


def _pixels_reached(placed: np.ndarray, box_lps: np.ndarray, geometry: SeriesGeometry
                    ) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The (row, column) ranges of a slice that a box (its 8 corners in LPS) can cover; None when the slice's plane
    misses the box."""
    offsets = box_lps - placed[:3, 3:4]
    normal = np.cross(placed[:3, 0], placed[:3, 1])
    distance = normal @ offsets
    if distance.min() > 0 or distance.max() < 0:
        return None
    steps = np.linalg.norm(placed[:3, :2], axis=0)
    column = placed[:3, 0] @ offsets / steps[0] ** 2
    row = placed[:3, 1] @ offsets / steps[1] ** 2
    rows = (max(int(np.floor(row.min())), 0), min(int(np.ceil(row.max())) + 1, geometry.rows))
    columns = (max(int(np.floor(column.min())), 0), min(int(np.ceil(column.max())) + 1, geometry.columns))
    if rows[0] >= rows[1] or columns[0] >= columns[1]:
        return None
    return rows, columns
