"""Real brain anatomy for synthetic cases: the MNI152 2009 template and tissue maps shipped in nilearn,
deformed per case (a random affine within realistic head sizes plus a smooth elastic field)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

PAD_MM = 16.0
"""Margin added around the template so a scalp and skull fit on the grid."""


@dataclass(frozen=True)
class Anatomy:
    """Tissue maps of one head on its reference grid (RAS ``affine``), each in [0, 1]."""

    affine: np.ndarray
    grey: np.ndarray
    white: np.ndarray
    csf: np.ndarray
    brain: np.ndarray  # bool

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.brain.shape

    @property
    def spacing(self) -> float:
        return float(np.linalg.norm(self.affine[:3, 0]))


@lru_cache(maxsize=2)
def template(spacing_mm: float) -> Anatomy:
    """The MNI152 template's tissue maps, padded and resampled to ``spacing_mm`` (loaded once per process)."""
    from nilearn import datasets  # imported here: nilearn is slow to import and only synth needs it

    grey_img = datasets.load_mni152_gm_template(resolution=1)
    white = np.asarray(datasets.load_mni152_wm_template(resolution=1).dataobj, np.float32)
    grey = np.asarray(grey_img.dataobj, np.float32)
    brain = np.asarray(datasets.load_mni152_brain_mask(resolution=1).dataobj) > 0
    pad = int(PAD_MM)
    grey, white = (np.pad(a, pad) for a in (grey, white))
    brain = np.pad(brain, pad)
    affine = np.array(grey_img.affine, float)
    affine[:3, 3] -= pad * affine[:3, :3].sum(axis=1)
    if spacing_mm != 1.0:
        zoom = 1.0 / spacing_mm
        grey, white = (ndimage.zoom(a, zoom, order=1) for a in (grey, white))
        brain = ndimage.zoom(brain.astype(np.float32), zoom, order=1) > 0.5
        affine[:3, :3] *= spacing_mm
    csf = np.clip(brain - grey - white, 0.0, 1.0).astype(np.float32)
    return Anatomy(affine, grey, white, csf, brain)


def _cubic_basis(n: int, coarse: int) -> np.ndarray:
    """``n x coarse`` weights that upsample ``coarse`` control values to ``n`` samples (cubic spline)."""
    eye = np.eye(coarse)
    return np.stack([ndimage.zoom(eye[a], n / coarse, order=3, mode="nearest")[:n] for a in range(coarse)], axis=1)


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], amplitude: float, coarse: int = 5) -> np.ndarray:
    """A smooth random field (cubic spline through coarse noise), peak about ``amplitude``.

    Evaluated as a tensor product of 1D spline weights, which is ~50 times faster than zooming a volume.
    """
    field = rng.normal(0.0, 1.0, (coarse,) * len(shape))
    for n in shape:  # contract the first coarse axis each time; the new fine axis goes last
        field = np.tensordot(field, _cubic_basis(n, coarse), axes=([0], [1]))
    return (amplitude * field / max(np.abs(field).max(), 1e-6)).astype(np.float32)


def deformed(rng: np.random.Generator, spacing_mm: float) -> Anatomy:
    """The template under a random head-size affine and a smooth elastic displacement (a few mm)."""
    base = template(spacing_mm)
    shape = base.shape
    angles = np.radians(rng.uniform(-6, 6, 3))
    scale = rng.uniform(0.93, 1.07, 3)  # adult head sizes vary by about this much per axis
    rotation = _rotation(angles) @ np.diag(scale)
    centre = (np.asarray(shape) - 1) / 2.0
    offset = centre - rotation @ centre + rng.uniform(-3, 3, 3) / spacing_mm
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1)
    coords = rotation @ grid + offset[:, None]
    for axis in range(3):
        coords[axis] += smooth_field(rng, shape, 3.0 / spacing_mm).reshape(-1)
    warp = [ndimage.map_coordinates(a, coords, order=1, mode="constant").reshape(shape)
            for a in (base.grey, base.white, base.brain.astype(np.float32))]
    brain = warp[2] > 0.5
    grey, white = (np.where(brain, a, 0.0).astype(np.float32) for a in warp[:2])
    csf = np.clip(brain - grey - white, 0.0, 1.0).astype(np.float32)
    return Anatomy(base.affine, grey, white, csf, brain)


def _rotation(angles: np.ndarray) -> np.ndarray:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def head_layers(brain: np.ndarray, spacing_mm: float) -> dict[str, np.ndarray]:
    """Shells around the brain by distance: CSF (0-3 mm), skull (3-9 mm), scalp fat (9-15 mm)."""
    distance = ndimage.distance_transform_edt(~brain) * spacing_mm
    return {"csf_shell": (distance > 0) & (distance <= 3), "bone": (distance > 3) & (distance <= 9),
            "scalp": (distance > 9) & (distance <= 15)}
