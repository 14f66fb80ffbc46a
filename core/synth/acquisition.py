"""How a scanner would acquire each sequence: its own plane, matrix, slices, bias field, noise and rescale."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.synth.contrast import SCANNER_SCALE

BASE_DIRECTIONS: dict[str, np.ndarray] = {
    "axial": np.column_stack([[-1, 0, 0], [0, -1, 0], [0, 0, 1]]).astype(float),
    "sagittal": np.column_stack([[0, -1, 0], [0, 0, -1], [1, 0, 0]]).astype(float),
    "coronal": np.column_stack([[-1, 0, 0], [0, 0, -1], [0, 1, 0]]).astype(float),
}
"""RAS directions of the array axes (along a row, down a column, across slices) per acquisition plane."""

RSNA_SLICES = {"FLAIR": 400, "T1w": 33, "T1wCE": 129, "T2w": 408}
"""Slice counts of RSNA-MICCAI case 00000, all 512 x 512."""

FIELD_OF_VIEW_MM = (220.0, 250.0)
"""Range of the square in-plane field of view; with the matrix it sets each series' pixel spacing."""
COVERAGE_MM = (185.0, 210.0)
"""Range of the extent covered across slices; with the slice count it sets the slice thickness."""
OBLIQUE_FRACTION = 0.25
OBLIQUE_TILT_DEGREES = (12.0, 30.0)
"""How far an oblique series' slice normal leans from its base plane's (over ingest's 10-degree threshold)."""


