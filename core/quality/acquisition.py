"""Acquisition outside what the model was trained on: slices too far apart, or intensities on a CT-like scale.

- Slice step: the synthetic training cohort's series have 24-40 slices over 185-210 mm, steps of 4.6-8.8 mm (RSNA
  T1w series are about 6 mm apart, BraTS inputs 1-6.5 mm); a series whose largest voxel spacing exceeds MAX_STEP_MM
  is outside that range. Set on synthetic cases only, so it warns (the OOD gate still abstains on a study unlike
  the training data) until real data shows where the model breaks down.
- Intensity scale: MR magnitude images are never negative (MR physics); a series with NEGATIVE_SHARE of its voxels
  below NEGATIVE_LIMIT (air at -1,000 on a Hounsfield scale) may be a CT. It warns: an MR series stored z-scored
  or with an offset is negative too, and the model z-scores each sequence over the brain, so its answer does not
  depend on the stored scale.
Both are measured on the study as loaded (a strided subsample of the stored values, rescale applied).
"""

from __future__ import annotations

import numpy as np

from core.ingest.content import SUBSAMPLE_VOXELS
from core.ingest.study import Study
from core.quality.result import QualityCheck

MAX_STEP_MM = 9.0
"""Just above the synthetic training cohort's largest step (8.8 mm); set on synthetic cases: a warning."""
NEGATIVE_LIMIT = -100.0
"""Below any MR magnitude (MR physics) and far above CT air (-1,000 HU)."""
NEGATIVE_SHARE = 0.05
"""Air fills well over this share of a head CT's field of view; a judgement, not measured on real CTs."""


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
            checks.append(QualityCheck("resolution", name, "warn", step,
                                       f"The {name} series has voxels {step:.1f} mm apart; expected at most "
                                       f"{MAX_STEP_MM:.0f} mm (the model was trained on steps up to 8.8 mm), so "
                                       "treat the prediction with extra caution."))
        else:
            checks.append(QualityCheck("resolution", name, "pass", step,
                                       f"The {name} series has voxels at most {step:.1f} mm apart."))
        share = negative_share(volume.array, volume.rescale)
        if share >= NEGATIVE_SHARE:
            checks.append(QualityCheck("intensity", name, "warn", share,
                                       f"{share:.0%} of the {name} series is below {NEGATIVE_LIMIT:.0f}, as on a CT "
                                       "(Hounsfield) scale or an MR series stored with an offset; expected an MR "
                                       "image. Check that it is one."))
        else:
            checks.append(QualityCheck("intensity", name, "pass", share,
                                       f"The {name} series is on an MR scale ({share:.1%} of voxels negative)."))
    return checks
