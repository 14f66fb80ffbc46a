"""What the viewer draws: the four sequences at the study's own in-plane resolution on one RAS grid, with the
model-grid overlays (Grad-CAM, tumour labels) brought onto it.

The display grid is isotropic, RAS-aligned (the model grid's axes), covers the head box found on the model grid,
and has the finest in-plane spacing of the four series, never finer than ``FINEST_SPACING_MM`` and never more than
``MAX_VOXELS_PER_AXIS`` voxels along an axis. Each sequence is sampled onto it through world coordinates and
stored as uint8 after its display window: when the series is axis-aligned with the grid (as acquired series are),
one gather in its memory order, nearest voxel along axes where it is finer than the grid and a linear blend where
it is coarser (thick slices); an oblique series, nearest voxel in slabs. The Grad-CAM map is upsampled trilinearly
(separable, both grids being RAS-aligned); so are the segmentation's per-class probabilities, and the label is taken
on the display grid (the most probable class of each display voxel), so the overlay's outline is smooth at display
resolution rather than made of model-grid cubes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.ingest.study import Study
from core.parallel import each_sequence
from core.preprocess.brain import foreground_mask
from core.preprocess.chain import PreparedStudy
from core.preprocess.grid import Grid, background_level
from core.preprocess.overlays import TumourProbabilities, cam_on_grid, labels_on_grid
from core.views import cursor_start, mask_centre_mm

FINEST_SPACING_MM = 1.0
"""The display grid is never finer than this: the series' in-plane resolution is kept up to this spacing."""
MAX_VOXELS_PER_AXIS = 256
"""Bound on the display grid along each axis (a 256^3 grid of four uint8 sequences is 64 MB in memory)."""
MARGIN_MM = 6.0
"""Room kept around the head box found on the model grid."""
ALIGNED_TOLERANCE_VOXELS = 0.05
"""A series counts as axis-aligned with the grid when its off-axis drift over the grid stays below this."""


@dataclass(frozen=True)
class DisplayVolumes:
    """The sequences and overlays on the display grid, and where the viewer's cursor starts."""

    grid: Grid  # RAS, isotropic: affine maps display voxels to world mm
    sequences: tuple[str, ...]
    images: np.ndarray  # (len(sequences), X, Y, Z) uint8: each sequence through its display window, 0 outside it
    windows: tuple[tuple[float, float], ...]  # per sequence, the intensities shown as 0 and 255
    cam: np.ndarray | None  # (X, Y, Z) uint8: Grad-CAM 0..1 as 0..255, inside the brain
    labels: np.ndarray | None  # (X, Y, Z) uint8 tumour labels (BraTS 1, 2, 4), 0 elsewhere
    start_mm: tuple[float, float, float]  # the cursor's first world position
    start_from: str  # "tumour centre", "Grad-CAM peak" or "grid centre" (``core.views.cursor_start``)

    @property
    def spacing_mm(self) -> float:
        return float(self.grid.affine[0, 0])

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.images, self.cam, self.labels) if a is not None)

    def world_of(self, voxel: tuple[int, int, int]) -> np.ndarray:
        """World position (mm) of a display voxel's centre."""
        return self.grid.affine[:3, :3] @ np.asarray(voxel, float) + self.grid.affine[:3, 3]

    def voxel_of(self, world_mm: np.ndarray | tuple[float, float, float]) -> tuple[int, int, int]:
        """The display voxel nearest to a world position, kept inside the grid."""
        ijk = np.linalg.solve(self.grid.affine[:3, :3], np.asarray(world_mm, float) - self.grid.affine[:3, 3])
        return tuple(int(np.clip(np.rint(v), 0, n - 1)) for v, n in zip(ijk, self.grid.shape, strict=True))


def intensity_window(volume: np.ndarray) -> tuple[float, float]:
    """Display window of a sequence: 1st to 99.5th percentile of its non-zero voxels (stable across slices), from
    every other voxel along each axis (as good a sample, at an eighth of the cost)."""
    sample = volume[::2, ::2, ::2]
    values = sample[sample != 0]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [1, 99.5])
    return float(low), float(max(high, low + 1e-6))


def stored_window(study: Study, name: str, window: tuple[float, float]) -> tuple[float, float]:
    """A window of ``prepared.intensities`` (intensities relative to the series' background) in the series' own
    intensities (rescale applied), which the viewer samples."""
    if name not in study.volumes:
        return window
    volume = study[name]
    slope, intercept = volume.rescale
    level = background_level(volume, study.content.get(name)) * slope + intercept
    return window[0] + level, window[1] + level