@dataclass(frozen=True)
class SeriesPlan:
    """Geometry and scanner settings of one series."""

    sequence: str
    plane: str  # axial, sagittal, coronal or oblique (tilted from base_plane)
    affine: np.ndarray
    shape: tuple[int, int, int]
    rescale: tuple[float, float]
    order: str
    noise: float


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation by ``degrees`` about the unit vector ``axis`` (Rodrigues)."""
    angle = np.radians(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def _tilt(rng: np.random.Generator, directions: np.ndarray) -> np.ndarray:
    """An oblique version of ``directions``: turned in plane by up to 10 degrees, then leant by 12-30."""
    normal = directions[:, 2] / np.linalg.norm(directions[:, 2])
    heading = rng.uniform(0, 2 * np.pi)
    lean_axis = np.cos(heading) * directions[:, 0] + np.sin(heading) * directions[:, 1]
    turn = _rotation(normal, rng.uniform(-10, 10))
    return _rotation(lean_axis, rng.uniform(*OBLIQUE_TILT_DEGREES)) @ turn @ directions


def plan_series(rng: np.random.Generator, sequence: str, size: str, centre: np.ndarray) -> SeriesPlan:
    """Draw a plane (a quarter of series oblique), matrix, field of view, slices, rescale and noise."""
    base_plane = str(rng.choice(list(BASE_DIRECTIONS)))
    directions = BASE_DIRECTIONS[base_plane].copy()
    directions[:, 2] *= rng.choice([-1.0, 1.0])  # slices may run either way along the normal
    plane = base_plane
    if rng.random() < OBLIQUE_FRACTION:
        directions = _tilt(rng, directions)
        plane = "oblique"
    if size == "rsna":
        matrix, slices = 512, RSNA_SLICES[sequence]
    else:
        matrix, slices = int(rng.choice([48, 64])), int(rng.integers(24, 41))
    field_of_view, coverage = rng.uniform(*FIELD_OF_VIEW_MM), rng.uniform(*COVERAGE_MM)
    spacing = np.array([field_of_view / matrix, field_of_view / matrix, coverage / slices])
    affine = np.eye(4)
    affine[:3, :3] = directions * spacing
    affine[:3, 3] = centre - affine[:3, :3] @ ((np.array([matrix, matrix, slices]) - 1) / 2.0)
    rescale = [(1.0, 0.0), (0.5, 0.0), (2.0, -100.0), (0.8, -50.0)][int(rng.integers(4))]
    order = str(rng.choice(["offset", "descending", "shuffled", "ascending"], p=[0.4, 0.2, 0.2, 0.2]))
    return SeriesPlan(sequence, plane, affine, (matrix, matrix, slices), rescale, order,
                      noise=float(rng.uniform(0.015, 0.04)))


def bias_field(rng: np.random.Generator, shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """A smooth multiplicative field (about 0.7-1.3 across a head), a quadratic polynomial of world position."""
    terms = rng.uniform(-0.12, 0.12, 6).astype(np.float32)
    axes = [np.arange(n, dtype=np.float32).reshape([-1 if a == b else 1 for b in range(3)]) for a, n in
            enumerate(shape)]
    field = np.ones(shape, np.float32)
    for row in range(3):  # world coordinate ``row`` in decimetres, broadcast from the three index axes
        world = (affine[row, 0] * axes[0] + affine[row, 1] * axes[1] + affine[row, 2] * axes[2]
                 + affine[row, 3]).astype(np.float32) / 100.0
        field += terms[row] * world + terms[3 + row] * (world * world - 0.5)
    return field


def head_box(image: np.ndarray) -> tuple[slice, slice, slice]:
    """The smallest box holding every non-zero voxel of ``image``, with one voxel of zeros all round."""
    nonzero = image != 0
    box = []
    for axis in range(3):
        present = np.flatnonzero(nonzero.any(axis=tuple(a for a in range(3) if a != axis)))
        low, high = (present[0], present[-1]) if len(present) else (0, 0)
        box.append(slice(max(int(low) - 1, 0), int(high) + 2))
    return tuple(box)


def acquire(
    rng: np.random.Generator, image: np.ndarray, reference_affine: np.ndarray, plan: SeriesPlan, chunk: int = 16
) -> np.ndarray:
    """Sample the reference-grid ``image`` on the series grid (trilinear), with a bias field and Rician noise.

    Returns a ``[i, j, k]`` view of a slice-major array, so each slice written to DICOM is contiguous.
    """
    # Sampling only the head's bounding box is exact (zeros all round) and several times faster: points outside
    # it are cheap for map_coordinates, and the cropped volume stays in cache.
    box = head_box(image)
    box_affine = reference_affine.copy()
    box_affine[:3, 3] += reference_affine[:3, :3] @ [side.start for side in box]
    cropped = image[box]
    biased = cropped * bias_field(rng, cropped.shape, box_affine)
    to_reference = (np.linalg.inv(box_affine) @ plan.affine)[:3].astype(np.float32)
    columns, rows, slices = plan.shape
    i = np.arange(columns, dtype=np.float32)[None, None, :]
    j = np.arange(rows, dtype=np.float32)[None, :, None]

    def sample(first: int) -> np.ndarray:
        k = np.arange(first, min(first + chunk, slices), dtype=np.float32)[:, None, None]
        coords = np.empty((3, len(k), rows, columns), np.float32)
        for axis, m in enumerate(to_reference):
            np.add(m[0] * i + m[1] * j, m[2] * k + m[3], out=coords[axis])
        return ndimage.map_coordinates(biased, coords, output=np.float32, order=1, mode="constant", cval=0.0)

    sigma = np.float32(plan.noise * SCANNER_SCALE)
    out = np.empty((slices, rows, columns), np.float32)
    with ThreadPoolExecutor(max_workers=1) as sampler:  # sampling overlaps the noise draws (both drop the GIL)
        pending = sampler.submit(sample, 0)
        for first in range(0, slices, chunk):
            upcoming = sampler.submit(sample, first + chunk) if first + chunk < slices else None
            shape = (min(chunk, slices - first), rows, columns)
            real = sigma * rng.standard_normal(shape, dtype=np.float32)
            imaginary = sigma * rng.standard_normal(shape, dtype=np.float32)
            real += pending.result()
            np.hypot(real, imaginary, out=out[first:first + shape[0]])
            pending = upcoming
    return out.transpose(2, 1, 0)
