"""Field of view: the brain (mask on the model grid) must lie inside every series along every axis.

Brain voxels' world coordinates are mapped into each series' voxel space through its affine; a voxel counts
as covered when it falls within the series' array (half a voxel of margin at each end)."""

from __future__ import annotations

import numpy as np

from core.ingest.study import Study
from core.preprocess.grid import Grid
from core.quality.result import QualityCheck

COVERED_FRACTION = 0.9
"""A series covering less than this share of the brain is a warning (a judgement: real RSNA series with partial
coverage, such as thin T1w slabs, are common; the model was trained on synthetic series that cover the brain)."""
SAMPLE_STRIDE = 2
"""Every second brain voxel along each axis is mapped (an eighth of them; the fraction barely moves)."""


def covered_fraction(brain_mask: np.ndarray, grid: Grid, affine: np.ndarray, shape: tuple[int, int, int]
                     ) -> tuple[float, np.ndarray]:
    """Share of brain voxels inside a series of ``shape`` and ``affine``, and per series axis the share outside."""
    sampled = np.zeros_like(brain_mask)
    sampled[::SAMPLE_STRIDE, ::SAMPLE_STRIDE, ::SAMPLE_STRIDE] = True
    voxels = np.argwhere(brain_mask & sampled).astype(np.float64)
    if len(voxels) == 0:
        return 0.0, np.zeros(3)
    to_series = np.linalg.inv(affine) @ grid.affine
    ijk = voxels @ to_series[:3, :3].T + to_series[:3, 3]
    inside_axis = (ijk >= -0.5) & (ijk <= np.asarray(shape) - 0.5)
    return float(inside_axis.all(axis=1).mean()), 1.0 - inside_axis.mean(axis=0)


def coverage_checks(study: Study, brain_mask: np.ndarray, grid: Grid) -> list[QualityCheck]:
    """One check per present series: pass at 90% of the brain or more, else a warning naming the share covered."""
    checks = []
    for name, volume in study.volumes.items():
        fraction, outside = covered_fraction(brain_mask, grid, volume.affine, volume.shape)
        if fraction >= COVERED_FRACTION:
            checks.append(QualityCheck("coverage", name, "pass", fraction,
                                       f"The {name} series covers {fraction:.0%} of the brain."))
            continue
        axis = int(np.argmax(outside))
        checks.append(QualityCheck(
            "coverage", name, "warn", fraction,
            f"The {name} series covers only {fraction:.0%} of the brain (cut off along its array axis {'ijk'[axis]}, "
            f"{outside[axis]:.0%} of the brain outside); expected at least {COVERED_FRACTION:.0%}."))
    return checks
