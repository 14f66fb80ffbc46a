"""Sequence identity by content (a probable folder swap) and by description (one that contradicts the folder).

Measured inside the brain on the model grid, each series divided by its brain median (scanner scales differ):
- contrast: T1wCE is brighter than T1w where contrast enhances. The 99th percentile of log(T1wCE / T1w) minus the
  99th percentile of log(T1w / T1wCE) is positive when enhancement sits in T1wCE, negative when it sits in T1w.
- fluid: FLAIR suppresses the fluid that T2w shows bright. Over fluid (dark in T1w, or T1wCE when T1w is
  missing, and bright in FLAIR or T2w) log(FLAIR / T2w) is negative when the folders are right, positive when
  they are exchanged.
- duplicate: two series whose normalised brain voxels correlate at IDENTICAL_CORRELATION or more are one image
  stored twice (the model would be fed one sequence as two): fail; at DUPLICATE_CORRELATION or more they look
  like copies: a warning.
Every threshold here but IDENTICAL_CORRELATION was set on synthetic cases, so those checks warn (none abstains)
until real data confirms them. The ratios assume intensities whose zero means no signal (raw, rescaled or z-scored
over the whole volume, which ``core.preprocess`` takes relative to the background); a series z-scored over the
brain with background 0 has no such zero and can raise a false swap warning, while its probability is unchanged.
"""

from __future__ import annotations

import itertools

import numpy as np

from core.ingest.naming import sequence_from_description, sequence_from_folder
from core.ingest.study import Study
from core.quality.result import QualityCheck

CONTRAST_MARGIN = 0.1
"""Contrast asymmetry below minus this looks exchanged. Measured on val100 cases the right order gives +0.10 to
+0.38 (a brain without enhancement gives about 0: no evidence either way)."""
FLUID_MARGIN = 0.2
"""Fluid asymmetry above this looks exchanged; the right order gave -0.33 to -0.74 on 6 val100 cases (one +0.06: a
tumour filling the fluid voxels), the exchanged order the same values with the sign flipped."""
FLUID_T1_PERCENT = 20.0
"""Share of brain voxels darkest in T1 taken as fluid candidates (a judgement checked on synthetic cases)."""
FLUID_BRIGHT_PERCENT = 10.0
"""Share of brain voxels brightest in FLAIR or T2w taken as fluid candidates (as above)."""
IDENTICAL_CORRELATION = 0.999
"""One image stored twice (equal up to rounding or a linear rescale): no MR contrast reproduces another this
closely, so this is a definition rather than a threshold data could move: fail."""
DUPLICATE_CORRELATION = 0.98
"""Distinct MRI contrasts of one brain correlate far less than this (measured on the synthetic cohort only: a
warning)."""


