"""Brain volume after skull stripping (or of an already stripped study): plausible for an adult head?

Bounds: the mask is everything inside the brain's outline (parenchyma and the CSF within it), so it is compared
with adult intracranial volume rather than parenchyma alone. Adult brain parenchyma is about 950-1,800 ml and
intracranial volume about 1,100-1,950 ml (population studies of healthy adults, e.g. the UK Biobank and
Buckner et al. 2004, NeuroImage 23:724); on the synthetic cohort (a deformed MNI152 brain) the mask holds 1,729 to
2,186 ml (12 cases of seed 2000, on the bundled model's grid). Below LOW_ML or above HIGH_ML is a warning; under
NO_BRAIN_ML no brain was found: fail.
"""

from __future__ import annotations

import numpy as np

from core.preprocess.grid import Grid
from core.quality.result import QualityCheck

LOW_ML = 900.0
"""Below the smallest adult brains (parenchyma about 950 ml)."""
HIGH_ML = 2300.0
"""Above the largest adult intracranial volumes (about 1,950 ml) and the synthetic cohort's largest masks."""
NO_BRAIN_ML = 200.0
"""Less than this is no brain at all (a sixth of the smallest adult brain)."""


def brain_volume_ml(brain_mask: np.ndarray, grid: Grid) -> float:
    """The mask's volume in millilitres on its grid."""
    return float(brain_mask.sum()) * abs(float(np.linalg.det(grid.affine[:3, :3]))) / 1000.0


def brain_check(brain_mask: np.ndarray, grid: Grid, action: str) -> QualityCheck:
    """Pass inside the adult range, warn outside it, fail when (almost) no brain was found."""
    volume = brain_volume_ml(brain_mask, grid)
    how = f"({action})"
    if volume < NO_BRAIN_ML:
        return QualityCheck("brain", None, "fail", volume,
                            f"No brain was found: {volume:.0f} ml of brain {how}; expected a whole adult brain "
                            f"({LOW_ML:.0f}-{HIGH_ML:.0f} ml).")
    if volume < LOW_ML or volume > HIGH_ML:
        return QualityCheck("brain", None, "warn", volume,
                            f"The brain measures {volume:.0f} ml {how}, outside the adult range "
                            f"{LOW_ML:.0f}-{HIGH_ML:.0f} ml: check the field of view and the skull stripping.")
    return QualityCheck("brain", None, "pass", volume, f"The brain measures {volume:.0f} ml {how}.")
