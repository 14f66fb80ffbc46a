"""The model-grid overlays brought onto the display grid: the Grad-CAM map, and the tumour labels taken there from
the segmentation's per-class probabilities, both upsampled trilinearly (separable: both grids are RAS-aligned).

Taking the label after upsampling the probabilities (rather than upsampling the label map by nearest voxel) gives
the overlay an outline at display resolution instead of model-grid cubes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.preprocess.grid import Grid

LABEL_SLAB = 32
"""Display planes whose labels are taken at once (4 classes x 32 x 256 x 256 float32 is 32 MB)."""


@dataclass(frozen=True)
class TumourProbabilities:
    """The segmentation on the model grid as per-class probabilities (the softmax of the network's output)."""

    probabilities: np.ndarray  # (classes, X, Y, Z) on the prepared study's grid
    values: tuple[int, ...]  # the BraTS label value of each class (0: background)

    def labels(self) -> np.ndarray:
        """The BraTS label map on the model grid: the most probable class of each voxel."""
        return np.asarray(self.values, np.uint8)[np.argmax(self.probabilities, axis=0)]


def labels_on_grid(tumour: TumourProbabilities, source: Grid, target: Grid,
                   labels: np.ndarray | None = None) -> np.ndarray:
    """BraTS labels (uint8) on ``target``: each class's probability upsampled trilinearly from ``source``, then the
    most probable class. Only the box of the tumour on ``source`` (``labels``, grown by one voxel) is computed, in
    slabs of ``LABEL_SLAB`` planes: outside it every corner of a voxel's cell is background, so is their blend."""
    labels = tumour.labels() if labels is None else labels
    shown = np.zeros(target.shape, np.uint8)
    found = np.argwhere(labels > 0)
    if not len(found):
        return shown
    low, high = np.maximum(found.min(0) - 1, 0), np.minimum(found.max(0) + 2, source.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
    source_affine = source.affine.copy()
    source_affine[:3, 3] = source.affine[:3, :3] @ low + source.affine[:3, 3]
    cropped = Grid(source_affine, tuple(int(n) for n in high - low))
    world = np.array([low, high - 1]) @ source.affine[:3, :3].T + source.affine[:3, 3]
    ijk = (world - target.affine[:3, 3]) / np.diag(target.affine)[:3]
    first = np.clip(np.ceil(ijk.min(0) - 1e-6), 0, target.shape).astype(int)
    last = np.clip(np.floor(ijk.max(0) + 1e-6) + 1, 0, target.shape).astype(int)
    values = np.asarray(tumour.values, np.uint8)
    for start in range(first[0], last[0], LABEL_SLAB):
        stop = min(start + LABEL_SLAB, last[0])
        corner = np.array([start, first[1], first[2]])
        slab_affine = target.affine.copy()
        slab_affine[:3, 3] = target.affine[:3, :3] @ corner + target.affine[:3, 3]
        slab = Grid(slab_affine, (stop - start, int(last[1] - first[1]), int(last[2] - first[2])))
        blended = np.stack([linear_on_grid(channel[box], cropped, slab) for channel in tumour.probabilities])
        picked = values[np.argmax(blended, axis=0)]
        picked[blended.sum(axis=0) <= 0] = 0  # beyond the source's edge voxels: nothing to blend
        shown[start:stop, first[1]:last[1], first[2]:last[2]] = picked
    return shown


def cam_on_grid(cam: np.ndarray, brain_mask: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """The Grad-CAM map (0..1 on ``source``) inside the brain grown by one voxel, as uint8 levels 0..255 on
    ``target`` (outside the brain the network sees zeros: the map there is padding, not evidence)."""
    inside = np.where(ndimage.binary_dilation(brain_mask), cam, 0.0)
    levels = linear_on_grid(inside, source, target, scale=255.0)
    levels += 0.5  # rounds on the cast below (the map is within 0..1, so levels stay within 0..255.5)
    return levels.astype(np.uint8)


def linear_on_grid(volume: np.ndarray, source: Grid, target: Grid, scale: float = 1.0) -> np.ndarray:
    """Trilinear resampling (times ``scale``) between two RAS-aligned grids, one axis at a time, float32; 0 beyond
    the source's edge voxels."""
    to_source = np.linalg.inv(source.affine) @ target.affine
    if not np.allclose(to_source[:3, :3], np.diag(np.diag(to_source[:3, :3]))):
        raise ValueError("linear_on_grid needs two grids with the same axes (both RAS-aligned)")
    values = np.asarray(volume, np.float32)
    for axis in range(3):
        coordinate = to_source[axis, axis] * np.arange(target.shape[axis]) + to_source[axis, 3]
        below = np.floor(coordinate)
        inside = (coordinate >= 0) & (coordinate <= volume.shape[axis] - 1)
        upper = np.where(inside, coordinate - below, 0.0) * (scale if axis == 2 else 1.0)
        lower = np.where(inside, 1.0 - (coordinate - below), 0.0) * (scale if axis == 2 else 1.0)
        low = np.clip(below.astype(np.intp), 0, volume.shape[axis] - 1)
        high = np.clip(low + 1, 0, volume.shape[axis] - 1)
        shape = [1, 1, 1]
        shape[axis] = -1
        result = np.take(values, low, axis=axis)
        result *= lower.astype(np.float32).reshape(shape)
        part = np.take(values, high, axis=axis)
        part *= upper.astype(np.float32).reshape(shape)
        result += part
        values = result
    return values