def display_grid(study: Study, prepared: PreparedStudy) -> Grid:
    """The isotropic RAS grid over the head at the series' finest in-plane spacing, within the caps."""
    finest = min(min(volume.spacing_mm[:2]) for volume in study.volumes.values())
    head = foreground_mask(prepared.intensities[:, ::2, ::2, ::2], largest_only=False)  # a box: every other voxel
    model = prepared.grid
    found = np.argwhere(head) * 2
    corners = np.array([found.min(0) - 1, found.max(0) + 1]) if len(found) else \
        np.array([[0, 0, 0], np.subtract(model.shape, 1)])
    world = corners @ model.affine[:3, :3].T + model.affine[:3, 3]
    low, high = world.min(0) - MARGIN_MM, world.max(0) + MARGIN_MM
    spacing = max(finest, FINEST_SPACING_MM, float((high - low).max()) / (MAX_VOXELS_PER_AXIS - 1))
    low = np.floor(low / spacing) * spacing  # voxel centres on multiples of the spacing
    shape = tuple(int(min(MAX_VOXELS_PER_AXIS, np.floor(n) + 1)) for n in (high - low) / spacing)
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = low
    return Grid(affine, shape)


def display_volumes(study: Study, prepared: PreparedStudy, cam: np.ndarray | None,
                    tumour: TumourProbabilities | None = None) -> DisplayVolumes:
    """The viewer's volumes for one prediction: ``cam`` (0..1) and ``tumour`` are on ``prepared.grid``."""
    grid = display_grid(study, prepared)
    images = np.empty((len(prepared.sequences), *grid.shape), np.uint8)
    windows = tuple(stored_window(study, name, intensity_window(channel))
                    for name, channel in zip(prepared.sequences, prepared.intensities, strict=True))

    def sample(channel: int) -> None:
        if prepared.sequences[channel] not in study.volumes:  # a missing sequence: a black image
            images[channel] = 0
            return
        volume = study[prepared.sequences[channel]]
        windowed_on_grid(volume.array, volume.affine, volume.rescale, windows[channel], grid, out=images[channel])

    each_sequence(sample, range(len(prepared.sequences)))
    shown_cam = None if cam is None else cam_on_grid(cam, prepared.brain_mask, prepared.grid, grid)
    labels = None if tumour is None else tumour.labels()
    shown_labels = None if tumour is None else labels_on_grid(tumour, prepared.grid, grid, labels)
    centre = None if labels is None else mask_centre_mm(labels > 0, prepared.grid.affine)
    start, start_from = cursor_start(prepared.grid.affine, prepared.grid.shape, cam, prepared.brain_mask, centre)
    return DisplayVolumes(grid, prepared.sequences, images, windows, shown_cam, shown_labels,
                          tuple(float(v) for v in start), start_from)


def windowed_on_grid(array: np.ndarray, affine: np.ndarray, rescale: tuple[float, float],
                     window: tuple[float, float], grid: Grid, out: np.ndarray | None = None) -> np.ndarray:
    """A series' stored voxels -> uint8 display levels on ``grid`` (into ``out`` when given), 0 outside the series.

    Along an axis where the series is finer than the grid, the nearest voxel; where it is coarser (thick slices, a
    low-resolution study), the two neighbours blended linearly, so reformats are not staircases.
    """
    slope, intercept = rescale
    low, high = window
    if array.dtype in (np.uint8, np.int8, np.uint16, np.int16):  # one lookup table for every stored value
        info = np.iinfo(array.dtype)
        table = _levels(np.arange(info.min, info.max + 1, dtype=np.float32) * np.float32(slope)
                        + np.float32(intercept), low, high)

        def to_levels(values: np.ndarray) -> np.ndarray:
            return table.take(values.astype(np.int64) - info.min if info.min else values)
    else:
        def to_levels(values: np.ndarray) -> np.ndarray:
            return _levels(values.astype(np.float32) * np.float32(slope) + np.float32(intercept), low, high)
    to_source = _to_source(affine, grid)
    follows = _aligned_axes(to_source, grid)
    if follows is None:
        sampled, outside = _gather(array, affine, grid)
        levels = to_levels(sampled)
    else:
        levels, outside = _aligned_sample(array, to_source, follows, grid, to_levels, blend=True)
    if out is None:
        out = np.empty(grid.shape, np.uint8)
    out[...] = levels
    if outside is not None:
        out[outside] = 0
    return out