def _relative(display: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Brain voxels of one series divided by their median (at least a tiny positive floor)."""
    values = display[mask].astype(np.float64)
    return np.maximum(values / max(float(np.median(values)), 1e-6), 1e-3)


def contrast_asymmetry(t1: np.ndarray, t1ce: np.ndarray) -> float:
    """p99 log(T1wCE/T1w) - p99 log(T1w/T1wCE), on brain voxels relative to their medians."""
    log_ratio = np.log(t1ce / t1)
    return float(np.percentile(log_ratio, 99) - np.percentile(-log_ratio, 99))


def fluid_asymmetry(flair: np.ndarray, t2: np.ndarray, t1: np.ndarray) -> float:
    """log(FLAIR / T2w) over fluid: voxels dark in T1 (the bottom FLUID_T1_PERCENT) and among the brightest
    FLUID_BRIGHT_PERCENT of max(FLAIR, T2w). Negative when FLAIR suppresses the fluid T2w shows bright."""
    brightest = np.maximum(flair, t2)
    fluid = (t1 <= np.percentile(t1, FLUID_T1_PERCENT)) & (brightest >= np.percentile(brightest,
                                                                                       100 - FLUID_BRIGHT_PERCENT))
    if fluid.sum() < 10:
        return 0.0
    return float(np.log(np.median(flair[fluid]) / np.median(t2[fluid])))


def identity_checks(study: Study, display: np.ndarray, brain_mask: np.ndarray,
                    sequences: tuple[str, ...]) -> list[QualityCheck]:
    """Swap checks for the pairs present, duplicate checks for every present pair, description checks."""
    checks = _description_checks(study)
    present = [name for name in sequences if name in study.volumes]
    if brain_mask.sum() < 100:
        return checks
    relative = {name: _relative(display[sequences.index(name)], brain_mask) for name in present}
    duplicates = _duplicate_checks(relative)
    checks += duplicates
    if any(c.check == "duplicate" and c.status != "pass" for c in duplicates):
        return checks  # swaps are meaningless between copies
    if {"T1w", "T1wCE"} <= set(relative):
        value = contrast_asymmetry(relative["T1w"], relative["T1wCE"])
        checks.append(_swap_check("contrast", "T1w", "T1wCE", value, -value > CONTRAST_MARGIN,
                                  "T1wCE is brighter than T1w where contrast enhances"))
    t1 = relative.get("T1w", relative.get("T1wCE"))
    if {"FLAIR", "T2w"} <= set(relative) and t1 is not None:
        value = fluid_asymmetry(relative["FLAIR"], relative["T2w"], t1)
        checks.append(_swap_check("fluid", "FLAIR", "T2w", value, value > FLUID_MARGIN,
                                  "FLAIR suppresses the fluid that T2w shows bright"))
    return checks


def _swap_check(check: str, first: str, second: str, value: float, swapped: bool, expected: str) -> QualityCheck:
    """Warn, naming both sequences, when the asymmetry points to an exchange."""
    if swapped:
        return QualityCheck(check, f"{first}/{second}", "warn", value,
                            f"The {first} and {second} series look exchanged (asymmetry {value:+.2f}); expected that "
                            f"{expected}. Check the folder names.")
    return QualityCheck(check, f"{first}/{second}", "pass", value,
                        f"The {first} and {second} series look the right way round (asymmetry {value:+.2f}).")


def _correlations(relative: dict[str, np.ndarray]) -> dict[tuple[str, str], float]:
    """The correlation of each pair of sequences over the brain; a pair with a constant sequence has none (it is
    undefined: numpy would give NaN) and is left out."""
    return {(first, second): float(np.corrcoef(relative[first], relative[second])[0, 1])
            for first, second in itertools.combinations(relative, 2)
            if _varies(relative[first]) and _varies(relative[second])}


def _varies(values: np.ndarray) -> bool:
    return values.size > 1 and float(np.ptp(values)) > 0


def _duplicate_checks(relative: dict[str, np.ndarray]) -> list[QualityCheck]:
    checks = []
    correlations = _correlations(relative)
    for (first, second), correlation in correlations.items():
        if correlation >= IDENTICAL_CORRELATION:
            checks.append(QualityCheck("duplicate", f"{first}/{second}", "fail", correlation,
                                       f"The {first} and {second} series are the same image (correlation "
                                       f"{correlation:.3f}); expected four different sequences."))
        elif correlation >= DUPLICATE_CORRELATION:
            checks.append(QualityCheck("duplicate", f"{first}/{second}", "warn", correlation,
                                       f"The {first} and {second} series look like the same image (correlation "
                                       f"{correlation:.3f}); expected four different sequences. Check the folders."))
    if not checks and correlations:
        highest = max(correlations.values())
        checks.append(QualityCheck("duplicate", None, "pass", highest,
                                   f"The series are distinct images (highest correlation {highest:.3f})."))
    return checks


def _description_checks(study: Study) -> list[QualityCheck]:
    """A SeriesDescription naming another sequence than the folder the series was recognised by."""
    checks = []
    for name, volume in study.volumes.items():
        text = volume.description
        described = sequence_from_folder(text) or sequence_from_description(text)  # RSNA: description = folder
        if volume.identified_by.startswith("folder name") and described and described != name:
            checks.append(QualityCheck("description", name, "warn", None,
                                       f"The series in the {name} folder is described as '{volume.description}', "
                                       f"which reads as {described}. Check which folder it belongs in."))
    return checks
