"""Acquisition outside what the model was trained on: slices too far apart, or intensities on a CT-like scale.

- Slice step: the synthetic training cohort's series have 24-40 slices over 185-210 mm, steps of 4.6-8.8 mm (RSNA
  T1w series are about 6 mm apart, BraTS inputs 1-6.5 mm); a series whose largest voxel spacing exceeds MAX_STEP_MM
  is outside that range: fail.
- Intensity scale: MR magnitude images are never negative; a series with NEGATIVE_SHARE of its voxels below
  NEGATIVE_LIMIT (air at -1,000 on a Hounsfield scale) is not an MR image of the kind the model reads: fail.
Both are measured on the study as loaded (a strided subsample of the stored values, rescale applied).
"""

from __future__ import annotations

import numpy as np

from core.ingest.content import SUBSAMPLE_VOXELS
from core.ingest.study import Study
from core.quality.result import QualityCheck

MAX_STEP_MM = 9.0
NEGATIVE_LIMIT = -100.0
NEGATIVE_SHARE = 0.05


def negative_share(array: np.ndarray, rescale: tuple[float, float]) -> float:
    """Share of sampled voxels whose intensity (rescale applied) is below NEGATIVE_LIMIT."""
    stride = max(1, round((array.size / SUBSAMPLE_VOXELS) ** (1 / 3)))
    sample = np.asarray(array[::stride, ::stride, ::stride], np.float32) * rescale[0] + rescale[1]
    return float(np.mean(sample < NEGATIVE_LIMIT)) if sample.size else 0.0


def acquisition_checks(study: Study) -> list[QualityCheck]:
    """Per present series: the slice step check and the intensity scale check."""
    checks = []
    for name, volume in study.volumes.items():
        step = max(volume.spacing_mm)
        if step > MAX_STEP_MM:
            checks.append(QualityCheck("resolution", name, "fail", step,
                                       f"The {name} series has voxels {step:.1f} mm apart; expected at most "
                                       f"{MAX_STEP_MM:.0f} mm (the model was trained on steps up to 8.8 mm)."))
        else:
            checks.append(QualityCheck("resolution", name, "pass", step,
                                       f"The {name} series has voxels at most {step:.1f} mm apart."))
        share = negative_share(volume.array, volume.rescale)
        if share >= NEGATIVE_SHARE:
            checks.append(QualityCheck("intensity", name, "fail", share,
                                       f"{share:.0%} of the {name} series is below {NEGATIVE_LIMIT:.0f}, as on a CT "
                                       "(Hounsfield) scale; expected an MR magnitude image (never negative)."))
        else:
            checks.append(QualityCheck("intensity", name, "pass", share,
                                       f"The {name} series is on an MR scale ({share:.1%} of voxels negative)."))
    return checks