def _aligned_sample(array: np.ndarray, to_source: np.ndarray, follows: list[int], grid: Grid,
                    convert: Callable[[np.ndarray], np.ndarray], blend: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """An axis-aligned array on ``grid`` (a view in grid order) and the grid voxels outside it (None when none):
    one gather in the array's memory order (nearest voxel, or the span needed for blending), ``convert`` on that
    smaller array, then with ``blend`` a linear blend in integers (``convert`` gives uint8) along the axes where
    the array is the coarser."""
    picks, blends, inside = [], {}, [np.empty(0)] * 3
    for s, axis in enumerate(follows):
        coordinate = to_source[s, axis] * np.arange(grid.shape[axis]) + to_source[s, 3]
        rounded = np.floor(coordinate + 0.5)
        inside[axis] = (rounded >= 0) & (rounded <= array.shape[s] - 1)
        if blend and abs(to_source[s, axis]) < 1.0 - 1e-6 and array.shape[s] > 1:  # the grid is finer here
            below = np.clip(np.floor(coordinate), 0, array.shape[s] - 1).astype(np.intp)
            above = np.minimum(below + 1, array.shape[s] - 1)
            weight = np.rint(np.clip(coordinate - below, 0.0, 1.0) * 256).astype(np.uint16)
            first = int(below.min())
            picks.append(np.arange(first, int(above.max()) + 1))
            blends[s] = (below - first, above - first, weight)
        else:
            picks.append(np.clip(rounded, 0, array.shape[s] - 1).astype(np.intp))
    memory = sorted(range(3), key=lambda s: -abs(array.strides[s]))  # source axes, slowest in memory first
    view, (first, second, third) = array.transpose(memory), [picks[s] for s in memory]
    levels = convert(view[first[:, None], second[None, :]].take(third, axis=2))  # in memory order: cache-friendly
    for position, s in enumerate(memory):
        if s in blends:
            below, above, weight = blends[s]
            shape = [1, 1, 1]
            shape[position] = -1
            weight = weight.reshape(shape)
            mixed = levels.take(below, axis=position).astype(np.uint16)
            mixed *= 256 - weight
            upper = levels.take(above, axis=position).astype(np.uint16)
            upper *= weight
            mixed += upper
            mixed += 128
            mixed >>= 8
            levels = mixed.astype(np.uint8)
    grid_axes = [follows[s] for s in memory]  # the grid axis of each axis of ``levels``
    levels = levels.transpose([grid_axes.index(axis) for axis in range(3)])
    if all(part.all() for part in inside):
        return levels, None
    return levels, ~(inside[0][:, None, None] & inside[1][None, :, None] & inside[2][None, None, :])


def _levels(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip(np.rint((values - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)


def _to_source(affine: np.ndarray, grid: Grid) -> np.ndarray:
    """Display voxel -> source voxel (4x4)."""
    return np.linalg.inv(affine) @ grid.affine


def _aligned_axes(to_source: np.ndarray, grid: Grid) -> list[int] | None:
    """For each source axis, the one grid axis it follows, when the source is axis-aligned with the grid."""
    linear = np.abs(to_source[:3, :3])
    follows = [int(np.argmax(row)) for row in linear]
    if sorted(follows) != [0, 1, 2]:
        return None
    for s, axis in enumerate(follows):
        drift = sum(linear[s, q] * (grid.shape[q] - 1) for q in range(3) if q != axis)
        if drift > ALIGNED_TOLERANCE_VOXELS:
            return None
    return follows


def _gather(array: np.ndarray, affine: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest source voxel of every grid voxel (the edge voxel beyond the array; possibly a transposed view) and
    the grid voxels outside the array (None when there are none)."""
    to_source = _to_source(affine, grid)
    follows = _aligned_axes(to_source, grid)
    if follows is None:
        return _oblique_sample(array, to_source, grid)
    return _aligned_sample(array, to_source, follows, grid, lambda values: values, blend=False)


def _oblique_sample(array: np.ndarray, to_source: np.ndarray, grid: Grid,
                    slab_voxels: int = 1 << 20) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest voxel of an array oblique to the grid, in slabs along grid axis 0: the rounded source coordinates
    become offsets into the array's memory, one flat gather per slab."""
    memory = array if array.flags.c_contiguous or array.flags.f_contiguous else np.ascontiguousarray(array)
    flat, steps = memory.ravel(order="K"), [stride // memory.itemsize for stride in memory.strides]
    rows, columns = grid.shape[1:]
    j, k = np.indices((rows, columns), dtype=np.float32)
    across = [np.float32(to_source[s, 1]) * j + np.float32(to_source[s, 2]) * k + np.float32(to_source[s, 3])
              for s in range(3)]  # the part of each source coordinate that does not change from slab to slab
    values, outside = np.empty(grid.shape, array.dtype), np.zeros(grid.shape, bool)
    per_slab = max(1, slab_voxels // (rows * columns))
    for start in range(0, grid.shape[0], per_slab):
        stop = min(grid.shape[0], start + per_slab)
        i = np.arange(start, stop, dtype=np.float32)[:, None, None]
        offset, beyond = np.zeros((stop - start, rows, columns), np.int64), outside[start:stop]
        for s in range(3):
            coordinate = np.rint(np.float32(to_source[s, 0]) * i + across[s])
            beyond |= (coordinate < 0) | (coordinate > array.shape[s] - 1)
            np.clip(coordinate, 0, array.shape[s] - 1, out=coordinate)
            offset += coordinate.astype(np.int64) * steps[s]
        values[start:stop] = flat.take(offset)
    return values, (outside if outside.any() else None)


def timed_display_volumes(study: Study, prepared: PreparedStudy, cam: np.ndarray | None,
                          tumour: TumourProbabilities | None = None) -> tuple[DisplayVolumes, float]:
    """``display_volumes`` and the seconds it took (the prediction's ``display`` timing)."""
    started = time.perf_counter()
    volumes = display_volumes(study, prepared, cam, tumour)
    return volumes, time.perf_counter() - started
